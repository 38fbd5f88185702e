package faults

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// proxy forwards TCP connections to the API server, and can refuse them
// (the API server is down) or slow every answer down.
type proxy struct {
	upstream string
	addr     string
	l        net.Listener // nil while down

	mu    sync.Mutex
	delay time.Duration
	conns map[net.Conn]bool // open connections, both sides
}

func startProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{upstream: upstream, addr: l.Addr().String(), conns: map[net.Conn]bool{}}
	go p.serve(l)
	t.Cleanup(func() { p.setDown(t, true) })
	return p
}

// Addr is the address the function should use as its API server.
func (p *proxy) Addr() string { return p.addr }

func (p *proxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *proxy) forward(client net.Conn) {
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		client.Close()
		return
	}
	p.track(client, server)
	defer p.untrack(client, server)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(server, client); server.Close(); done <- struct{}{} }()
	go func() { p.copySlowly(client, server); client.Close(); done <- struct{}{} }()
	<-done
	<-done
}

// copySlowly copies the API server's answers, waiting the current delay
// before each chunk.
func (p *proxy) copySlowly(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			d := p.delay
			p.mu.Unlock()
			time.Sleep(d)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = true
	}
}

func (p *proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

// setDown makes the API server unreachable (true), as a stopped API
// server is: its port is closed, so new connections are refused, and open
// connections are cut. setDown(false) opens the port again.
func (p *proxy) setDown(t *testing.T, down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !down {
		if p.l == nil {
			l, err := net.Listen("tcp", p.addr)
			if err != nil {
				t.Fatalf("reopening %s: %v", p.addr, err)
			}
			p.l = l
			go p.serve(l)
		}
		return
	}
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) setDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// open returns the number of client connections open through the proxy.
func (p *proxy) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}
