// Package function is the Knative Event Mesh function: a Knative Function
// that shows a cluster's Knative Eventing mesh to Backstage.
//
// GET /v1/getEventMesh builds the mesh on demand with the caller's own
// ServiceAccount token, in the JSON the Backstage Knative Event Mesh
// provider reads; GET /namespaces/{ns}/v1/getEventMesh builds the mesh of
// some namespaces only. GET /v1/asyncapi serves the same mesh as an
// AsyncAPI 3.0.0 document.
package function

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzhttp"

	"github.com/knative-eventmesh/function/announce"
	"github.com/knative-eventmesh/function/coalesce"
	"github.com/knative-eventmesh/function/filter"
	"github.com/knative-eventmesh/function/intake"
	"github.com/knative-eventmesh/function/kubeclient"
	"github.com/knative-eventmesh/function/respond"
)

// Function serves the event mesh. func's scaffolding makes one with New
// and calls Start before it serves.
type Function struct {
	logOut  io.Writer
	started chan struct{}
	once    sync.Once

	// Set by Start, before started is closed.
	log      *slog.Logger
	settings Settings
	clients  *kubeclient.Factory
	startErr error

	builds  coalesce.Group[*built]
	handler http.Handler
	// filters compiles Trigger filters for every build, keeping CESQL
	// expressions compiled from one build to the next.
	filters *filter.Compiler
	// slots bounds the builds under way at once; set by Start.
	slots *buildSlots

	// Push, when K_SINK is set.
	push     *announce.Announcer
	intake   *intake.Guard
	stopPush context.CancelFunc
	pushDone chan struct{}
}

// Option configures a Function.
type Option func(*Function)

// WithLogOutput sends the function's logs to w instead of standard error.
func WithLogOutput(w io.Writer) Option {
	return func(f *Function) { f.logOut = w }
}

// New returns a Function. func's scaffolding calls it with no options.
func New(opts ...Option) *Function {
	f := &Function{logOut: os.Stderr, started: make(chan struct{}), filters: filter.NewCompiler(0)}
	for _, o := range opts {
		o(f)
	}
	f.log = slog.New(slog.NewJSONHandler(f.logOut, nil))
	// The mesh is gzipped in its build slot (see build); zstd, which the
	// gzip handler would otherwise prefer, would compress it again outside.
	compress, err := gzhttp.NewWrapper(gzhttp.EnableZstd(false))
	if err != nil {
		f.log.Error("responses are sent uncompressed", "error", err.Error())
		compress = func(h http.Handler) http.HandlerFunc { return h.ServeHTTP }
	}
	f.handler = compress(http.HandlerFunc(f.route))
	return f
}

// Start reads the configuration: the function's own Kubernetes
// configuration (in-cluster, else KUBECONFIG) and its settings. It does no
// I/O beyond reading those files, so a function scaled to zero answers its
// first request quickly.
func (f *Function) Start(ctx context.Context, env map[string]string) error {
	err := errors.New("function started twice")
	f.once.Do(func() {
		err = f.start(env)
		if err != nil {
			f.log.Error("function failed to start: every request gets 503 until it is fixed", "error", err.Error())
		}
		f.startErr = err
		close(f.started)
	})
	return err
}

func (f *Function) start(env map[string]string) error {
	s, err := readSettings(env)
	if err != nil {
		return err
	}
	if s.MaxBuilds == 0 {
		s.MaxBuilds = defaultMaxBuilds(memoryLimit(memoryLimitFiles))
	}
	goLimit := setGoMemoryLimit(env, memoryLimitFiles)
	f.settings = s
	f.slots = newBuildSlots(s.MaxBuilds, s.Timeout/2)
	f.log = slog.New(slog.NewJSONHandler(f.logOut, &slog.HandlerOptions{Level: s.LogLevel}))
	routeClientGoLog(f.log)
	base, namespace, err := kubeclient.Load(env)
	if err != nil {
		return err
	}
	f.clients, err = kubeclient.NewFactory(base)
	if err != nil {
		return err
	}
	if err := f.startPush(namespace, env); err != nil {
		return fmt.Errorf("starting push: %w", err)
	}
	f.log.Info("function started", "apiServer", base.Host, "timeout", s.Timeout.String(), "pageSize", s.PageSize, "maxBuilds", s.MaxBuilds, "goMemoryLimit", goLimit)
	return nil
}

// Stop is called when the function shuts down. It stops push, waiting
// for an announcement under way as long as ctx allows.
func (f *Function) Stop(ctx context.Context) error {
	f.log.Info("function stopping")
	if f.stopPush == nil {
		return nil
	}
	f.stopPush()
	select {
	case <-f.pushDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping push: %w", ctx.Err())
	}
}

// Ready reports whether Start has completed successfully.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	select {
	case <-f.started:
		return f.startErr == nil, f.startErr
	default:
		return false, nil
	}
}

// Alive reports that the function is alive.
func (f *Function) Alive(ctx context.Context) (bool, error) { return true, nil }

// meshPath is the path the Backstage provider appends to its baseUrl.
const meshPath = "/v1/getEventMesh"

// Handle serves a request, gzipped when the caller accepts it.
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) {
	f.handler.ServeHTTP(w, r)
}

// route routes a request: the mesh of the cluster, the mesh of some
// namespaces, and a JSON 404 for anything else.
func (f *Function) route(w http.ResponseWriter, r *http.Request) {
	select {
	case <-f.started:
	case <-r.Context().Done():
		return
	}
	if f.startErr != nil {
		// The cause names files and settings of the deployment: it is
		// for the operator's log, not for whoever calls.
		respond.Error(w, http.StatusServiceUnavailable, "the function failed to start: its log says why")
		return
	}
	// Route on the path as sent: an encoded slash (%2F) is not a slash.
	path := r.URL.EscapedPath()
	switch {
	case path == "/" && r.Method == http.MethodPost:
		f.serveEvent(w, r)
	case path == "/":
		w.Header().Set("Allow", http.MethodPost)
		respond.Error(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on /: POST a CloudEvent there; the event mesh is at GET "+meshPath)
	case path == meshPath:
		f.serveMesh(w, r, nil, meshView)
	case path == asyncAPIPath:
		f.serveAsyncAPI(w, r, nil)
	case strings.HasPrefix(path, "/namespaces/") && strings.HasSuffix(path, meshPath):
		if nss, ok := namespacesIn(w, path, meshPath); ok {
			f.serveMesh(w, r, nss, meshView)
		}
	case strings.HasPrefix(path, "/namespaces/") && strings.HasSuffix(path, asyncAPIPath):
		if nss, ok := namespacesIn(w, path, asyncAPIPath); ok {
			f.serveAsyncAPI(w, r, nss)
		}
	default:
		respond.Error(w, http.StatusNotFound, "no such path: the event mesh is at GET "+meshPath+" (or GET /namespaces/{namespace}"+meshPath+
			"), as AsyncAPI at GET "+asyncAPIPath+"; CloudEvents go to POST /")
	}
}

// namespacesIn returns the namespaces of a path
// /namespaces/{ns}[,{ns}...]{suffix}. It answers 400 and returns false when
// they are bad.
func namespacesIn(w http.ResponseWriter, path, suffix string) ([]string, bool) {
	nss, err := parseNamespaces(strings.TrimSuffix(strings.TrimPrefix(path, "/namespaces/"), suffix), suffix)
	if err != nil {
		respond.Error(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	return nss, true
}
