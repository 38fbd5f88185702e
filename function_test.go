package function

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	fhttp "knative.dev/func-go/http"

	"github.com/knative-eventmesh/function/announce"
	"github.com/knative-eventmesh/function/intake"
)

// The Function has the shape func-go's scaffolding expects.
var (
	_ fhttp.Handler           = (*Function)(nil)
	_ fhttp.Starter           = (*Function)(nil)
	_ fhttp.Stopper           = (*Function)(nil)
	_ fhttp.ReadinessReporter = (*Function)(nil)
	_ fhttp.LivenessReporter  = (*Function)(nil)
)

func TestParseNamespaces(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "shop", want: []string{"shop"}},
		{in: "b,a,b", want: []string{"a", "b"}},
		{in: "", wantErr: true},
		{in: "a,,b", wantErr: true},
		{in: "Shop", wantErr: true},
		{in: "a/b", wantErr: true},
		{in: "a b", wantErr: true},
		{in: strings.Repeat("a", 64), wantErr: true},
		{in: strings.TrimSuffix(strings.Repeat("n,", 101), ","), want: []string{"n"}},
	}
	for _, tt := range tests {
		got, err := parseNamespaces(tt.in, meshPath)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("parseNamespaces(%.30q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	var many []string
	for i := range maxNamespaces + 1 {
		many = append(many, "n"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+strings.Repeat("y", i/26))
	}
	if _, err := parseNamespaces(strings.Join(many, ","), meshPath); err == nil {
		t.Errorf("%d namespaces accepted, want at most %d", len(many), maxNamespaces)
	}
	if got, err := parseNamespaces(strings.Join(many[:maxNamespaces], ","), meshPath); err != nil || len(got) != maxNamespaces {
		t.Errorf("%d namespaces: %d, error %v; want them all", maxNamespaces, len(got), err)
	}
}

// TestDocumentedDefaults checks the defaults against the values the
// README's settings table and func.yaml give.
func TestDocumentedDefaults(t *testing.T) {
	s, err := readSettings(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"MESH_TIMEOUT", s.Timeout, 20 * time.Second},
		{"MESH_PAGE_SIZE", s.PageSize, int64(2000)},
		{"PUSH_DEBOUNCE", s.Push.Debounce, time.Second},
		{"PUSH_CLAIM_TTL", s.Push.ClaimTTL, 30 * time.Second},
		{"PUSH_STATE_CONFIGMAP", s.Push.StateConfigMap, "eventmesh-state"},
		{"PUSH_INDEX_MAX_BYTES", s.Push.MaxIndexBytes, 786432},
		{"PUSH_TOKEN_FILE", s.Push.TokenFile, "/oidc/token"},
		{"INTAKE_SOURCES", s.Push.Intake.Sources, "apiserversource/eventmesh-changes,pingsource/eventmesh-resync"},
	} {
		if c.got != c.want {
			t.Errorf("%s defaults to %v, documented as %v", c.name, c.got, c.want)
		}
	}
}

