// Package catalog runs a real Backstage backend, backstage/dev/backend.js
// (the catalog, the events plugin, and backstage/'s two packages: the
// Knative Event Mesh provider and the events ingress for the function's
// announcements; SQLite in memory or a PostgreSQL), for the end-to-end
// tests of the provider and for `make run-backstage`.
package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/knative-eventmesh/function/tests/child"
	"github.com/knative-eventmesh/function/tests/functest"
	"github.com/knative-eventmesh/function/tests/npm"
	"sigs.k8s.io/yaml"
)

// Topic is the events topic the module listens on by default; the
// ingress takes POSTs at /api/events/http/<Topic>.
const Topic = "knative-eventmesh"

// StitchIntervalMs is catalog.stitchingStrategy.pollingInterval, in
// milliseconds, of every backend started here.
const StitchIntervalMs = 100

// Provider is one entry of catalog.providers.knativeEventMesh.
type Provider struct {
	BaseURL string
	Token   string
	// APIType is its apiType; empty leaves it out (eventType).
	APIType string
}

// Options configures a backend.
type Options struct {
	// Providers by id.
	Providers map[string]Provider
	// Clusters routes announcement subjects to provider ids; nil refreshes
	// every provider on every announcement.
	Clusters map[string][]string
	// Secret is events.modules.knativeEventMesh.secret: the ingress then takes
	// only POSTs with it in the X-Eventmesh-Secret header.
	Secret string
	// Postgres is the database; nil keeps the catalog in SQLite, in memory.
	Postgres *Postgres
	// NotifyTimeout is events.notifyTimeoutMs: how long the events bus
	// holds a subscriber's long-poll, and so at most how long it holds
	// the backend's shutdown. Zero keeps Backstage's default (55 s).
	NotifyTimeout time.Duration
	// LocalEvents sets events.useEventBus to never: events stay in the
	// process that received them, and no long-poll holds the shutdown.
	LocalEvents bool
	// Published runs the published provider 1.21.0 instead of ours.
	Published bool
	// Port to listen on, on 127.0.0.1; 0 picks a free one.
	Port int
	// Entities are extra catalog entities (YAML documents) the catalog
	// reads from a file location, e.g. components that consume EventTypes.
	Entities string
	// Logs receives the backend's output.
	Logs io.Writer
}

// Backend is a running Backstage backend.
type Backend struct {
	// URL is the backend's base URL.
	URL string
	// Token is a static token the catalog API accepts
	// (backend.auth.externalAccess).
	Token string

	proc *child.Process
	dir  string
}

// Dir returns the absolute path of backstage/.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "backstage")
}

// Install installs backstage/ with npm ci (see package npm), builds it
// (npm run build: tsc) and returns how long the install took: zero when
// node_modules was already up to date.
func Install(ctx context.Context) (time.Duration, error) {
	took, err := npm.CI(ctx, Dir(), "--no-audit", "--no-fund")
	if err != nil {
		return took, fmt.Errorf("installing the Backstage backend of backstage/: %w", err)
	}
	build := exec.CommandContext(ctx, "npm", "run", "build")
	build.Dir = Dir()
	if out, err := build.CombinedOutput(); err != nil {
		return took, fmt.Errorf("npm run build in %s: %w\n%s", Dir(), err, out)
	}
	return took, nil
}

// FreePort returns a free TCP port of 127.0.0.1, for a backend whose
// address must be known before it starts (the function's K_SINK).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// IngressURL is where the function's K_SINK points: the events HTTP
// ingress of the backend at port.
func IngressURL(port int) string {
	return fmt.Sprintf("http://127.0.0.1:%d/api/events/http/%s", port, Topic)
}

// Start writes an app-config.yaml for opts, starts the backend with it and
// waits until the catalog answers. The backend is killed if this process
// dies; call Stop.
func Start(ctx context.Context, opts Options) (*Backend, error) {
	if opts.Port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		opts.Port = p
	}
	dir, err := os.MkdirTemp("", "eventmesh-backstage-")
	if err != nil {
		return nil, err
	}
	b := &Backend{URL: fmt.Sprintf("http://127.0.0.1:%d", opts.Port), Token: randomToken(), dir: dir}
	configPath, err := b.writeConfig(opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command("node", "dev/backend.js", "--config", configPath)
	cmd.Dir = Dir()
	cmd.Env = append(os.Environ(), "NODE_ENV=production")
	if opts.Published {
		cmd.Env = append(cmd.Env, "EVENTMESH_PROVIDER=published")
	}
	out := opts.Logs
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	if b.proc, err = child.Start(cmd); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting the Backstage backend (node dev/backend.js in %s): %w", Dir(), err)
	}
	if err := b.waitReady(ctx, 2*time.Minute); err != nil {
		_, _ = b.Stop(5 * time.Second)
		return nil, err
	}
	return b, nil
}

