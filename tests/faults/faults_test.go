// Package faults tests the function when the API server fails: down in
// the middle of requests, or too slow to answer, through a TCP proxy in
// front of a real API server.
package faults

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/functest"
)

var (
	testCluster *cluster.Cluster
	readerToken string
)

func TestMain(m *testing.M) {
	cluster.Main(m, cluster.Options{}, func(c *cluster.Cluster) error {
		testCluster = c
		var err error
		readerToken, err = c.InstallDemo(context.Background(), filepath.Join("..", "..", "rbac"))
		return err
	})
}

// throughProxy starts a proxy to the API server and a function that
// reaches the API server through it.
func throughProxy(t *testing.T, env ...string) (*proxy, *functest.Function) {
	t.Helper()
	cfg := testCluster.Config()
	u, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, u.Host)
	cfg.Host = "https://" + p.Addr()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := testCluster.WriteKubeconfig(kubeconfig, cfg); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{"KUBECONFIG": kubeconfig}
	for i := 0; i+1 < len(env); i += 2 {
		m[env[i]] = env[i+1]
	}
	return p, functest.Start(t, m)
}

// settledGoroutines waits until the number of goroutines stops falling
// and is at most limit, and returns it.
func settledGoroutines(t *testing.T, limit int) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	n := runtime.NumGoroutine()
	for n > limit && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// stableGoroutines returns the number of goroutines once it has not
// changed for 300ms (at most 5s).
func stableGoroutines() int {
	deadline := time.Now().Add(5 * time.Second)
	n, since := runtime.NumGoroutine(), time.Now()
	for time.Since(since) < 300*time.Millisecond && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if m := runtime.NumGoroutine(); m != n {
			n, since = m, time.Now()
		}
	}
	return n
}

// slack is how many more goroutines than before may remain after faults:
// the HTTP transports' connection goroutines come and go.
const slack = 15

func TestAPIServerDown(t *testing.T) {
	p, fn := throughProxy(t, "MESH_TIMEOUT", "5s")
	if r := fn.Get(t, "/v1/getEventMesh", readerToken); r.Status != http.StatusOK {
		t.Fatalf("before: %d %s", r.Status, r.Body)
	}
	before := stableGoroutines()

	p.setDown(t, true)
	for range 10 {
		start := time.Now()
		r := fn.Get(t, "/v1/getEventMesh", readerToken)
		if took := time.Since(start); r.Status != http.StatusServiceUnavailable || took > 5*time.Second {
			t.Fatalf("API server down: %d after %s, want 503 within the 5s deadline: %s", r.Status, took, r.Body)
		}
	}
	// Down in the middle of requests: cut every connection while the
	// requests are under way.
	p.setDown(t, false)
	p.setDelay(200 * time.Millisecond)
	results := make(chan int, 10)
	for range 10 {
		go func() {
			status, _, err := functest.GetContext(context.Background(), fn.URL+"/v1/getEventMesh", readerToken)
			if err != nil {
				status = 0
			}
			results <- status
		}()
	}
	time.Sleep(100 * time.Millisecond)
	p.setDown(t, true)
	for range 10 {
		if s := <-results; s != http.StatusServiceUnavailable && s != http.StatusOK {
			t.Errorf("cut mid-request: status %d, want 503 (or 200 if it finished first)", s)
		}
	}

	p.setDown(t, false)
	p.setDelay(0)
	if r := fn.Get(t, "/v1/getEventMesh", readerToken); r.Status != http.StatusOK {
		t.Fatalf("after the API server came back: %d %s", r.Status, r.Body)
	}
	if n := settledGoroutines(t, before+slack); n > before+slack {
		t.Errorf("%d goroutines after the faults, %d before: a leak\n%s", n, before, goroutines())
	}
	if n := p.open(); n > 2 {
		t.Errorf("%d connections to the API server stay open: a leak", n)
	}
}

func TestAPIServerSlow(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		p, fn := throughProxy(t, "MESH_TIMEOUT", "1s")
		p.setDelay(3 * time.Second)
		start := time.Now()
		r := fn.Get(t, "/v1/getEventMesh", readerToken)
		took := time.Since(start)
		if r.Status != http.StatusGatewayTimeout || took < time.Second || took > 2500*time.Millisecond {
			t.Errorf("slow API server: %d after %s, want 504 at the 1s deadline: %s", r.Status, took, r.Body)
		}
	})
	t.Run("caller gone", func(t *testing.T) {
		p, fn := throughProxy(t, "MESH_TIMEOUT", "25s")
		if r := fn.Get(t, "/v1/getEventMesh", readerToken); r.Status != http.StatusOK {
			t.Fatalf("before: %d", r.Status)
		}
		// The API server answers after 3s: a build that went on after its
		// caller left would then make its next requests (subscribers, the
		// objects of the kinds discovered).
		p.setDelay(3 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if _, _, err := functest.GetContext(ctx, fn.URL+"/v1/getEventMesh", readerToken); err == nil {
			t.Fatal("the request finished; the caller should have given up first")
		}
		waitForLog(t, fn, "mesh request canceled by the caller")
		atCancel := readerRequests(t)
		time.Sleep(4 * time.Second)
		if after := readerRequests(t); after != atCancel {
			t.Errorf("%g API requests with the caller's token after it left: the build went on", after-atCancel)
		}
		p.setDelay(0)
	})
}

// goroutines returns the stacks of all goroutines, grouped.
func goroutines() string {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	return b.String()
}

func waitForLog(t *testing.T, fn *functest.Function, msg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(fn.Logs.String(), msg) {
		if time.Now().After(deadline) {
			t.Fatalf("the function did not log %q", msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBuildSlots checks the bound on concurrent builds: with one slot, a
// caller with another token waits for it as long as it may (half of
// MESH_TIMEOUT), then gets 503 with Retry-After; once the slot is free,
// it is served.
func TestBuildSlots(t *testing.T) {
	p, fn := throughProxy(t, "MESH_TIMEOUT", "2s", "MESH_MAX_BUILDS", "1")
	other, err := testCluster.Token(context.Background(), "knative-eventing", "eventmesh-reader", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The API server answers after the 2s deadline: the first build holds
	// the slot until it gives up, longer than the 1s the other may wait.
	p.setDelay(3 * time.Second)
	responses := make(chan *functest.Response, 2)
	for i, tok := range []string{readerToken, other} {
		go func() {
			time.Sleep(time.Duration(i) * 200 * time.Millisecond)
			responses <- fn.Get(t, "/v1/getEventMesh", tok)
		}()
	}
	statuses := map[int]int{}
	for range 2 {
		r := <-responses
		statuses[r.Status]++
		if r.Status == http.StatusServiceUnavailable && r.Header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After: %s", r.Body)
		}
		if r.Status == http.StatusServiceUnavailable && !strings.Contains(string(r.Body), "MESH_MAX_BUILDS") {
			t.Errorf("503 that does not say why: %s", r.Body)
		}
	}
	if statuses[http.StatusGatewayTimeout] != 1 || statuses[http.StatusServiceUnavailable] != 1 {
		t.Errorf("two tokens at once with one build slot: %v, want one 504 (the build past its deadline) and one 503", statuses)
	}
	p.setDelay(0)
	if r := fn.Get(t, "/v1/getEventMesh", other); r.Status != http.StatusOK {
		t.Errorf("once the slot is free: %d %s", r.Status, r.Body)
	}
}
