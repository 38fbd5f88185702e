package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
)

// wire is a TCP proxy to the API server that counts the bytes the API
// server sends through it: what a client behind it reads off the wire,
// TLS and HTTP framing included.
type wire struct {
	ln     net.Listener
	target string
	read   atomic.Int64
	wg     sync.WaitGroup
}

// newWire starts a proxy on a loopback port to host, an https:// URL.
func newWire(host string) (*wire, error) {
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("parsing the API server's address: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the byte-counting proxy: %w", err)
	}
	w := &wire{ln: ln, target: u.Host}
	w.wg.Go(w.serve)
	return w, nil
}

// URL returns the proxy's address, to use instead of the API server's.
func (w *wire) URL() string { return "https://" + w.ln.Addr().String() }

// bytesRead returns the bytes the API server has sent so far.
func (w *wire) bytesRead() int64 { return w.read.Load() }

func (w *wire) serve() {
	for {
		c, err := w.ln.Accept()
		if err != nil {
			return
		}
		w.wg.Go(func() { w.pipe(c) })
	}
}

// pipe copies one connection both ways until either side closes it.
func (w *wire) pipe(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", w.target)
	if err != nil {
		return
	}
	defer s.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(s, c)
		_ = s.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(countingWriter{c, &w.read}, s)
	_ = c.(*net.TCPConn).CloseWrite()
	<-done
}

// close stops the proxy; connections under way end with their clients.
func (w *wire) close() error {
	err := w.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
