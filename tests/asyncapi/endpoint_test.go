package asyncapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/knative-eventmesh/function/tests/functest"
)

// TestEndpoint checks that GET /v1/asyncapi is served as the mesh is:
// the caller's token, the same errors, ETag and 304, gzip.
func TestEndpoint(t *testing.T) {
	f := functest.Start(t, map[string]string{"KUBECONFIG": adminKubeconfig})
	demo := "/namespaces/" + demoNamespaces + "/v1/asyncapi"
	tests := []struct {
		name, method, path, token string
		header                    []string
		status                    int
		errorHas                  string
	}{
		{"no token", http.MethodGet, "/v1/asyncapi", "", nil, http.StatusUnauthorized, "Authorization: Bearer"},
		{"rejected token", http.MethodGet, demo, "not-a-token", nil, http.StatusUnauthorized, "rejected the token"},
		{"bad namespace", http.MethodGet, "/namespaces/Shop/v1/asyncapi", readerToken, nil, http.StatusBadRequest, "/v1/asyncapi"},
		{"POST", http.MethodPost, "/v1/asyncapi", readerToken, nil, http.StatusMethodNotAllowed, "GET"},
		{"unknown query", http.MethodGet, "/v1/asyncapi?ns=shop", readerToken, nil, http.StatusBadRequest, "eventType=<namespace>/<name>"},
		{"bad eventType", http.MethodGet, "/v1/asyncapi?eventType=order-created", readerToken, nil, http.StatusBadRequest, "eventType=<namespace>/<name>"},
		{"missing eventType", http.MethodGet, demo + "?eventType=shop/missing", readerToken, nil, http.StatusNotFound, "no EventType shop/missing"},
		{"EventType of another namespace", http.MethodGet, "/namespaces/shop/v1/asyncapi?eventType=team-000/order-created", readerToken, nil, http.StatusNotFound, "team-000/order-created"},
		{"demo", http.MethodGet, demo, readerToken, nil, http.StatusOK, ""},
		{"gzip", http.MethodGet, demo, readerToken, []string{"Accept-Encoding", "gzip"}, http.StatusOK, ""},
		{"HEAD", http.MethodHead, demo, readerToken, nil, http.StatusOK, ""},
	}
	for _, tt := range tests {
		r := f.Do(t, tt.method, tt.path, tt.token, tt.header...)
		if r.Status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, r.Status, tt.status, r.Body)
			continue
		}
		if tt.errorHas != "" {
			var e struct{ Error string }
			if err := json.Unmarshal(r.Body, &e); err != nil || !strings.Contains(e.Error, tt.errorHas) {
				t.Errorf("%s: body %s, want a JSON error that says %q", tt.name, r.Body, tt.errorHas)
			}
		}
	}

	first := f.Get(t, demo, readerToken)
	etag := first.Header.Get("ETag")
	if first.Header.Get("Content-Type") != "application/json" || etag == "" {
		t.Fatalf("Content-Type %q, ETag %q", first.Header.Get("Content-Type"), etag)
	}
	if r := f.Get(t, demo, readerToken, "If-None-Match", etag); r.Status != http.StatusNotModified || len(r.Body) != 0 {
		t.Errorf("If-None-Match %s: status %d, %d bytes; want 304 and none", etag, r.Status, len(r.Body))
	}
	mesh := f.Get(t, "/namespaces/"+demoNamespaces+"/v1/getEventMesh", readerToken)
	if mesh.Header.Get("ETag") == etag {
		t.Error("the AsyncAPI document has the mesh's ETag")
	}
	gz := f.Get(t, demo, readerToken, "Accept-Encoding", "gzip")
	if gz.Header.Get("Content-Encoding") != "gzip" || string(gz.Body) != string(first.Body) {
		t.Errorf("gzip: Content-Encoding %q, same body %v", gz.Header.Get("Content-Encoding"), string(gz.Body) == string(first.Body))
	}
	checkDemo(t, first.Body)

	// by=eventType: each EventType's own document, as ?eventType= gives it.
	var byEventType map[string]json.RawMessage
	if err := json.Unmarshal(get(t, f, demo+"?by=eventType"), &byEventType); err != nil {
		t.Fatal(err)
	}
	if len(byEventType) != 5 {
		t.Errorf("by=eventType gives %d documents, want one per EventType of the demo (5)", len(byEventType))
	}
	for key, doc := range byEventType {
		if one := get(t, f, demo+"?eventType="+key); string(one) != string(doc) {
			t.Errorf("by=eventType's %s differs from ?eventType=%s", key, key)
		}
	}
}

// checkDemo checks the demo's document against tests/demo/demo.yaml.
func checkDemo(t *testing.T, body []byte) {
	t.Helper()
	doc := decode(t, body)
	if doc.AsyncAPI != "3.0.0" {
		t.Errorf("asyncapi %q", doc.AsyncAPI)
	}
	orders := doc.Channels["Broker__shop__orders__eventing.knative.dev"]
	if orders == nil {
		t.Fatal("no channel of the orders Broker")
	}
	if orders.Address == nil || *orders.Address != "http://broker-ingress.knative-eventing.svc.cluster.local/shop/orders" {
		t.Errorf("the orders Broker's channel has address %v", orders.Address)
	}
	if len(orders.Messages) != 2 {
		t.Errorf("the orders Broker carries %d messages, want its 2 EventTypes", len(orders.Messages))
	}
	if _, ok := doc.Channels["InMemoryChannel__shop__audit__messaging.knative.dev"]; !ok {
		t.Error("no channel of the InMemoryChannel audit")
	}
	types := map[string]bool{}
	for id, m := range doc.Components.Messages {
		if strings.HasPrefix(id, "EventType__") {
			types[m.Name] = true
		}
	}
	for _, typ := range []string{"com.example.audit.entry", "dev.knative.sources.ping", "com.example.order.created", "com.example.order.shipped", "com.example.payment.received"} {
		if !types[typ] {
			t.Errorf("no message of type %s", typ)
		}
	}
	// The heartbeat PingSource sends its EventType: the type its CRD
	// declares is observed, so no declared message.
	heartbeat := doc.Operations["send__PingSource__shop__heartbeat__sources.knative.dev"]
	if heartbeat == nil || heartbeat.Action != "send" || heartbeat.Messages == nil || len(*heartbeat.Messages) != 1 ||
		!strings.HasSuffix((*heartbeat.Messages)[0].Ref, "/messages/EventType__shop__heartbeat") {
		t.Errorf("the heartbeat's send: %+v", heartbeat)
	}
	receives := 0
	for _, op := range doc.Operations {
		if op.Action == "receive" {
			receives++
		}
	}
	// demo.yaml's 9 Triggers, all on Brokers that exist, and its
	// Subscription.
	if receives != 10 {
		t.Errorf("%d receive operations, want one per Trigger and Subscription of the demo", receives)
	}
}
