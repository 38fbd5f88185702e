package e2e

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestPagination reads a mesh with pages of two objects, through a proxy
// that answers the first continue request of each list with 410 Expired,
// as an API server does once a continue token is too old: every list
// crosses pages and restarts. The mesh and its Warnings must be those of
// the same mesh read in one page each, with each Warning once (a bad
// EventType sits on the first page).
func TestPagination(t *testing.T) {
	ns := newNamespace(t)
	var objects strings.Builder
	// The bad EventType sorts first, so that it is on the first page.
	objects.WriteString(`
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata: {name: a-bad-source, namespace: {{ns}}}
spec: {type: com.example.bad, source: "%zz"}
`)
	for i := range 3 {
		fmt.Fprintf(&objects, `---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: b%d, namespace: {{ns}}}
`, i)
	}
	for i := range 5 {
		fmt.Fprintf(&objects, `---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata: {name: e%d, namespace: {{ns}}}
spec: {type: com.example.e%d, source: /s, reference: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: b%d}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t%d, namespace: {{ns}}}
spec:
  broker: b%d
  filter: {attributes: {type: com.example.e%d}}
  subscriber: {ref: {apiVersion: v1, kind: Service, name: s%d}}
`, i, i, i%3, i, i%3, i, i)
	}
	apply(t, ns, objects.String())

	expiring := &expiringLists{expired: map[string]bool{}}
	kubeconfig := startAPIProxy(t, func(*httputil.ProxyRequest) {}, expiring.answer)
	direct := startFunction(t)
	paged := startFunction(t, "KUBECONFIG", kubeconfig, "MESH_PAGE_SIZE", "2")
	path := "/namespaces/" + ns + "/v1/getEventMesh"
	want := direct.Get(t, path, readerToken)
	got := paged.Get(t, path, readerToken)
	if got.Status != http.StatusOK || want.Status != http.StatusOK {
		t.Fatalf("GET %s: status %d in pages, %d in one page: %s", path, got.Status, want.Status, got.Body)
	}
	if string(got.Body) != string(want.Body) {
		t.Errorf("the mesh read in pages differs:\n%s\nwant:\n%s", got.Body, want.Body)
	}
	if !strings.Contains(string(want.Body), `"name":"e4"`) {
		t.Errorf("the mesh lacks EventType e4: %s", want.Body)
	}
	// Warnings come from parallel reads, in no fixed order.
	g, w := slices.Sorted(slices.Values(got.Header.Values("Warning"))), slices.Sorted(slices.Values(want.Header.Values("Warning")))
	if !slices.Equal(g, w) {
		t.Errorf("Warnings %q in pages, want %q", g, w)
	}
	if n := strings.Count(strings.Join(w, "\n"), "a-bad-source"); n != 1 {
		t.Errorf("%d Warnings name the bad EventType, want 1: %q", n, w)
	}
	for _, list := range []string{"/apis/eventing.knative.dev/v1/namespaces/" + ns + "/triggers", "/apis/eventing.knative.dev/v1beta2/namespaces/" + ns + "/eventtypes"} {
		if !expiring.restarted(list) {
			t.Errorf("%s was not restarted after a 410: did the function read it in pages?", list)
		}
	}
}

// expiringLists answers the first continue request of each collection
// with 410 Expired.
type expiringLists struct {
	mu      sync.Mutex
	expired map[string]bool // paths answered with 410
}

func (e *expiringLists) answer(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Query().Get("continue") == "" {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.expired[r.URL.Path] {
		return false
	}
	e.expired[r.URL.Path] = true
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusGone)
	fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"The provided continue parameter is too old to display a consistent list result.","reason":"Expired","code":410}`)
	return true
}

func (e *expiringLists) restarted(path string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.expired[path]
}
