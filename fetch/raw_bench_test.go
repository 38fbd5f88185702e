package fetch

import (
	"bytes"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"sigs.k8s.io/json"
)

// triggerPage returns a page of n Triggers as kube-apiserver writes it:
// metadata with managedFields, the spec, and a Ready status.
func triggerPage(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"apiVersion":"eventing.knative.dev/v1","items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		ns, name := fmt.Sprintf("team-%03d", i/100), fmt.Sprintf("trigger-%03d", i%100)
		fmt.Fprintf(&b, `{"apiVersion":"eventing.knative.dev/v1","kind":"Trigger","metadata":{"annotations":{"eventing.knative.dev/creator":"system:admin","eventing.knative.dev/lastModifier":"system:admin"},`+
			`"creationTimestamp":"2026-11-29T06:00:00Z","generation":1,"managedFields":[{"apiVersion":"eventing.knative.dev/v1","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{".":{},"f:broker":{},"f:filter":{".":{},"f:attributes":{".":{},"f:type":{}}},"f:subscriber":{".":{},"f:ref":{".":{},"f:apiVersion":{},"f:kind":{},"f:name":{}}}}},"manager":"bench","operation":"Update","time":"2026-11-29T06:00:00Z"}],`+
			`"name":%q,"namespace":%q,"resourceVersion":"12345","uid":"6f0d3a58-55a4-4b8e-9d4f-%012d"},`+
			`"spec":{"broker":"default","filter":{"attributes":{"type":"com.example.%s.order.created"}},"subscriber":{"ref":{"apiVersion":"serving.knative.dev/v1","kind":"Service","name":"sub-%03d"}}},`+
			`"status":{"conditions":[{"lastTransitionTime":"2026-11-29T06:00:00Z","status":"True","type":"Ready"}],"observedGeneration":1,"subscriberUri":"http://sub.%s.svc.cluster.local"}}`,
			name, ns, i, ns, i%100, ns)
	}
	b.WriteString(`],"kind":"TriggerList","metadata":{"resourceVersion":"12345"}}`)
	return b.Bytes()
}

// BenchmarkDecodePage decodes a page of Triggers as listRaw does, item by
// item from a reader with encoding/json/v2's prototype, and, for reference,
// whole from bytes in one call with sigs.k8s.io/json (encoding/json), as
// the API machinery does.
func BenchmarkDecodePage(b *testing.B) {
	for _, n := range []int{100, 1000} {
		raw := triggerPage(n)
		b.Run(fmt.Sprintf("stream-v2/N=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				var meta metav1.ListMeta
				var items []consumer[eventingv1.TriggerSpec]
				keep := func(t *consumer[eventingv1.TriggerSpec]) { items = append(items, *t) }
				if err := decodePage(bytes.NewReader(raw), &meta, keep, func(string, string, error) {}); err != nil || len(items) != n {
					b.Fatalf("decoded %d items: %v", len(items), err)
				}
			}
		})
		b.Run(fmt.Sprintf("whole-v1/N=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				var p struct {
					Items []consumer[eventingv1.TriggerSpec] `json:"items"`
				}
				if err := json.UnmarshalCaseSensitivePreserveInts(raw, &p); err != nil || len(p.Items) != n {
					b.Fatalf("decoded %d items: %v", len(p.Items), err)
				}
			}
		})
	}
}
