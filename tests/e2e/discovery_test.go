package e2e

import (
	"bytes"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/tests/functest"
)

// TestPlainDiscovery reads the mesh through a proxy that asks the API
// server for plain discovery, the list of API groups alone, as an API
// server without aggregated discovery (before Kubernetes 1.30) answers:
// the function reads each group's versions instead, and the mesh is the
// same, Warnings included.
func TestPlainDiscovery(t *testing.T) {
	ns := newNamespace(t)
	apply(t, ns, scenarioObjects(t, "sources")+"\n---\n"+scenarioObjects(t, "channels and subscriptions"))
	proxy := plainDiscoveryProxy(t)
	direct, proxied := startFunction(t), startFunction(t, "KUBECONFIG", proxy.kubeconfig)
	for _, path := range []string{"/namespaces/" + ns + "/v1/getEventMesh", "/v1/getEventMesh"} {
		want := direct.Get(t, path, readerToken)
		got := proxied.Get(t, path, readerToken)
		if got.Status != http.StatusOK || want.Status != http.StatusOK {
			t.Fatalf("GET %s: status %d through the proxy, %d directly: %s", path, got.Status, want.Status, got.Body)
		}
		if !strings.HasPrefix(path, "/namespaces/") {
			// Other tests change the cluster meanwhile; but in both, the
			// source kinds are found (listed early with aggregated
			// discovery), and the unlabelled kind is not.
			for _, r := range []*functest.Response{got, want} {
				m := decodeMesh(t, r.Body)
				if !slices.ContainsFunc(m.Sources, func(s mesh.Source) bool { return s.Namespace == ns && s.Kind == "GadgetSource" }) {
					t.Errorf("GET %s: no GadgetSource %s/gadget among the sources", path, ns)
				}
				if bytes.Contains(r.Body, []byte("DecoySource")) || strings.Contains(strings.Join(r.Header.Values("Warning"), " "), "decoy") {
					t.Errorf("GET %s: the unlabelled DecoySource is in the mesh or its Warnings", path)
				}
			}
			continue
		}
		if !bytes.Equal(got.Body, want.Body) {
			t.Errorf("GET %s: the mesh differs with plain discovery:\n%s\nwant:\n%s", path, got.Body, want.Body)
		}
		// Warnings come from parallel reads, in no fixed order.
		g, w := slices.Sorted(slices.Values(got.Header.Values("Warning"))), slices.Sorted(slices.Values(want.Header.Values("Warning")))
		if !slices.Equal(g, w) {
			t.Errorf("GET %s: Warnings %q with plain discovery, want %q", path, g, w)
		}
	}
	if docs := proxy.versionDocs(); !slices.Contains(docs, "/apis/sources.knative.dev/v1") {
		t.Errorf("the function read the discovery documents %q, not that of sources.knative.dev/v1: was discovery plain?", docs)
	}
}

// scenarioObjects returns the objects of the contract scenario called name.
func scenarioObjects(t *testing.T, name string) string {
	t.Helper()
	i := slices.IndexFunc(scenarios, func(sc scenario) bool { return sc.name == name })
	if i < 0 {
		t.Fatalf("no scenario %q", name)
	}
	return scenarios[i].objects
}

// discoveryProxy forwards requests to the API server, asking for plain
// discovery whatever the client asked for.
type discoveryProxy struct {
	kubeconfig string
	mu         sync.Mutex
	paths      []string // the discovery documents of API versions read
}

func plainDiscoveryProxy(t *testing.T) *discoveryProxy {
	t.Helper()
	p := &discoveryProxy{}
	p.kubeconfig = startAPIProxy(t, func(r *httputil.ProxyRequest) {
		if r.In.URL.Path == "/apis" {
			r.Out.Header.Set("Accept", "application/json")
		}
		if strings.Count(strings.Trim(r.In.URL.Path, "/"), "/") == 2 && strings.HasPrefix(r.In.URL.Path, "/apis/") {
			p.mu.Lock()
			p.paths = append(p.paths, r.In.URL.Path)
			p.mu.Unlock()
		}
	}, nil)
	return p
}

// startAPIProxy starts a TLS proxy to the API server that passes each
// request to rewrite, and returns a kubeconfig that reaches the API server
// through it. answer, when not nil, may answer a request itself, instead
// of the API server: it reports whether it did.
func startAPIProxy(t *testing.T, rewrite func(*httputil.ProxyRequest), answer func(http.ResponseWriter, *http.Request) bool) string {
	t.Helper()
	cfg := testCluster.Config()
	upstream, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	transport, err := rest.TransportFor(rest.AnonymousClientConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(upstream)
			rewrite(r)
		},
		Transport: transport,
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if answer == nil || !answer(w, r) {
			rp.ServeHTTP(w, r)
		}
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	// The function's own identity is a token: the proxy ends TLS, so a
	// client certificate would not reach the API server.
	own := &rest.Config{Host: srv.URL, BearerToken: readerToken, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
	if err := testCluster.WriteKubeconfig(kubeconfig, own); err != nil {
		t.Fatal(err)
	}
	return kubeconfig
}

// versionDocs returns the paths of the API versions' discovery documents
// read through the proxy.
func (p *discoveryProxy) versionDocs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.paths)
}
