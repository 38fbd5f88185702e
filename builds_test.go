package function

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/knative-eventmesh/function/kubeclient"
	"github.com/knative-eventmesh/function/mesh"
)

func TestDefaultMaxBuilds(t *testing.T) {
	tests := []struct {
		limit int64
		want  int
	}{
		{0, unlimitedBuilds},
		{32 << 20, 1},
		{64 << 20, 1},
		{128 << 20, 2},
		{384 << 20, 7},
		{1 << 30, 20},
	}
	for _, tt := range tests {
		if got := defaultMaxBuilds(tt.limit); got != tt.want {
			t.Errorf("defaultMaxBuilds(%d MiB) = %d, want %d", tt.limit>>20, got, tt.want)
		}
	}
}

func TestMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name  string
		files []string
		want  int64
	}{
		{"v2 limit", []string{file("v2", "536870912\n")}, 512 << 20},
		{"v2 no limit", []string{file("v2max", "max\n")}, 0},
		{"v1 no limit", []string{missing, file("v1", "9223372036854771712\n")}, 0},
		{"v1 limit", []string{missing, file("v1limit", "268435456")}, 256 << 20},
		{"none", []string{missing}, 0},
		{"garbage", []string{file("bad", "lots")}, 0},
		{"2^60 counts as no limit", []string{file("huge", "1152921504606846976")}, 0},
		{"just under 2^60", []string{file("large", "1152921504606846975")}, 1<<60 - 1},
	}
	for _, tt := range tests {
		if got := memoryLimit(tt.files); got != tt.want {
			t.Errorf("%s: memoryLimit = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestBuildSlots(t *testing.T) {
	s := newBuildSlots(1, 20*time.Millisecond)
	release, err := s.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.acquire(context.Background()); !errors.Is(err, errBusy) {
		t.Errorf("a second build while the only slot is taken: %v, want errBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("a caller that left: %v, want context.Canceled", err)
	}
	release()
	release, err = s.acquire(context.Background())
	if err != nil {
		t.Errorf("the slot was not given back: %v", err)
	} else {
		release()
	}
}

func TestGoMemoryLimit(t *testing.T) {
	for _, tt := range []struct{ limit, want int64 }{
		{0, math.MaxInt64},
		{-1, math.MaxInt64},
		{384 << 20, 384<<20 - (384<<20)/10},
		{1000, 900},
	} {
		if got := goMemoryLimit(tt.limit); got != tt.want {
			t.Errorf("goMemoryLimit(%d) = %d, want %d", tt.limit, got, tt.want)
		}
	}
}

// TestSetGoMemoryLimit checks that the Go runtime gets 90 % of the
// cgroup's limit, unless GOMEMLIMIT is set or there is no limit.
func TestSetGoMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	dir := t.TempDir()
	limited := filepath.Join(dir, "memory.max")
	if err := os.WriteFile(limited, []byte("402653184\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unlimited := filepath.Join(dir, "max")
	if err := os.WriteFile(unlimited, []byte("max\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := int64(402653184 - 40265318)
	if got := setGoMemoryLimit(map[string]string{}, []string{limited}); got != want || debug.SetMemoryLimit(-1) != want {
		t.Errorf("set %d, runtime has %d; want %d", got, debug.SetMemoryLimit(-1), want)
	}
	debug.SetMemoryLimit(before)
	if got := setGoMemoryLimit(map[string]string{"GOMEMLIMIT": "100MiB"}, []string{limited}); got != 0 || debug.SetMemoryLimit(-1) != before {
		t.Errorf("with GOMEMLIMIT set: set %d, runtime has %d; want it left alone", got, debug.SetMemoryLimit(-1))
	}
	if got := setGoMemoryLimit(map[string]string{}, []string{unlimited}); got != 0 || debug.SetMemoryLimit(-1) != before {
		t.Errorf("without a limit: set %d, runtime has %d; want it left alone", got, debug.SetMemoryLimit(-1))
	}
}

// emptyCluster answers like an API server without Eventing: no API groups,
// empty lists, and no ConfigMaps.
func emptyCluster(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/apis":
		_, _ = io.WriteString(w, `{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`)
	case strings.Contains(r.URL.Path, "/configmaps/"):
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
	default:
		_, _ = io.WriteString(w, `{"kind":"List","apiVersion":"v1","metadata":{},"items":[]}`)
	}
}

// TestBuildHoldsItsSlot checks that a mesh build keeps its slot while the
// mesh is encoded and gzipped (what meshOf passes it to), and gives it back
// afterwards.
func TestBuildHoldsItsSlot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(emptyCluster))
	defer srv.Close()
	factory, err := kubeclient.NewFactory(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	clients, err := factory.ForToken("reader")
	if err != nil {
		t.Fatal(err)
	}
	f := New(WithLogOutput(io.Discard))
	f.log = slog.New(slog.DiscardHandler)
	f.settings = Settings{Timeout: 30 * time.Second, PageSize: 100}
	f.slots = newBuildSlots(1, 10*time.Millisecond)
	ctx := context.Background()
	called := false
	err = f.meshOf(ctx, clients, nil, false, func(*mesh.Mesh, []string) error {
		called = true
		release, err := f.slots.acquire(ctx)
		if err == nil {
			release()
		}
		if !errors.Is(err, errBusy) {
			t.Errorf("while the mesh is encoded, another build got %v, want errBusy: the slot was given back too soon", err)
		}
		return nil
	})
	if err != nil || !called {
		t.Fatalf("meshOf: %v, encoding called: %v", err, called)
	}
	release, err := f.slots.acquire(ctx)
	if err != nil {
		t.Fatalf("after the build: %v, want its slot given back", err)
	}
	release()
}

// TestBusyAnswers503 checks the answer to a caller that waited for a
// build slot in vain: 503, with a Retry-After of half the wait.
func TestBusyAnswers503(t *testing.T) {
	f := New(WithLogOutput(io.Discard))
	if err := f.Start(context.Background(), map[string]string{"KUBECONFIG": writeKubeconfig(t)}); err != nil {
		t.Fatal(err)
	}
	f.slots = newBuildSlots(1, 2*time.Second)
	release, err := f.slots.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/v1/getEventMesh", nil)
	r.Header.Set("Authorization", "Bearer reader")
	f.Handle(w, r)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Errorf("with every slot taken: %d, Retry-After %q; want 503, 1 (half the 2 s wait)", w.Code, w.Header().Get("Retry-After"))
	}
	if !strings.Contains(w.Body.String(), "MESH_MAX_BUILDS") {
		t.Errorf("the error does not name MESH_MAX_BUILDS: %s", w.Body)
	}
}

// TestRetryAfterPassedOn checks that a caller is told to wait as long as
// an overloaded API server asked (in its Status, without the header that
// makes client-go retry by itself), and only when it asked.
func TestRetryAfterPassedOn(t *testing.T) {
	for _, tt := range []struct {
		name, details, want string
	}{
		{"asked to wait", `,"details":{"retryAfterSeconds":3}`, "3"},
		{"not asked", ``, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/brokers") {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusTooManyRequests)
					_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"TooManyRequests","code":429`+tt.details+`}`)
					return
				}
				emptyCluster(w, r)
			}))
			defer srv.Close()
			f := New(WithLogOutput(io.Discard))
			if err := f.Start(context.Background(), map[string]string{"KUBECONFIG": writeKubeconfigFor(t, srv.URL)}); err != nil {
				t.Fatal(err)
			}
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/v1/getEventMesh", nil)
			r.Header.Set("Authorization", "Bearer reader")
			f.Handle(w, r)
			if w.Code < 500 || w.Header().Get("Retry-After") != tt.want {
				t.Errorf("status %d, Retry-After %q; want a 5xx, Retry-After %q", w.Code, w.Header().Get("Retry-After"), tt.want)
			}
		})
	}
}
