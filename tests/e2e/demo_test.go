package e2e

import (
	"net/http"
	"testing"

	"github.com/knative-eventmesh/function/mesh"
)

// wantDemo is the mesh of tests/demo/demo.yaml, worked out by hand from the
// contract.
func wantDemo() *mesh.Mesh {
	orders := ref(eventing, "Broker", "shop", "orders")
	dflt := ref(eventing, "Broker", "shop", "default")
	return &mesh.Mesh{
		EventTypes: []mesh.EventType{
			{Meta: meta("shop", "audit-entry"), Type: "com.example.audit.entry", Description: "An entry of the audit trail.",
				Reference: ref(messaging, "InMemoryChannel", "shop", "audit"), ConsumedBy: []string{"archiver"}},
			// analytics-all-but-heartbeats excludes it; debugger has no Backstage id.
			{Meta: meta("shop", "heartbeat"), Type: "dev.knative.sources.ping", Description: "The shop's heartbeat, from a PingSource.",
				Reference: dflt},
			{Meta: mesh.Meta{Namespace: "shop", Name: "order-created", Labels: map[string]string{"app.kubernetes.io/part-of": "shop"}},
				Type: "com.example.order.created", Description: "An order was placed.", SchemaURL: "https://schemas.example.com/order-created.json",
				Reference: orders, ConsumedBy: []string{"analytics", "notifier", "shipping-service"}},
			// The notifier's CESQL asks for a source this EventType leaves open.
			{Meta: meta("shop", "order-shipped"), Type: "com.example.order.shipped", Description: "An order left the warehouse.",
				SchemaData: `{"type":"object","properties":{"orderId":{"type":"string"}}}`,
				Reference:  orders, ConsumedBy: []string{"analytics", "notifier"}},
			{Meta: meta("shop", "payment-received"), Type: "com.example.payment.received", Description: "A payment was booked.",
				Reference: dflt, ConsumedBy: []string{"analytics", "billing"}},
		},
		Brokers: []mesh.Broker{
			{Meta: meta("shop", "default"), ProvidedEventTypes: []string{"shop/heartbeat", "shop/payment-received"}},
			{Meta: mesh.Meta{Namespace: "shop", Name: "orders",
				Labels:      map[string]string{"app.kubernetes.io/part-of": "shop"},
				Annotations: map[string]string{"eventing.knative.dev/broker.class": "MTChannelBasedBroker"}},
				ProvidedEventTypes: []string{"shop/order-created", "shop/order-shipped"}},
		},
		Subscribables: []mesh.Subscribable{
			{Meta: meta("shop", "audit"), Group: messaging, Kind: "InMemoryChannel", ProvidedEventTypes: []string{"shop/audit-entry"}},
		},
		Sources: []mesh.Source{
			{Meta: meta("shop", "heartbeat"), Group: sources, Kind: "PingSource",
				ProvidedEventTypeTypes: []string{"dev.knative.sources.ping"}, ProvidedEventTypes: []string{"shop/heartbeat"}, Sink: dflt},
		},
	}
}

func TestDemoMesh(t *testing.T) {
	fn := startFunction(t)
	r := fn.Get(t, "/namespaces/shop,finance/v1/getEventMesh", readerToken)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	checkMesh(t, decodeMesh(t, r.Body), wantDemo())
}