func TestReadSettings(t *testing.T) {
	push := PushSettings{Debounce: DefaultDebounce, ClaimTTL: DefaultClaimTTL, StateConfigMap: DefaultStateCM, MaxIndexBytes: announce.DefaultMaxIndexBytes, TokenFile: DefaultTokenFile,
		Intake: IntakeSettings{Sources: intake.DefaultSources}}
	tests := []struct {
		env     map[string]string
		want    Settings
		wantErr bool
	}{
		{env: nil, want: Settings{Timeout: DefaultTimeout, PageSize: DefaultPageSize, LogLevel: slog.LevelInfo, Push: push}},
		{env: map[string]string{"MESH_TIMEOUT": "5s", "MESH_PAGE_SIZE": "500", "LOG_LEVEL": "debug", "MESH_MAX_BUILDS": "3"},
			want: Settings{Timeout: 5 * time.Second, PageSize: 500, LogLevel: slog.LevelDebug, MaxBuilds: 3, Push: push}},
		{env: map[string]string{"K_SINK": "http://broker.example.com/ns/default", "CLUSTER_NAME": "prod", "PUSH_DEBOUNCE": "500ms",
			"PUSH_CLAIM_TTL": "10s", "PUSH_STATE_NAMESPACE": "ops", "PUSH_STATE_CONFIGMAP": "state", "MESH_URL": "https://mesh.example.com/",
			"PUSH_INDEX_MAX_BYTES": "1000", "PUSH_SECRET": "s3cret", "PUSH_TOKEN_FILE": "/var/run/backstage/token", "K_CA_CERTS": "PEM",
			"INTAKE_AUDIENCE": "eventmesh", "INTAKE_SOURCES": "ops/pingsource/tick", "INTAKE_SUBJECTS": "system:serviceaccount:ops:notifier"},
			want: Settings{Timeout: DefaultTimeout, PageSize: DefaultPageSize, LogLevel: slog.LevelInfo, Push: PushSettings{
				Sink: "http://broker.example.com/ns/default", ClusterName: "prod", Debounce: 500 * time.Millisecond, ClaimTTL: 10 * time.Second,
				StateNamespace: "ops", StateConfigMap: "state", MeshURL: "https://mesh.example.com", MaxIndexBytes: 1000, Secret: "s3cret",
				TokenFile: "/var/run/backstage/token", CACerts: "PEM", Intake: IntakeSettings{Audience: "eventmesh", Sources: "ops/pingsource/tick",
					Subjects: "system:serviceaccount:ops:notifier"}}}},
		{env: map[string]string{"INTAKE_SOURCES": "broker/default"}, wantErr: true},
		{env: map[string]string{"K_SINK": "not a url"}, wantErr: true},
		{env: map[string]string{"K_SINK": "ftp://x"}, wantErr: true},
		{env: map[string]string{"PUSH_DEBOUNCE": "0s"}, wantErr: true},
		{env: map[string]string{"PUSH_CLAIM_TTL": "1ms"}, wantErr: true},
		{env: map[string]string{"PUSH_INDEX_MAX_BYTES": "0"}, wantErr: true},
		{env: map[string]string{"PUSH_INDEX_MAX_BYTES": "2000000"}, wantErr: true},
		{env: map[string]string{"PUSH_INDEX_MAX_BYTES": "1MiB"}, wantErr: true},
		{env: map[string]string{"MESH_TIMEOUT": "30s"}, wantErr: true},
		{env: map[string]string{"MESH_TIMEOUT": "-1s"}, wantErr: true},
		{env: map[string]string{"MESH_TIMEOUT": "soon"}, wantErr: true},
		{env: map[string]string{"MESH_PAGE_SIZE": "0"}, wantErr: true},
		{env: map[string]string{"MESH_PAGE_SIZE": "many"}, wantErr: true},
		{env: map[string]string{"LOG_LEVEL": "loud"}, wantErr: true},
		{env: map[string]string{"MESH_MAX_BUILDS": "0"}, wantErr: true},
		{env: map[string]string{"MESH_MAX_BUILDS": "some"}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := readSettings(tt.env)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("readSettings(%v) = %+v, %v; want %+v, error %v", tt.env, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNotReadyUntilStarted(t *testing.T) {
	f := New(WithLogOutput(&strings.Builder{}))
	if ready, _ := f.Ready(context.Background()); ready {
		t.Error("ready before Start")
	}
	// A request before Start waits for it, and gives up with its caller.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	w := httptest.NewRecorder()
	f.Handle(w, httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/getEventMesh", nil))
	if w.Body.Len() != 0 {
		t.Errorf("answered before Start: %d %s", w.Code, w.Body)
	}
}

// TestStartFailure checks that a function that failed to start logs why
// in full and answers callers a plain 503 without the cause.
func TestStartFailure(t *testing.T) {
	var logs strings.Builder
	f := New(WithLogOutput(&logs))
	err := f.Start(context.Background(), map[string]string{"MESH_TIMEOUT": "forever"})
	if err == nil || !strings.Contains(err.Error(), "MESH_TIMEOUT") {
		t.Fatalf("Start error %v, want one naming MESH_TIMEOUT", err)
	}
	if ready, _ := f.Ready(context.Background()); ready {
		t.Error("ready after a failed Start")
	}
	if !strings.Contains(logs.String(), `MESH_TIMEOUT=\"forever\"`) {
		t.Errorf("the log does not say why the function failed to start:\n%s", logs.String())
	}
	w := httptest.NewRecorder()
	f.Handle(w, httptest.NewRequest(http.MethodGet, "/v1/getEventMesh", nil))
	if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "forever") {
		t.Errorf("after a failed Start: %d %s; want 503 without the cause, which is for the log", w.Code, w.Body)
	}
}

func TestRootAllowsOnlyPOST(t *testing.T) {
	f := New(WithLogOutput(io.Discard))
	if err := f.Start(context.Background(), map[string]string{"KUBECONFIG": writeKubeconfig(t)}); err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		w := httptest.NewRecorder()
		f.Handle(w, httptest.NewRequest(method, "/", nil))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != http.MethodPost {
			t.Errorf("%s /: %d, Allow %q; want 405, Allow POST", method, w.Code, w.Header().Get("Allow"))
		}
	}
}

// writeKubeconfig writes a kubeconfig for an API server that is not there.
func writeKubeconfig(t *testing.T) string {
	t.Helper()
	return writeKubeconfigFor(t, "https://127.0.0.1:1")
}

// writeKubeconfigFor writes a kubeconfig for the API server at server,
// with no credentials and the namespace ns.
func writeKubeconfigFor(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kubeconfig := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "` + server + `"}}]
users: [{name: u, user: {}}]
contexts: [{name: c, context: {cluster: c, user: u, namespace: ns}}]
current-context: c
`
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestStartRefusesInsecure checks that a configuration that skips TLS
// verification stops the start: callers' tokens would go over it.
func TestStartRefusesInsecure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {}}]
contexts: [{name: c, context: {cluster: c, user: u, namespace: ns}}]
current-context: c
`
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	f := New(WithLogOutput(io.Discard))
	if err := f.Start(context.Background(), map[string]string{"KUBECONFIG": path}); err == nil || !strings.Contains(err.Error(), "insecure-skip-tls-verify") {
		t.Errorf("Start error %v, want one naming insecure-skip-tls-verify", err)
	}
}

// TestStartWithPush checks that Start turns push on when K_SINK is set.
func TestStartWithPush(t *testing.T) {
	var logs strings.Builder
	f := New(WithLogOutput(&logs))
	if err := f.Start(context.Background(), map[string]string{"KUBECONFIG": writeKubeconfig(t), "K_SINK": "http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = f.Stop(ctx)
	}()
	if !strings.Contains(logs.String(), `"msg":"push is on"`) {
		t.Errorf("push is not on with K_SINK set:\n%s", logs.String())
	}
}
