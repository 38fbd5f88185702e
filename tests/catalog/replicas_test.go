package catalog

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/knative-eventmesh/function/tests/functest"
	"github.com/knative-eventmesh/function/tests/watcher"
)

// secretHeader is the header the function sends PUSH_SECRET in.
const secretHeader = "X-Eventmesh-Secret"

// timedProxy forwards to target and records when each request started
// and ended, and its status.
type timedProxy struct {
	URL string

	mu       sync.Mutex
	requests []timedRequest
}

type timedRequest struct {
	start, end time.Time
	status     int
}

func startTimedProxy(t *testing.T, target string) *timedProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &timedProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		rp.ServeHTTP(rec, r)
		p.mu.Lock()
		p.requests = append(p.requests, timedRequest{start: start, end: time.Now(), status: rec.status})
		p.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// firstAfter returns the first request that started after t.
func (p *timedProxy) firstAfter(t time.Time) (timedRequest, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.requests {
		if r.start.After(t) {
			return r, true
		}
	}
	return timedRequest{}, false
}

func (p *timedProxy) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.requests)
}

// pushDebounce is the function's PUSH_DEBOUNCE in TestTwoReplicasOnPostgres.
const pushDebounce = 500 * time.Millisecond

// TestTwoReplicasOnPostgres runs the production topology: two Backstage
// backends share one PostgreSQL, the providers' schedule keeps its default
// (global) scope, and the function announces to replica A only, with the
// shared secret. Each change made with kubectl must show in the catalog
// that replica B serves. It logs the time from kubectl to the entity on B,
// and where it goes: the function's debounce and build, the POST, the
// provider's read, and the catalog's processing. It asserts no time: a
// loaded machine would make it fail for nothing.
func TestTwoReplicasOnPostgres(t *testing.T) {
	ctx := context.Background()
	pg, err := StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)

	ns := "replicas-" + randomSuffix()
	if err := testCluster.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if err := testCluster.Apply(ctx, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: eventmesh-state-replicas, namespace: knative-eventing}\n")); err != nil {
		t.Fatal(err)
	}
	portA, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	secret := randomSuffix() + randomSuffix()
	sink := startTimedProxy(t, IngressURL(portA))
	// The function announcing to replica A (through a proxy that times the
	// POSTs) with the secret, with PUSH_DEBOUNCE 500ms, as the README
	// advises for a catalog within a second: each change here follows the
	// last one's entity on B, so within a second of the last announcement,
	// and the default 1 s makes each wait for the rest of that second.
	fn := functest.Start(t, map[string]string{
		"KUBECONFIG": adminKubeconfig, "K_SINK": sink.URL, "K_SERVICE": "eventmesh", "CLUSTER_NAME": "prod",
		"PUSH_STATE_NAMESPACE": "knative-eventing", "PUSH_STATE_CONFIGMAP": "eventmesh-state-replicas", "PUSH_SECRET": secret,
		"PUSH_DEBOUNCE": pushDebounce.String(),
	})
	reads := startTimedProxy(t, fn.URL)

	opts := func(port int, logs *functest.Logs) Options {
		return Options{
			Providers: map[string]Provider{"prod": {BaseURL: reads.URL + "/namespaces/" + ns, Token: readerToken}},
			Port:      port,
			Postgres:  pg,
			Secret:    secret,
			// The events bus at Backstage's default (the bus gives an event
			// to one replica per subscription: A's own provider takes it).
			// Its long-poll holds the shutdown up to the notify timeout and
			// a second: 1 s keeps the stop within 5 s on a loaded machine.
			NotifyTimeout: time.Second,
			Logs:          logs,
		}
	}
	logsA, logsB := &functest.Logs{}, &functest.Logs{}
	// One after the other: two replicas migrating a fresh database at
	// once fail with MigrationLocked.
	a, err := Start(ctx, opts(portA, logsA))
	if err != nil {
		t.Fatalf("replica A: %v\n%s", err, logsA)
	}
	b, err := Start(ctx, opts(0, logsB))
	if err != nil {
		_, _ = a.Stop(5 * time.Second)
		t.Fatalf("replica B: %v\n%s", err, logsB)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_, _ = a.Stop(5 * time.Second)
			_, _ = b.Stop(5 * time.Second)
		}
		if t.Failed() {
			t.Logf("replica A's logs:\n%s\nreplica B's logs:\n%s", logsA, logsB)
		}
	})
	adapterLogs := &functest.Logs{}
	w, err := watcher.Start(ctx, testCluster, filepath.Join("..", "..", "rbac", "push.yaml"), fn.URL, adapterLogs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Stop(); err != nil {
			t.Error(err)
		}
	})
	waitFor(t, "the first read of the mesh", time.Now(), func() (bool, error) { return reads.count() >= 1, nil })

	t.Run("changes posted to A show on B", func(t *testing.T) {
		type figures struct{ total, post, read, readTook, catalog time.Duration }
		var all []figures          // the changes an announced read brought
		var totals []time.Duration // every change
		for i := range 6 {
			name := fmt.Sprintf("b%d", i)
			for _, c := range []struct {
				what string
				args []string
				in   string
				want bool
			}{
				{"create broker " + name, []string{"create", "-n", ns, "-f", "-"}, fmt.Sprintf(`{"apiVersion":"eventing.knative.dev/v1","kind":"Broker","metadata":{"name":%q}}`, name), true},
				{"delete broker " + name, []string{"delete", "broker", name, "-n", ns}, "", false},
			} {
				start := time.Now()
				kubectl(t, c.in, c.args...)
				total := waitFor(t, c.what+" on replica B", start, func() (bool, error) {
					e, err := b.Entity(ctx, "component", ns, name)
					return err == nil && (e != nil) == c.want, err
				})
				totals = append(totals, total)
				waitFor(t, "the function's POST of "+c.what, start, func() (bool, error) {
					_, ok := sink.firstAfter(start)
					return ok, nil
				})
				post, _ := sink.firstAfter(start)
				if post.status != http.StatusAccepted {
					t.Errorf("%s: the function's POST got %d, want 202", c.what, post.status)
				}
				read, okRead := reads.firstAfter(post.start)
				if !okRead || read.start.After(start.Add(total)) {
					// The scheduled read an earlier announced read triggered
					// (newest mesh wins) brought the change first.
					t.Logf("%-16s on B %5.2f s after kubectl, by a scheduled read before the announced one (POST at %5.2f s)",
						c.what, total.Seconds(), post.start.Sub(start).Seconds())
					continue
				}
				f := figures{
					total:    total,
					post:     post.start.Sub(start),
					read:     read.start.Sub(post.start),
					readTook: read.end.Sub(read.start),
					catalog:  start.Add(total).Sub(read.end),
				}
				all = append(all, f)
				t.Logf("%-16s on B %5.2f s after kubectl: POST at %5.2f s, read %4.2f s later, took %4.2f s, catalog %4.2f s",
					c.what, f.total.Seconds(), f.post.Seconds(), f.read.Seconds(), f.readTook.Seconds(), f.catalog.Seconds())
			}
		}
		median := func(get func(figures) time.Duration) (time.Duration, time.Duration) {
			d := make([]time.Duration, len(all))
			for i, f := range all {
				d[i] = get(f)
			}
			if len(d) == 0 {
				return 0, 0
			}
			slices.Sort(d)
			return d[len(d)/2], d[len(d)-1]
		}
		slices.Sort(totals)
		p50, maxTotal := totals[len(totals)/2], totals[len(totals)-1]
		post, _ := median(func(f figures) time.Duration { return f.post })
		read, _ := median(func(f figures) time.Duration { return f.read })
		took, _ := median(func(f figures) time.Duration { return f.readTook })
		cat, _ := median(func(f figures) time.Duration { return f.catalog })
		t.Logf("kubectl to entity on replica B over %d changes: p50 %.2f s, max %.2f s; medians of the %d an announced read brought: "+
			"kubectl to POST (watch, debounce, build) %.2f s, POST to read %.2f s, read %.2f s, catalog (write, processing, stitching) %.2f s",
			len(totals), p50.Seconds(), maxTotal.Seconds(), len(all), post.Seconds(), read.Seconds(), took.Seconds(), cat.Seconds())
	})

	t.Run("a POST without the secret gets 401 and causes no read", func(t *testing.T) {
		var ids []string
		for _, header := range []string{"", "wrong"} {
			id := randomSuffix()
			ids = append(ids, id)
			req, err := http.NewRequest(http.MethodPost, IngressURL(portA), strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Type": "dev.knative.eventmesh.changed", "Ce-Source": "/forged", "Ce-Id": id, "Ce-Subject": "prod"} {
				req.Header.Set(k, v)
			}
			if header != "" {
				req.Header.Set(secretHeader, header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("POST with secret %q: %d, want 401", header, resp.StatusCode)
			}
		}
		// The function may announce meanwhile: what must not appear is a
		// provider taking these POSTs' ids.
		time.Sleep(3 * time.Second)
		for _, id := range ids {
			if strings.Contains(logsA.String()+logsB.String(), id) {
				t.Errorf("a POST without the secret (id %s) reached a provider", id)
			}
		}
	})

	t.Run("both replicas stop within 5 s of SIGTERM", func(t *testing.T) {
		stopped = true
		for _, r := range []struct {
			name string
			b    *Backend
		}{{"A", a}, {"B", b}} {
			took, err := r.b.Stop(5 * time.Second)
			if err != nil {
				t.Errorf("replica %s: %v", r.name, err)
				continue
			}
			t.Logf("replica %s exited %.2f s after SIGTERM", r.name, took.Seconds())
		}
	})
}
