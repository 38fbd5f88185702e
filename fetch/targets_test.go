package fetch

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	flowsv1 "knative.dev/eventing/pkg/apis/flows/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/knative-eventmesh/function/objects"
)

// decodeAll decodes a page of items of type T, converting each, and
// returns them and the items reported bad.
func decodeAll[T any, P item[T], O any](t *testing.T, page string, convert func(*T) O) ([]O, []string) {
	t.Helper()
	var got []O
	var bad []string
	var meta metav1.ListMeta
	err := decodePage[T, P](strings.NewReader(page), &meta, func(v *T) { got = append(got, convert(v)) }, func(name, ns string, err error) {
		bad = append(bad, ns+"/"+name)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, bad
}

func TestDecodeEventPolicies(t *testing.T) {
	page := `{"items":[
	{"metadata":{"name":"p","namespace":"ns","uid":"u"},
	 "spec":{"to":[{"ref":{"apiVersion":"eventing.knative.dev/v1","kind":"Broker","name":"b"}},
	               {"selector":{"apiVersion":"sinks.knative.dev/v1alpha1","kind":"JobSink","matchLabels":{"a":"b"},
	                            "matchExpressions":[{"key":"k","operator":"In","values":["v"]}]}}],
	         "from":[{"ref":{"apiVersion":"sources.knative.dev/v1","kind":"PingSource","name":"s","namespace":"other"}},{"sub":"system:serviceaccount:ns:sa"}],
	         "filters":[{"exact":{"type":"t"}}]},
	 "status":{"from":["system:serviceaccount:other:s-oidc"],"conditions":[{"type":"Ready","status":"True"}]}},
	{"metadata":{"name":"bad","namespace":"ns"},"spec":{"from":"everyone"}},
	{"metadata":{"name":"empty","namespace":"ns"},"spec":{}}]}`
	got, bad := decodeAll[eventPolicyItem](t, page, (*eventPolicyItem).eventPolicy)
	want := []objects.EventPolicy{{
		Meta: objects.Meta{Name: "p", Namespace: "ns", UID: "u"},
		To: []objects.PolicyTarget{
			{Ref: &objects.Reference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "b"}},
			{Selector: &objects.PolicySelector{APIVersion: "sinks.knative.dev/v1alpha1", Kind: "JobSink", MatchLabels: map[string]string{"a": "b"},
				MatchExpressions: []objects.SelectorRequirement{{Key: "k", Operator: "In", Values: []string{"v"}}}}},
		},
		From: []objects.PolicySender{
			{Ref: &objects.Reference{APIVersion: "sources.knative.dev/v1", Kind: "PingSource", Name: "s", Namespace: "other"}},
			{Subject: "system:serviceaccount:ns:sa"},
		},
		Filtered: true,
		Subjects: []string{"system:serviceaccount:other:s-oidc"},
	}, {Meta: objects.Meta{Name: "empty", Namespace: "ns"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("policies differ (-want +got):\n%s", diff)
	}
	if len(bad) != 1 || bad[0] != "ns/bad" {
		t.Errorf("reported %q, want ns/bad alone", bad)
	}
}

func TestDecodeAddressables(t *testing.T) {
	page := `{"items":[{"metadata":{"name":"b","namespace":"ns"},
	  "status":{"address":{"url":"http://b.example","audience":"eventing.knative.dev/broker/ns/b"},
	            "policies":[{"apiVersion":"eventing.knative.dev/v1alpha1","name":"p"}]}},
	  {"metadata":{"name":"plain","namespace":"ns"}}]}`
	got, _ := decodeAll[addressableItem[noSpec]](t, page, func(i *addressableItem[noSpec]) objects.Addressable { return i.Status.addressable() })
	want := []objects.Addressable{{URL: "http://b.example", Audience: "eventing.knative.dev/broker/ns/b", Policies: []string{"p"}}, {}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("addressables differ (-want +got):\n%s", diff)
	}
}

func TestDecodeFlows(t *testing.T) {
	page := `{"items":[{"metadata":{"name":"seq","namespace":"ns"},
	  "spec":{"steps":[{"ref":{"apiVersion":"serving.knative.dev/v1","kind":"Service","name":"a"}},{"uri":"http://x"},
	                   {"ref":{"apiVersion":"flows.knative.dev/v1","kind":"Parallel","name":"p","namespace":"o"}}],
	          "reply":{"ref":{"apiVersion":"eventing.knative.dev/v1","kind":"Broker","name":"b"}}},
	  "status":{"address":{"url":"http://seq","audience":"aud"}}}]}`
	var seen []string
	see := func(r *duckv1.KReference) { seen = append(seen, r.Kind+"/"+r.Name) }
	got, bad := decodeAll[addressableItem[flowsv1.SequenceSpec]](t, page, sequenceOf(see))
	if len(bad) != 0 || len(got) != 1 {
		t.Fatalf("got %d flows, bad %q", len(got), bad)
	}
	f := got[0]
	if f.Audience != "aud" || len(f.Steps) != 3 || f.Steps[1] != nil || f.Replies[0].Kind != "Broker" {
		t.Errorf("flow %+v", f)
	}
	if strings.Join(seen, ",") != "Service/a,Parallel/p" {
		t.Errorf("seen %q, want the steps' objects, not the reply", seen)
	}
}

func TestDecodeParallel(t *testing.T) {
	page := `{"items":[{"metadata":{"name":"par","namespace":"ns"},
	  "spec":{"branches":[{"filter":{"ref":{"apiVersion":"v1","kind":"Service","name":"f"}},"subscriber":{"ref":{"apiVersion":"v1","kind":"Service","name":"s"}},
	                       "reply":{"ref":{"apiVersion":"v1","kind":"Service","name":"r"}}},
	                      {"subscriber":{"uri":"http://x"}}]}}]}`
	var seen []string
	see := func(r *duckv1.KReference) { seen = append(seen, r.Name) }
	got, _ := decodeAll[addressableItem[flowsv1.ParallelSpec]](t, page, parallelOf(see))
	if len(got) != 1 || len(got[0].Steps) != 4 || got[0].Replies[0].Name != "r" {
		t.Fatalf("flows %+v", got)
	}
	if strings.Join(seen, ",") != "f,s" {
		t.Errorf("seen %q, want the filter and subscriber", seen)
	}
}
