package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/tests/functest"
)

// checkError checks that r is a JSON error with status and a message that
// holds each of parts.
func checkError(t *testing.T, r *functest.Response, status int, parts ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e struct{ Error string }
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Error == "" {
		t.Fatalf("not a JSON error (%v): %s", err, r.Body)
	}
	for _, p := range parts {
		if !strings.Contains(e.Error, p) {
			t.Errorf("error %q does not say %q", e.Error, p)
		}
	}
}

func TestStatusCodes(t *testing.T) {
	fn := startFunction(t)
	ns := newNamespace(t)
	noRights := token(t, ns, "nobody", "")
	revoked := token(t, ns, "revoked", "")
	client, err := kubernetes.NewForConfig(testCluster.Config())
	if err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().ServiceAccounts(ns).Delete(context.Background(), "revoked", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		method string
		path   string
		token  string
		header []string
		status int
		says   []string
	}{
		{name: "no token", path: "/v1/getEventMesh", status: 401, says: []string{"Authorization: Bearer <token>"}},
		{name: "empty bearer", path: "/v1/getEventMesh", header: []string{"Authorization", "Bearer "}, status: 401, says: []string{"Authorization: Bearer <token>"}},
		{name: "basic auth", path: "/v1/getEventMesh", header: []string{"Authorization", "Basic dXNlcjpwYXNz"}, status: 401, says: []string{"Bearer"}},
		{name: "token of nobody", path: "/v1/getEventMesh", token: "bm90LWEtdG9rZW4", status: 401, says: []string{"rejected the token"}},
		{name: "token of a deleted ServiceAccount", path: "/v1/getEventMesh", token: revoked, status: 401, says: []string{"rejected the token"}},
		{name: "token without permissions", path: "/v1/getEventMesh", token: noRights, status: 403, says: []string{"may not list ", "knative.dev", "eventmesh-reader"}},
		{name: "token without permissions, namespaced", path: "/namespaces/shop/v1/getEventMesh", token: noRights, status: 403, says: []string{"may not list ", "in namespace shop"}},
		{name: "POST", method: http.MethodPost, path: "/v1/getEventMesh", token: readerToken, status: 405, says: []string{"GET"}},
		{name: "DELETE namespaced", method: http.MethodDelete, path: "/namespaces/shop/v1/getEventMesh", token: readerToken, status: 405, says: []string{"GET"}},
		{name: "unknown path", path: "/v2/getEventMesh", token: readerToken, status: 404, says: []string{"/v1/getEventMesh"}},
		{name: "root", path: "/", token: readerToken, status: 405, says: []string{"/v1/getEventMesh"}},
		{name: "bad namespace", path: "/namespaces/Not_A_Namespace/v1/getEventMesh", token: readerToken, status: 400, says: []string{"Not_A_Namespace"}},
		{name: "empty namespace", path: "/namespaces//v1/getEventMesh", token: readerToken, status: 400, says: []string{"namespace"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			r := fn.Do(t, method, tt.path, tt.token, tt.header...)
			checkError(t, r, tt.status, tt.says...)
			if want := allowed(tt.path); tt.status == http.StatusMethodNotAllowed && r.Header.Get("Allow") != want {
				t.Errorf("Allow %q, want %s", r.Header.Get("Allow"), want)
			}
		})
	}
}

func TestUnreachableAndSlowAPIServer(t *testing.T) {
	cfg := testCluster.Config()
	cfg.Host = "https://127.0.0.1:1"
	unreachable := filepath.Join(t.TempDir(), "kubeconfig")
	if err := testCluster.WriteKubeconfig(unreachable, cfg); err != nil {
		t.Fatal(err)
	}
	t.Run("unreachable", func(t *testing.T) {
		fn := functest.Start(t, map[string]string{"KUBECONFIG": unreachable})
		checkError(t, fn.Get(t, "/v1/getEventMesh", readerToken), 503, "unreachable")
	})
	t.Run("deadline", func(t *testing.T) {
		fn := startFunction(t, "MESH_TIMEOUT", "1ms")
		checkError(t, fn.Get(t, "/v1/getEventMesh", readerToken), 504, "did not answer in time", "1ms")
	})
}

