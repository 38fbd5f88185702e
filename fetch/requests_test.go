package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/knative-eventmesh/function/objects"
)

func TestWhat(t *testing.T) {
	tests := []struct{ verb, resource, ns, want string }{
		{"list", "brokers.eventing.knative.dev", "", "list brokers.eventing.knative.dev at the cluster scope"},
		{"list", "brokers.eventing.knative.dev", "shop", "list brokers.eventing.knative.dev in namespace shop"},
	}
	for _, tt := range tests {
		if got := what(tt.verb, tt.resource, tt.ns); got != tt.want {
			t.Errorf("what(%q, %q, %q) = %q, want %q", tt.verb, tt.resource, tt.ns, got, tt.want)
		}
	}
}

func TestCollectionPath(t *testing.T) {
	tests := []struct {
		ns   string
		want []string
	}{
		{"", []string{"/apis", "eventing.knative.dev", "v1", "brokers"}},
		{"shop", []string{"/apis", "eventing.knative.dev", "v1", "namespaces", "shop", "brokers"}},
	}
	for _, tt := range tests {
		if got := collectionPath("eventing.knative.dev", "v1", "brokers", tt.ns); !slices.Equal(got, tt.want) {
			t.Errorf("collectionPath in %q = %q, want %q", tt.ns, got, tt.want)
		}
	}
}

func TestGroupVersions(t *testing.T) {
	version := func(v string) metav1.GroupVersionForDiscovery { return metav1.GroupVersionForDiscovery{Version: v} }
	tests := []struct {
		name string
		g    metav1.APIGroup
		want []string
	}{
		{"preferred first", metav1.APIGroup{PreferredVersion: version("v1"), Versions: []metav1.GroupVersionForDiscovery{version("v1beta1"), version("v1")}},
			[]string{"v1", "v1beta1"}},
		{"no preferred", metav1.APIGroup{Versions: []metav1.GroupVersionForDiscovery{version("v1")}}, []string{"v1"}},
	}
	for _, tt := range tests {
		if got := groupVersions(&tt.g); !slices.Equal(got, tt.want) {
			t.Errorf("%s: groupVersions = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestEventTypeFields checks what an EventType of either version carries
// into the mesh: v1beta2's source and schema, v1beta3's attributes.
func TestEventTypeFields(t *testing.T) {
	page := `{"metadata":{},"items":[` +
		`{"metadata":{"name":"v2","namespace":"ns"},"spec":{"type":"t","source":"/orders","schema":"https://schema.example/order"}},` +
		`{"metadata":{"name":"v3","namespace":"ns"},"spec":{"attributes":[{"name":"type","value":"t","required":true},{"name":"source","value":"/s"}]}},` +
		`{"metadata":{"name":"bare","namespace":"ns"},"spec":{"type":"t"}}]}`
	got, bad := decodeAll[eventTypeItem](t, page, (*eventTypeItem).eventType)
	if len(bad) != 0 {
		t.Fatalf("reported bad: %q", bad)
	}
	meta := func(name string) objects.Meta { return objects.Meta{Name: name, Namespace: "ns"} }
	want := []objects.EventType{
		{Meta: meta("v2"), Type: "t", Source: "/orders", Schema: "https://schema.example/order"},
		{Meta: meta("v3"), Attributes: []objects.Attribute{{Name: "type", Value: "t", Required: true}, {Name: "source", Value: "/s"}}},
		{Meta: meta("bare"), Type: "t"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("EventTypes differ (-want +got):\n%s", diff)
	}
}

// TestDiscoveryAccept checks that discovery asks for aggregated discovery.
func TestDiscoveryAccept(t *testing.T) {
	var accept []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept = append(accept, r.Header.Get("Accept"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(plainGroups))
	}))
	defer srv.Close()
	if _, err := newTestReader(t, srv, 0).readAPIs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(accept) != 1 || accept[0] != discoveryAccept {
		t.Errorf("Accept %q, want [%s]", accept, discoveryAccept)
	}
}

// TestListCutShort checks that an answer cut short is an API server that
// could not be read to the end (503), not a malformed answer.
func TestListCutShort(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write([]byte(`{"kind":"EventTypeList","metadata":{},"items":[` + eventTypeJSON("a", "/a")))
	}))
	defer srv.Close()
	_, err := listRaw(context.Background(), newTestReader(t, srv, 0), "listing eventtypes", "EventType",
		collectionPath("eventing.knative.dev", "v1beta2", "eventtypes", ""), (*eventTypeItem).eventType, func(string, ...any) {})
	var e *objects.Error
	if !errors.As(err, &e) || e.Reason != objects.Unreachable {
		t.Errorf("error %v, want one of reason %v", err, objects.Unreachable)
	}
}