// writeConfig writes the backend's app-config.yaml, readable by this user
// only: it holds the providers' tokens.
func (b *Backend) writeConfig(opts Options) (string, error) {
	providers := map[string]any{}
	for id, p := range opts.Providers {
		schedule := map[string]any{"frequency": map[string]any{"minutes": 60}, "timeout": map[string]any{"minutes": 1}}
		provider := map[string]any{"baseUrl": p.BaseURL, "token": p.Token, "schedule": schedule}
		if p.APIType != "" {
			provider["apiType"] = p.APIType
		}
		if !opts.Published {
			// Ours reads the token from a file, as in a Pod.
			path := filepath.Join(b.dir, "token-"+id)
			if err := os.WriteFile(path, []byte(p.Token+"\n"), 0o600); err != nil {
				return "", err
			}
			delete(provider, "token")
			provider["tokenFile"] = path
		}
		providers[id] = provider
	}
	catalog := map[string]any{
		"providers": map[string]any{"knativeEventMesh": providers},
		// Backstage stitches a processed entity into the one its API serves
		// in a loop that polls every second by default: about 0.4 s of a new
		// entity's way into the catalog, on two replicas. backstage/README.md
		// advises 100 ms for a catalog within a second.
		"stitchingStrategy": map[string]any{"pollingInterval": map[string]any{"milliseconds": StitchIntervalMs}},
	}
	if opts.Entities != "" {
		path := filepath.Join(b.dir, "entities.yaml")
		if err := os.WriteFile(path, []byte(opts.Entities), 0o600); err != nil {
			return "", err
		}
		catalog["locations"] = []any{map[string]any{"type": "file", "target": path, "rules": []any{map[string]any{"allow": []string{"Component"}}}}}
	}
	announcements := map[string]any{"topic": Topic}
	if opts.Clusters != nil {
		announcements["clusters"] = opts.Clusters
	}
	if opts.Secret != "" {
		announcements["secret"] = opts.Secret
	}
	events := map[string]any{}
	if opts.Published {
		// 1.21.0 has no events module: the ingress comes from the config.
		events["http"] = map[string]any{"topics": []string{Topic}}
	}
	if opts.NotifyTimeout > 0 {
		events["notifyTimeoutMs"] = opts.NotifyTimeout.Milliseconds()
	}
	if opts.LocalEvents {
		events["useEventBus"] = "never"
	}
	if !opts.Published {
		events["modules"] = map[string]any{"knativeEventMesh": announcements}
	}
	database := map[string]any{"client": "better-sqlite3", "connection": ":memory:"}
	if opts.Postgres != nil {
		database = map[string]any{"client": "pg", "connection": map[string]any{
			"host": "127.0.0.1", "port": opts.Postgres.Port, "user": opts.Postgres.User, "password": "unused",
		}}
	}
	config := map[string]any{
		"backend": map[string]any{
			"baseUrl":  b.URL,
			"listen":   map[string]any{"host": "127.0.0.1", "port": opts.Port},
			"database": database,
			"auth": map[string]any{"externalAccess": []any{map[string]any{
				"type": "static", "options": map[string]any{"token": b.Token, "subject": "eventmesh-tests"},
			}}},
		},
		"events":  events,
		"catalog": catalog,
	}
	data, err := yaml.Marshal(config)
	if err != nil {
		return "", err
	}
	path := filepath.Join(b.dir, "app-config.yaml")
	return path, os.WriteFile(path, data, 0o600)
}

// waitReady waits until the catalog API answers 200.
func (b *Backend) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-b.proc.Done():
			return fmt.Errorf("the Backstage backend exited before it was ready (see its logs)")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if status, _, err := b.get(ctx, "/api/catalog/entities?limit=1"); err == nil && status == http.StatusOK {
			return nil
		}
	}
	return fmt.Errorf("the Backstage backend at %s did not answer within %s", b.URL, timeout)
}

// Stop sends SIGTERM and waits up to grace for the backend to exit, then
// kills it. It returns how long the backend took to exit after SIGTERM, and
// an error if it had to be killed.
func (b *Backend) Stop(grace time.Duration) (time.Duration, error) {
	defer os.RemoveAll(b.dir)
	took, err := b.proc.Stop(grace)
	if err != nil {
		return took, fmt.Errorf("the Backstage backend: %w", err)
	}
	return took, nil
}

// Pid is the backend's process id.
func (b *Backend) Pid() int { return b.proc.Pid() }

// Entity is the part of a catalog entity the tests look at.
type Entity struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		ConsumedBy  []string          `json:"consumedBy"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Relations []struct {
		Type      string `json:"type"`
		TargetRef string `json:"targetRef"`
	} `json:"relations"`
}

// HasRelation reports whether the entity has a relation of type typ to
// targetRef (kind:namespace/name, lower case).
func (e *Entity) HasRelation(typ, targetRef string) bool {
	for _, r := range e.Relations {
		if r.Type == typ && r.TargetRef == targetRef {
			return true
		}
	}
	return false
}

// Entity returns the entity kind:namespace/name, or nil when the catalog
// has none.
func (b *Backend) Entity(ctx context.Context, kind, namespace, name string) (*Entity, error) {
	path := fmt.Sprintf("/api/catalog/entities/by-name/%s/%s/%s", url.PathEscape(kind), url.PathEscape(namespace), url.PathEscape(name))
	status, body, err := b.get(ctx, path)
	if err != nil {
		return nil, err
	}
	switch status {
	case http.StatusOK:
		var e Entity
		if err := json.Unmarshal(body, &e); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", path, err)
		}
		return &e, nil
	case http.StatusNotFound:
		return nil, nil
	default:
		return nil, fmt.Errorf("GET %s: %d %.300s", path, status, body)
	}
}

// get sends GET path with the backend's static token.
func (b *Backend) get(ctx context.Context, path string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return functest.GetContext(ctx, b.URL+path, b.Token)
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
