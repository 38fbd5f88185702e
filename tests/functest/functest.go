// Package functest serves the function under test in-process, behind
// func-go's own HTTP service (the same routes, health checks and timeouts
// that `func build` wires up), and calls it the way Backstage does.
package functest

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	fhttp "knative.dev/func-go/http"

	function "github.com/knative-eventmesh/function"
)

// Function is a started function.
type Function struct {
	// URL is the base URL the function is served at.
	URL string
	// Logs holds everything the function logged.
	Logs *Logs
	// F is the function itself.
	F *function.Function

	srv    *httptest.Server
	client *http.Client
}

// newClient returns the HTTP client tests call the function with. It does
// not ask for gzip itself, so that Content-Encoding stays visible to tests.
func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: time.Minute}
}

// Start starts a function with env as its environment (KUBECONFIG and the
// settings) and stops it when the test ends.
func Start(tb testing.TB, env map[string]string) *Function {
	tb.Helper()
	logs := &Logs{}
	f := function.New(function.WithLogOutput(logs))
	svc := fhttp.New(f)
	srv := httptest.NewUnstartedServer(svc.Handler)
	srv.Config.ReadTimeout = svc.ReadTimeout
	srv.Config.WriteTimeout = svc.WriteTimeout
	srv.Config.IdleTimeout = svc.IdleTimeout
	srv.Config.ReadHeaderTimeout = svc.ReadHeaderTimeout
	srv.Config.MaxHeaderBytes = svc.MaxHeaderBytes
	srv.Start()
	client := newClient()
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("function logs:\n%s", logs)
		}
		client.CloseIdleConnections()
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = f.Stop(ctx)
	})
	if err := f.Start(context.Background(), env); err != nil {
		tb.Fatalf("starting the function: %v\nlogs:\n%s", err, logs)
	}
	return &Function{URL: srv.URL, Logs: logs, F: f, srv: srv, client: client}
}

// Response is an answer of the function.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Get sends GET url+path with token as a Bearer token ("" sends no
// Authorization header) and extra headers, and reads the answer, gunzipped
// if it was gzipped.
func (f *Function) Get(tb testing.TB, path, token string, header ...string) *Response {
	tb.Helper()
	return f.Do(tb, http.MethodGet, path, token, header...)
}

// Do sends a request like Get with any method.
func (f *Function) Do(tb testing.TB, method, path, token string, header ...string) *Response {
	tb.Helper()
	req, err := http.NewRequest(method, f.URL+path, nil)
	if err != nil {
		tb.Fatalf("building request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	client := f.client
	if client == nil {
		client = newClient()
		defer client.CloseIdleConnections()
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			tb.Fatalf("%s %s: gunzip: %v", method, path, err)
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		tb.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Logs is a buffer safe for concurrent writes.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