// TestNamespaceScope checks contract section 1a: a token that may read one
// namespace gets that namespace's mesh, with namespaced requests, and never
// another's.
func TestNamespaceScope(t *testing.T) {
	fn := startFunction(t)
	a, b := newNamespace(t), newNamespace(t)
	apply(t, a, broker+eventType("e", "com.example.a", "b"))
	apply(t, b, broker+eventType("e", "com.example.b", "b"))
	tok, err := testCluster.NamespaceReaderToken(context.Background(), a, "team-a")
	if err != nil {
		t.Fatal(err)
	}

	r := fn.Get(t, "/namespaces/"+a+"/v1/getEventMesh", tok)
	if r.Status != http.StatusOK {
		t.Fatalf("own namespace: status %d: %s", r.Status, r.Body)
	}
	if w := strings.Join(r.Header.Values("Warning"), "\n"); !strings.Contains(w, "customresourcedefinitions") {
		t.Errorf("want a Warning that channels and sources were left out for lack of CRD access, got %q", w)
	}
	got := decodeMesh(t, r.Body)
	checkMesh(t, got, &mesh.Mesh{
		EventTypes: []mesh.EventType{{Meta: meta(a, "e"), Type: "com.example.a", Reference: ref(eventing, "Broker", a, "b")}},
		Brokers:    []mesh.Broker{{Meta: meta(a, "b"), ProvidedEventTypes: []string{a + "/e"}}},
	})

	for _, path := range []string{"/namespaces/" + b + "/v1/getEventMesh", "/namespaces/" + a + "," + b + "/v1/getEventMesh", "/v1/getEventMesh"} {
		r := fn.Get(t, path, tok)
		checkError(t, r, http.StatusForbidden, "may not list")
		if strings.Contains(string(r.Body), "com.example.b") {
			t.Errorf("%s leaks the other namespace: %s", path, r.Body)
		}
	}
}

// TestResponse checks the headers of a mesh response: ETag and 304, gzip,
// HEAD, and identical bytes for identical state.
func TestResponse(t *testing.T) {
	fn := startFunction(t)
	first := fn.Get(t, "/v1/getEventMesh", readerToken)
	if first.Status != http.StatusOK {
		t.Fatalf("status %d: %s", first.Status, first.Body)
	}
	if ct := first.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	second := fn.Get(t, "/v1/getEventMesh", readerToken)
	if string(second.Body) != string(first.Body) || second.Header.Get("ETag") != etag {
		t.Error("two reads of the same cluster state differ")
	}
	if r := fn.Get(t, "/v1/getEventMesh", readerToken, "If-None-Match", etag); r.Status != http.StatusNotModified || len(r.Body) != 0 {
		t.Errorf("If-None-Match %s: status %d, %d bytes; want 304 and none", etag, r.Status, len(r.Body))
	}
	if r := fn.Get(t, "/v1/getEventMesh", readerToken, "If-None-Match", `"other"`); r.Status != http.StatusOK {
		t.Errorf("If-None-Match other: status %d, want 200", r.Status)
	}
	gz := fn.Get(t, "/v1/getEventMesh", readerToken, "Accept-Encoding", "gzip")
	if gz.Header.Get("Content-Encoding") != "gzip" || string(gz.Body) != string(first.Body) {
		t.Errorf("gzip: Content-Encoding %q, same body %v", gz.Header.Get("Content-Encoding"), string(gz.Body) == string(first.Body))
	}
	head := fn.Do(t, http.MethodHead, "/v1/getEventMesh", readerToken)
	if head.Status != http.StatusOK || len(head.Body) != 0 {
		t.Errorf("HEAD: status %d, %d bytes", head.Status, len(head.Body))
	}
	empty := fn.Get(t, "/namespaces/"+newNamespace(t)+"/v1/getEventMesh", readerToken)
	want := `{"eventTypes":[],"brokers":[],"subscribables":[],"sources":[],` +
		`"sinks":[],"eventTransforms":[],"requestReplies":[],"flows":[],"eventPolicies":[],"defaultAuthorizationMode":"allow-same-namespace"}`
	if string(empty.Body) != want {
		t.Errorf("empty mesh = %s, want %s", empty.Body, want)
	}
}

// allowed is the Allow header of a 405 at path: / takes CloudEvents, the
// mesh paths are read.
func allowed(path string) string {
	if path == "/" || strings.HasPrefix(path, "/?") {
		return "POST"
	}
	return "GET, HEAD"
}
