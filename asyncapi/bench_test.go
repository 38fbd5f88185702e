package asyncapi

import (
	"fmt"
	"testing"

	"github.com/knative-eventmesh/function/mesh"
)

// benchMesh is a mesh of the shape of make bench's: n Triggers, n/100
// Brokers, n/5 EventTypes, each Trigger filtered to one EventType.
func benchMesh(n int) *mesh.Mesh {
	m := &mesh.Mesh{}
	for u := range n / 100 {
		ns := fmt.Sprintf("team-%03d", u)
		broker := mesh.Reference{Group: "eventing.knative.dev", Kind: "Broker", Namespace: ns, Name: "default"}
		b := mesh.Broker{Meta: mesh.Meta{Namespace: ns, Name: "default"},
			Access: mesh.Access{Address: "http://broker-ingress.knative-eventing.svc.cluster.local/" + ns + "/default"}}
		for j := range 20 {
			name := fmt.Sprintf("type-%02d", j)
			typ := "com.example." + ns + "." + name
			b.ProvidedEventTypes = append(b.ProvidedEventTypes, ns+"/"+name)
			m.EventTypes = append(m.EventTypes, mesh.EventType{Meta: mesh.Meta{Namespace: ns, Name: name}, Type: typ,
				Description: "A thing happened.", SchemaURL: "https://schemas.example.com/" + ns + "/" + name + ".json",
				Reference: &broker, Attributes: map[string]string{"type": typ, "source": "https://" + ns + ".example.com"}})
		}
		m.Brokers = append(m.Brokers, b)
		for k := range 100 {
			sub := fmt.Sprintf("sub-%03d", k)
			et := fmt.Sprintf("type-%02d", k%20)
			m.Receivers = append(m.Receivers, mesh.Receiver{Kind: "Trigger", Namespace: ns, Name: fmt.Sprintf("trigger-%03d", k), From: broker,
				Subscriber: &mesh.Reference{Group: "serving.knative.dev", Kind: "Service", Namespace: ns, Name: sub},
				ConsumedBy: []string{ns + "-" + sub}, Filter: `events where type is "com.example.` + ns + "." + et + `"`,
				EventTypes: []string{ns + "/" + et}})
		}
	}
	m.Normalize()
	return m
}

func BenchmarkDocument(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		m := benchMesh(n)
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			var size int
			for b.Loop() {
				body, err := Encode(New(m))
				if err != nil {
					b.Fatal(err)
				}
				size = len(body)
			}
			b.ReportMetric(float64(size), "bytes")
		})
	}
}
