package relate

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/knative-eventmesh/function/objects"
)

func svc(name string) *objects.Reference {
	return &objects.Reference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: name}
}

func flowRef(kind, name string) *objects.Reference {
	return &objects.Reference{APIVersion: "flows.knative.dev/v1", Kind: kind, Name: name}
}

func svcKey(name string) objects.Ref {
	return objects.Ref{Group: "serving.knative.dev", Kind: "Service", Namespace: "ns", Name: name}
}

// flowMesh is a Broker b with one EventType, and a Trigger to subscriber.
func flowMesh(subscriber *objects.Reference, flows ...objects.Flow) *objects.Set {
	return &objects.Set{
		Brokers:    []objects.Broker{{Meta: objects.Meta{Name: "b", Namespace: "ns"}}},
		EventTypes: []objects.EventType{{Meta: objects.Meta{Name: "e", Namespace: "ns"}, Type: "t", Broker: "b"}},
		Triggers:   []objects.Trigger{{Name: "t", Namespace: "ns", Broker: "b", Subscriber: subscriber}},
		Flows:      flows,
		Subscribers: map[objects.Ref]string{
			svcKey("a"): "a", svcKey("b"): "b", svcKey("c"): "c", svcKey("f"): "f",
			{Group: "flows.knative.dev", Kind: "Sequence", Namespace: "ns", Name: "labelled"}: "the-sequence",
		},
	}
}

func sequence(name string, steps ...*objects.Reference) objects.Flow {
	return objects.Flow{Kind: "Sequence", Meta: objects.Meta{Name: name, Namespace: "ns"}, Steps: steps}
}

func TestFlowsFollowedThrough(t *testing.T) {
	parallel := objects.Flow{Kind: "Parallel", Meta: objects.Meta{Name: "p", Namespace: "ns"},
		Steps: []*objects.Reference{svc("f"), svc("c"), nil, flowRef("Sequence", "inner")}, Replies: []*objects.Reference{svc("a")}}
	tests := []struct {
		name       string
		subscriber *objects.Reference
		flows      []objects.Flow
		want       []string
		warnings   []string
	}{
		{"service", svc("a"), nil, []string{"a"}, nil},
		{"sequence of two steps", flowRef("Sequence", "s"), []objects.Flow{sequence("s", svc("a"), svc("b"))}, []string{"a", "b"}, nil},
		{"labelled sequence counts itself", flowRef("Sequence", "labelled"), []objects.Flow{sequence("labelled", svc("a"))}, []string{"a", "the-sequence"}, nil},
		{"unlabelled step and URI left out", flowRef("Sequence", "s"), []objects.Flow{sequence("s", svc("nolabel"), nil, svc("b"))}, []string{"b"}, nil},
		{"parallel: filters and subscribers, not replies, nested", flowRef("Parallel", "p"),
			[]objects.Flow{parallel, sequence("inner", svc("b"))}, []string{"b", "c", "f"}, nil},
		{"missing flow", flowRef("Sequence", "gone"), nil, []string{}, nil},
		{"cycle", flowRef("Sequence", "x"),
			[]objects.Flow{sequence("x", svc("a"), flowRef("Sequence", "y")), sequence("y", svc("b"), flowRef("Sequence", "x"))},
			[]string{"a", "b"}, []string{"cycle (Sequence ns/x → Sequence ns/y → Sequence ns/x)"}},
		{"self", flowRef("Sequence", "x"), []objects.Flow{sequence("x", svc("a"), flowRef("Sequence", "x"))},
			[]string{"a"}, []string{"cycle (Sequence ns/x → Sequence ns/x)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, skipped := Mesh(flowMesh(tt.subscriber, tt.flows...), nil)
			if got := m.EventTypes[0].ConsumedBy; !slices.Equal(got, tt.want) {
				t.Errorf("consumedBy %q, want %q", got, tt.want)
			}
			if len(skipped) != len(tt.warnings) {
				t.Fatalf("warnings %q, want %q", skipped, tt.warnings)
			}
			for i, w := range tt.warnings {
				if !strings.Contains(skipped[i], w) {
					t.Errorf("warning %q does not say %q", skipped[i], w)
				}
			}
		})
	}
}

func TestFlowDepthBound(t *testing.T) {
	// Each flow of a chain calls a service of its own and the next flow:
	// the first MaxFlowDepth flows are walked, the rest are not.
	var flows []objects.Flow
	var want []string
	for i := range MaxFlowDepth + 2 {
		id := fmt.Sprint("d", i)
		flows = append(flows, sequence(fmt.Sprint("s", i), svc(id), flowRef("Sequence", fmt.Sprint("s", i+1))))
		if i < MaxFlowDepth {
			want = append(want, id)
		}
	}
	flows = append(flows, sequence(fmt.Sprint("s", MaxFlowDepth+2), svc("b")))
	slices.Sort(want)
	objs := flowMesh(flowRef("Sequence", "s0"), flows...)
	for i := range MaxFlowDepth + 2 {
		objs.Subscribers[svcKey(fmt.Sprint("d", i))] = fmt.Sprint("d", i)
	}
	m, skipped := Mesh(objs, nil)
	if got := m.EventTypes[0].ConsumedBy; !slices.Equal(got, want) {
		t.Errorf("consumedBy %q, want %q: the flows beyond the bound are not walked", got, want)
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0], fmt.Sprintf("more than %d deep", MaxFlowDepth)) {
		t.Errorf("warnings %q, want one about the depth", skipped)
	}
}

func TestFlowEntities(t *testing.T) {
	s := sequence("s", svc("a"), flowRef("Parallel", "p"), nil)
	s.Replies = []*objects.Reference{{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "b"}, nil}
	s.Audience = "aud"
	p := objects.Flow{Kind: "Parallel", Meta: objects.Meta{Name: "p", Namespace: "ns"}, Steps: []*objects.Reference{nil, svc("c")}}
	m, _ := Mesh(flowMesh(nil, s, p, s), nil)
	if len(m.Flows) != 2 {
		t.Fatalf("flows %+v, want p and s once each", m.Flows)
	}
	got := mustJSON(t, m.Flows[1])
	want := `{"name":"s","namespace":"ns","uid":"","labels":null,"annotations":null,"group":"flows.knative.dev","kind":"Sequence",` +
		`"audience":"aud","eventPolicies":[],"allowedSenders":[],"allowedSubjects":[],` +
		`"calls":[{"group":"serving.knative.dev","kind":"Service","namespace":"ns","name":"a"},{"group":"flows.knative.dev","kind":"Parallel","namespace":"ns","name":"p"}],` +
		`"replies":[{"group":"eventing.knative.dev","kind":"Broker","namespace":"ns","name":"b"}],"consumedBy":["a","c"]}`
	if got != want {
		t.Errorf("sequence\n%s\nwant\n%s", got, want)
	}
}
