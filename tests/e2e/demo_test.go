package e2e

import (
	"net/http"
	"testing"

	"github.com/knative-eventmesh/function/mesh"
)

const (
	flows       = "flows.knative.dev"
	serving     = "serving.knative.dev"
	backstageID = "backstage.io/kubernetes-id"
)

// The types Eventing's PingSource and ApiServerSource CRDs declare in
// their registry.knative.dev/eventTypes annotation.
var (
	pingDeclared      = []mesh.DeclaredEventType{{Type: "dev.knative.sources.ping", Description: "CloudEvent type for fixed payloads on a specified cron schedule"}}
	apiServerDeclared = []mesh.DeclaredEventType{
		{Type: "dev.knative.apiserver.ref.add", Description: "CloudEvent type used for add operations when in Reference mode"},
		{Type: "dev.knative.apiserver.ref.delete", Description: "CloudEvent type used for delete operations when in Reference mode"},
		{Type: "dev.knative.apiserver.ref.update", Description: "CloudEvent type used for update operations when in Reference mode"},
		{Type: "dev.knative.apiserver.resource.add", Description: "CloudEvent type used for add operations when in Resource mode"},
		{Type: "dev.knative.apiserver.resource.delete", Description: "CloudEvent type used for delete operations when in Resource mode"},
		{Type: "dev.knative.apiserver.resource.update", Description: "CloudEvent type used for update operations when in Resource mode"},
	}
)

// wantDemo is the mesh of tests/demo/demo.yaml, worked out by hand from the
// contract.
func wantDemo() *mesh.Mesh {
	orders := ref(eventing, "Broker", "shop", "orders")
	dflt := ref(eventing, "Broker", "shop", "default")
	heartbeat := mesh.Sender{Reference: *ref(sources, "PingSource", "shop", "heartbeat"), BackstageID: "heartbeat"}
	return &mesh.Mesh{
		EventTypes: []mesh.EventType{
			{Meta: meta("shop", "audit-entry"), Type: "com.example.audit.entry", Description: "An entry of the audit trail.",
				Reference: ref(messaging, "InMemoryChannel", "shop", "audit"), ConsumedBy: []string{"archiver"}},
			// analytics-all-but-heartbeats excludes it; debugger has no Backstage id.
			{Meta: meta("shop", "heartbeat"), Type: "dev.knative.sources.ping", Description: "The shop's heartbeat, from a PingSource.",
				Reference: dflt},
			// The Sequence fulfilment leads to the packer and the labeler.
			{Meta: mesh.Meta{Namespace: "shop", Name: "order-created", Labels: map[string]string{"app.kubernetes.io/part-of": "shop"}},
				Type: "com.example.order.created", Description: "An order was placed.", SchemaURL: "https://schemas.example.com/order-created.json",
				Reference: orders, ConsumedBy: []string{"analytics", "labeler", "notifier", "packer", "shipping-service"}},
			// The notifier's CESQL asks for a source this EventType leaves open.
			{Meta: meta("shop", "order-shipped"), Type: "com.example.order.shipped", Description: "An order left the warehouse.",
				SchemaData: `{"type":"object","properties":{"orderId":{"type":"string"}}}`,
				Reference:  orders, ConsumedBy: []string{"analytics", "notifier"}},
			{Meta: meta("shop", "payment-received"), Type: "com.example.payment.received", Description: "A payment was booked.",
				Reference: dflt, ConsumedBy: []string{"analytics", "billing", "invoicer"}},
		},
		Brokers: []mesh.Broker{
			{Meta: meta("shop", "default"), ProvidedEventTypes: []string{"shop/heartbeat", "shop/payment-received"}},
			{Meta: mesh.Meta{Namespace: "shop", Name: "orders",
				Labels:      map[string]string{"app.kubernetes.io/part-of": "shop"},
				Annotations: map[string]string{"eventing.knative.dev/broker.class": "MTChannelBasedBroker"}},
				ProvidedEventTypes: []string{"shop/order-created", "shop/order-shipped"},
				Access: mesh.Access{
					Address:         "http://broker-ingress.knative-eventing.svc.cluster.local/shop/orders",
					Audience:        "eventing.knative.dev/broker/shop/orders",
					EventPolicies:   []string{"shop/orders-senders"},
					AllowedSenders:  []mesh.Sender{heartbeat},
					AllowedSubjects: []string{"system:serviceaccount:finance:billing"},
				}},
		},
		Subscribables: []mesh.Subscribable{
			{Meta: meta("shop", "audit"), Group: messaging, Kind: "InMemoryChannel", ProvidedEventTypes: []string{"shop/audit-entry"}},
		},
		Sources: []mesh.Source{
			{Meta: mesh.Meta{Namespace: "shop", Name: "heartbeat", Labels: map[string]string{backstageID: "heartbeat"}}, Group: sources, Kind: "PingSource",
				ProvidedEventTypeTypes: []string{"dev.knative.sources.ping"}, ProvidedEventTypes: []string{"shop/heartbeat"},
				DeclaredEventTypes: pingDeclared, Sink: dflt},
		},
		Sinks: []mesh.Sink{
			{Meta: mesh.Meta{Namespace: "finance", Name: "invoicer", Labels: map[string]string{backstageID: "invoicer"}},
				Group: "sinks.knative.dev", Kind: "JobSink", Access: mesh.Access{Address: "http://job-sink.knative-eventing.svc.cluster.local/finance/invoicer",
					Audience: "sinks.knative.dev/jobsink/finance/invoicer"}},
		},
		EventTransforms: []mesh.Transform{
			{Meta: meta("shop", "audit-trimmer"), Group: eventing, Kind: "EventTransform", Sink: ref(serving, "Service", "shop", "archiver")},
		},
		Flows: []mesh.Flow{
			{Meta: meta("shop", "fulfilment"), Group: flows, Kind: "Sequence",
				Access: mesh.Access{Address: "http://fulfilment-kn-sequence-0-kn-channel.shop.svc.cluster.local",
					Audience: "messaging.knative.dev/inmemorychannel/shop/fulfilment-kn-sequence-0"},
				Calls:      []mesh.Reference{*ref(serving, "Service", "shop", "packer"), *ref(serving, "Service", "shop", "labeler")},
				Replies:    []mesh.Reference{*orders},
				ConsumedBy: []string{"packer", "labeler"}},
		},
		EventPolicies: []mesh.EventPolicy{
			{Meta: meta("shop", "orders-senders"), AppliesTo: []mesh.Reference{*orders}, To: []mesh.PolicyTarget{{Ref: orders}},
				AllowedSenders: []mesh.Sender{heartbeat}, AllowedSubjects: []string{"system:serviceaccount:finance:billing"}},
		},
		DefaultAuthorizationMode: "allow-same-namespace",
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
