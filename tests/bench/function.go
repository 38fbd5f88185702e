package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	function "github.com/knative-eventmesh/function"
	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/tests/benchmesh"
	"github.com/knative-eventmesh/function/tests/child"
)

// meshPath is where the Backstage provider reads the mesh: the whole
// cluster, which holds exactly the seeded objects.
const meshPath = "/v1/getEventMesh"

// asyncAPIPath is where the function serves the same mesh as AsyncAPI.
const asyncAPIPath = "/v1/asyncapi"

// buildFunction builds tests/cmd/function into dir and returns its path.
func buildFunction(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "function")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/knative-eventmesh/function/tests/cmd/function")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the function: %w\n%s", err, out)
	}
	return bin, nil
}

// process is the function running as a process of its own.
type process struct {
	*child.Process
	url    string
	client *http.Client
}

// startProcess execs the function binary with its own kubeconfig, serving
// on a free loopback port, with env added to its environment; its output
// is appended to logPath.
func startProcess(bin, kubeconfig, logPath string, pageSize int64, env ...string) (*process, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the function's log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "LISTEN_ADDRESS="+addr, "KUBECONFIG="+kubeconfig,
		"MESH_PAGE_SIZE="+strconv.FormatInt(pageSize, 10), "LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	proc, err := child.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("starting the function: %w", err)
	}
	return &process{Process: proc, url: "http://" + addr, client: newHTTPClient()}, nil
}

// newHTTPClient returns a client that asks for gzip, as Backstage's fetch
// does, but does not unzip: the function's work is what is timed.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: time.Minute}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls GET /health/readiness every millisecond until it answers
// 200.
func (p *process) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		status, _, err := p.get(ctx, "/health/readiness", "")
		if err == nil && status == http.StatusOK {
			return nil
		}
		select {
		case <-p.Done():
			return errors.New("the function exited before it was ready (see its log)")
		case <-ctx.Done():
			return fmt.Errorf("waiting for the function to be ready: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(time.Millisecond):
		}
	}
}

// get sends GET path with the token and reads the body; it returns the
// status and the number of bytes read.
func (p *process) get(ctx context.Context, path, token string) (int, int64, error) {
	return p.getEncoded(ctx, path, token, "gzip")
}

// getEncoded is get, asking for encoding ("": none).
func (p *process) getEncoded(ctx context.Context, path, token, encoding string) (int, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path, nil)
	if err != nil {
		return 0, 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept-Encoding", encoding)
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, n, err
}

// buildMesh gets the mesh and returns how long it took, to the last byte.
func (p *process) buildMesh(ctx context.Context, token string) (time.Duration, error) {
	return p.build(ctx, meshPath, token)
}

// build gets the document at path and returns how long it took, to the
// last byte.
func (p *process) build(ctx context.Context, path, token string) (time.Duration, error) {
	start := time.Now()
	status, _, err := p.get(ctx, path, token)
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("GET %s: status %d (see the function's log)", path, status)
	}
	return d, nil
}

// peakRSS returns the process's peak resident set size (VmHWM), in bytes.
func (p *process) peakRSS() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		return 0, fmt.Errorf("reading the function's memory: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing VmHWM %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status: %v", p.Pid(), s.Err())
}

// stop ends the process: SIGTERM, then SIGKILL after five seconds.
func (p *process) stop() {
	_, _ = p.Stop(5 * time.Second)
}

// inProcess is the function in the benchmark's own process, called through
// its Handle method, so that its allocations can be counted.
type inProcess struct {
	f *function.Function
}

func startInProcess(ctx context.Context, kubeconfig string, pageSize int64) (*inProcess, error) {
	f := function.New(function.WithLogOutput(io.Discard))
	env := map[string]string{"KUBECONFIG": kubeconfig, "MESH_PAGE_SIZE": strconv.FormatInt(pageSize, 10), "LOG_LEVEL": "warn"}
	if err := f.Start(ctx, env); err != nil {
		return nil, fmt.Errorf("starting the function in process: %w", err)
	}
	return &inProcess{f: f}, nil
}

// sample is one in-process build.
type sample struct {
	d      time.Duration
	bytes  uint64 // allocated
	allocs uint64
}

// build serves one gzipped mesh request and measures it.
func (p *inProcess) build(ctx context.Context, token string) (sample, error) {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, meshPath, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept-Encoding", "gzip")
	w := &discardWriter{header: http.Header{}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	p.f.Handle(w, req)
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	if w.status != http.StatusOK {
		return sample{}, fmt.Errorf("in-process GET %s: status %d", meshPath, w.status)
	}
	return sample{d: d, bytes: after.TotalAlloc - before.TotalAlloc, allocs: after.Mallocs - before.Mallocs}, nil
}

// mesh gets and decodes the mesh.
func (p *inProcess) mesh(ctx context.Context, token string) (*mesh.Mesh, error) {
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, meshPath, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	p.f.Handle(rec, req)
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("in-process GET %s: status %d: %s", meshPath, rec.Code, rec.Body.Bytes())
	}
	var body io.Reader = rec.Body
	if rec.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
		if err != nil {
			return nil, fmt.Errorf("gunzipping the mesh: %w", err)
		}
		body = zr
	}
	var m mesh.Mesh
	if err := json.NewDecoder(body).Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding the mesh: %w", err)
	}
	return &m, nil
}

// discardWriter is a ResponseWriter that only counts.
type discardWriter struct {
	header http.Header
	status int
	n      int64
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += int64(len(p))
	return len(p), nil
}

// checkMesh checks that the mesh holds exactly the seeded objects of
// units units.
func checkMesh(m *mesh.Mesh, units int) error {
	consumers := 0
	for _, et := range m.EventTypes {
		consumers += len(et.ConsumedBy)
	}
	want := [3]int{units * benchmesh.EventTypesPerUnit, units, units * benchmesh.ConsumersPerUnit()}
	got := [3]int{len(m.EventTypes), len(m.Brokers), consumers}
	if got != want {
		return fmt.Errorf("the mesh holds %d EventTypes, %d Brokers and %d consumedBy entries; want %d, %d and %d",
			got[0], got[1], got[2], want[0], want[1], want[2])
	}
	return nil
}
