package functest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/knative-eventmesh/function/tests/child"
)

// Process is the function running as a process of its own, built from
// tests/cmd/function: the main func's scaffolding generates.
type Process struct {
	URL  string
	Logs *Logs
	proc *child.Process
}

var build struct {
	once sync.Once
	bin  string
	err  error
}

// binary builds tests/cmd/function once per test binary.
func binary() (string, error) {
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "eventmesh-function-")
		if err != nil {
			build.err = err
			return
		}
		build.bin = filepath.Join(dir, "function")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", build.bin, "./cmd/function")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("building the function: %v\n%s", err, out)
		}
	})
	return build.bin, build.err
}

// StartProcess starts the function as a process with env added to the
// environment, waits until it is ready, and kills it when the test ends.
func StartProcess(tb testing.TB, env map[string]string) *Process {
	tb.Helper()
	bin, err := binary()
	if err != nil {
		tb.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := &Process{URL: "http://" + addr, Logs: &Logs{}}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "LISTEN_ADDRESS="+addr)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = p.Logs, p.Logs
	if p.proc, err = child.Start(cmd); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("function process logs:\n%s", p.Logs)
		}
	})
	if err := p.waitReady(30 * time.Second); err != nil {
		tb.Fatalf("%v\nlogs:\n%s", err, p.Logs)
	}
	return p
}

func (p *Process) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.proc.Done():
			return fmt.Errorf("the function exited before it was ready")
		default:
		}
		if resp, err := http.Get(p.URL + "/health/readiness"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("the function was not ready in %s", timeout)
}

// Kill kills the process at once (SIGKILL), as a node failure or an
// eviction past its grace period would.
func (p *Process) Kill() {
	p.proc.Kill()
}

// PeakRSS returns the process's peak resident memory (VmHWM), in bytes.
func (p *Process) PeakRSS() (int64, error) { return p.status("VmHWM") }

// RSS returns the process's resident memory now (VmRSS), in bytes.
func (p *Process) RSS() (int64, error) { return p.status("VmRSS") }

// status returns a memory field of /proc/<pid>/status, in bytes.
func (p *Process) status(field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.proc.Pid()))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, p.proc.Pid())
}

// Get sends a GET like Function.Get.
func (p *Process) Get(tb testing.TB, path, token string, header ...string) *Response {
	tb.Helper()
	return (&Function{URL: p.URL}).Get(tb, path, token, header...)
}

// GetContext sends a GET with ctx and returns the status, or an error.
func GetContext(ctx context.Context, url, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// Notify POSTs a change notification to the function at url, as the
// PingSource of rbac/push.yaml does.
func Notify(url string) error {
	c, err := cloudevents.NewClientHTTP()
	if err != nil {
		return err
	}
	ev := cloudevents.NewEvent()
	ev.SetID(fmt.Sprintf("resync-%d", time.Now().UnixNano()))
	ev.SetType("dev.knative.sources.ping")
	ev.SetSource("/apis/v1/namespaces/knative-eventing/pingsources/eventmesh-resync")
	if res := c.Send(cloudevents.ContextWithTarget(context.Background(), url), ev); !cloudevents.IsACK(res) {
		return fmt.Errorf("notifying the function at %s: %w", url, res)
	}
	return nil
}
