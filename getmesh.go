package function

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/knative-eventmesh/function/fetch"
	"github.com/knative-eventmesh/function/kubeclient"
	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/relate"
	"github.com/knative-eventmesh/function/respond"
	"github.com/knative-eventmesh/function/token"
)

// maxNamespaces bounds the namespaces of one scoped request.
const maxNamespaces = 100

// built is an encoded mesh.
type built struct {
	body []byte
	// gzipped is body gzipped, for callers that accept it.
	gzipped  []byte
	etag     string
	warnings []string
	counts   [4]int
}

// A view is a document of the mesh the function serves: the mesh JSON, or
// the AsyncAPI document.
type view struct {
	// name names it in the log and in the build key.
	name string
	// receivers says that encode needs relate.MeshWithReceivers.
	receivers bool
	encode    func(*mesh.Mesh) ([]byte, error)
}

// meshView is the mesh JSON of GET /v1/getEventMesh.
var meshView = view{name: "mesh", encode: mesh.Encode}

// serveMesh answers GET and HEAD of the mesh of namespaces (nil: the
// whole cluster) as v: request → token → the caller's clients → fetch →
// relate → encode.
func (f *Function) serveMesh(w http.ResponseWriter, r *http.Request, namespaces []string, v view) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		respond.Error(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: the event mesh is read with GET")
		return
	}
	start := time.Now()
	log := f.log.With("path", r.URL.Path, "document", v.name)
	tok, err := token.FromRequest(r)
	if err != nil {
		log.Info("mesh request refused", "status", http.StatusUnauthorized, "error", err)
		respond.Error(w, http.StatusUnauthorized, err.Error())
		return
	}
	b, err := f.builds.Do(r.Context(), buildKey(tok, namespaces)+"\x00"+v.name, func(ctx context.Context) (*built, error) {
		return f.build(ctx, tok, namespaces, v)
	})
	if r.Context().Err() != nil {
		log.Info("mesh request canceled by the caller", "duration", time.Since(start).String())
		return
	}
	if errors.Is(err, errBusy) {
		retry := max(time.Second, f.slots.wait/2)
		log.Warn("mesh request refused: no build slot came in time", "status", http.StatusServiceUnavailable, "maxBuilds", f.settings.MaxBuilds, "waited", f.slots.wait.String())
		w.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
		respond.Error(w, http.StatusServiceUnavailable, fmt.Sprintf("%v (MESH_MAX_BUILDS=%d): retry in %s", errBusy, f.settings.MaxBuilds, retry))
		return
	}
	var nf *notFound
	if errors.As(err, &nf) {
		log.Info("mesh request refused", "status", http.StatusNotFound, "error", err.Error())
		respond.Error(w, http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		status, msg := respond.Status(err, f.settings.Timeout)
		if d := respond.RetryAfter(err); d > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(d.Round(time.Second)/time.Second)))
		}
		log.Warn("mesh request failed", "status", status, "error", err.Error(), "duration", time.Since(start).String())
		respond.Error(w, status, msg)
		return
	}
	log.Info("mesh served", "status", http.StatusOK, "duration", time.Since(start).String(),
		"eventTypes", b.counts[0], "brokers", b.counts[1], "subscribables", b.counts[2], "sources", b.counts[3],
		"bytes", len(b.body), "warnings", len(b.warnings))
	respond.JSON(w, r, b.body, b.gzipped, b.etag, b.warnings)
}

// build builds, encodes and gzips the mesh with the caller's token, all
// in one build slot: the memory a build takes includes its encoding.
func (f *Function) build(ctx context.Context, tok string, namespaces []string, v view) (*built, error) {
	clients, err := f.clients.ForToken(tok)
	if err != nil {
		return nil, fmt.Errorf("building clients: %w", err)
	}
	var b *built
	err = f.meshOf(ctx, clients, namespaces, v.receivers, func(m *mesh.Mesh, warnings []string) error {
		body, err := v.encode(m)
		if err != nil {
			return err
		}
		gzipped, err := respond.Gzip(body)
		if err != nil {
			return err
		}
		b = &built{
			body:     body,
			gzipped:  gzipped,
			etag:     respond.ETag(body),
			warnings: warnings,
			counts:   [4]int{len(m.EventTypes), len(m.Brokers), len(m.Subscribables), len(m.Sources)},
		}
		return nil
	})
	return b, err
}

// meshOf reads and relates the mesh of namespaces (nil: the whole cluster)
// with clients, within the request deadline and one build slot, and passes
// it to then, with the parts of the mesh left out because clients may not
// read them. With receivers, the mesh also holds what the AsyncAPI
// document needs (relate.MeshWithReceivers). The slot is released once
// then returns.
func (f *Function) meshOf(ctx context.Context, clients *kubeclient.Clients, namespaces []string, receivers bool, then func(m *mesh.Mesh, warnings []string) error) error {
	ctx, cancel := context.WithTimeout(ctx, f.settings.Timeout)
	defer cancel()
	release, err := f.slots.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	objs, err := fetch.All(ctx, clients, fetch.Options{Namespaces: namespaces, PageSize: f.settings.PageSize})
	if err != nil {
		return err
	}
	relateMesh := relate.Mesh
	if receivers {
		relateMesh = relate.MeshWithReceivers
	}
	m, malformed := relateMesh(objs, f.filters)
	for _, s := range objs.Skipped {
		f.log.Debug("left out of the mesh", "reason", s)
	}
	warnings := append(objs.Warnings, malformed...)
	for _, w := range warnings {
		f.log.Info("left out of the mesh", "reason", w)
	}
	return then(m, warnings)
}

// buildKey identifies identical requests: the same token and namespaces.
// The token is hashed, so it is not kept as a key.
func buildKey(tok string, namespaces []string) string {
	sum := sha256.Sum256([]byte(tok))
	return string(sum[:]) + "\x00" + strings.Join(namespaces, ",")
}

// parseNamespaces reads the comma-separated namespaces of a scoped mesh
// path, sorted and without duplicates; path is the path that follows
// them, for the error.
func parseNamespaces(s, path string) ([]string, error) {
	var nss []string
	for ns := range strings.SplitSeq(s, ",") {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return nil, fmt.Errorf("bad namespace %q in path: %s; write /namespaces/<ns>[,<ns>...]%s", truncate(ns, 64), errs[0], path)
		}
		nss = append(nss, ns)
	}
	slices.Sort(nss)
	nss = slices.Compact(nss)
	if len(nss) > maxNamespaces {
		return nil, fmt.Errorf("too many namespaces in path (%d): at most %d", len(nss), maxNamespaces)
	}
	return nss, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
