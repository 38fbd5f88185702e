package relate

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/objects"
)

func TestEventPolicies(t *testing.T) {
	brokerRef := &objects.Reference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "b"}
	pingRef := &objects.Reference{APIVersion: "sources.knative.dev/v1", Kind: "PingSource", Name: "ping"}
	ping := &objects.Kind{Group: "sources.knative.dev", Kind: "PingSource"}
	channel := &objects.Kind{Group: "messaging.knative.dev", Kind: "InMemoryChannel"}
	policy := func(name string, to []objects.PolicyTarget, from ...objects.PolicySender) objects.EventPolicy {
		return objects.EventPolicy{Meta: objects.Meta{Name: name, Namespace: "ns"}, To: to, From: from}
	}
	objs := &objects.Set{
		Brokers: []objects.Broker{
			{Meta: objects.Meta{Name: "b", Namespace: "ns"}, Addressable: objects.Addressable{Audience: "aud-b"}},
			{Meta: objects.Meta{Name: "c", Namespace: "ns", Labels: map[string]string{"tier": "gold"}},
				Addressable: objects.Addressable{Policies: []string{"from-status", "unknown-to-mesh"}}},
			{Meta: objects.Meta{Name: "b", Namespace: "other"}},
		},
		Subscribables: []objects.Object{{Kind: channel, Meta: objects.Meta{Name: "ch", Namespace: "ns", Labels: map[string]string{"tier": "gold"}}}},
		Sources:       []objects.Object{{Kind: ping, Meta: objects.Meta{Name: "ping", Namespace: "ns", Labels: map[string]string{BackstageIDLabel: "heartbeat"}}}},
		Targets:       []objects.Target{{Group: "sinks.knative.dev", Kind: "JobSink", Meta: objects.Meta{Name: "job", Namespace: "ns"}}},
		EventPolicies: []objects.EventPolicy{
			policy("to-b", []objects.PolicyTarget{{Ref: brokerRef}},
				objects.PolicySender{Ref: pingRef}, objects.PolicySender{Subject: "system:serviceaccount:ns:auditor"},
				objects.PolicySender{Ref: &objects.Reference{APIVersion: "v1", Kind: "ServiceAccount", Name: "sa", Namespace: "x"}}),
			policy("gold-brokers", []objects.PolicyTarget{{Selector: &objects.PolicySelector{APIVersion: "eventing.knative.dev/v1", Kind: "Broker",
				MatchExpressions: []objects.SelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"gold"}}}}}}),
			policy("whole-namespace", nil, objects.PolicySender{Subject: "system:serviceaccount:ns:*"}),
			policy("bad-selector", []objects.PolicyTarget{{Selector: &objects.PolicySelector{MatchExpressions: []objects.SelectorRequirement{{Key: "k", Operator: "Near"}}}}}),
			policy("bad-ref", []objects.PolicyTarget{{Ref: &objects.Reference{APIVersion: "a/b/c", Kind: "Broker", Name: "b"}}}),
			policy("from-status", []objects.PolicyTarget{{Ref: &objects.Reference{Kind: "Nothing", Name: "n"}}}),
			policy("to-b", nil), // a duplicate
		},
		DefaultAuthorizationMode: objects.DenyAll,
	}
	objs.EventPolicies[0].Subjects = []string{"system:serviceaccount:ns:oidc-ping"}
	m, skipped := Mesh(objs, nil)
	if len(skipped) != 2 || !strings.Contains(skipped[0], "bad-selector") || !strings.Contains(skipped[1], "bad-ref") {
		t.Errorf("skipped %q, want the two bad policies", skipped)
	}
	if m.DefaultAuthorizationMode != objects.DenyAll {
		t.Errorf("mode %q", m.DefaultAuthorizationMode)
	}
	pingSender := mesh.Sender{Reference: mesh.Reference{Group: "sources.knative.dev", Kind: "PingSource", Namespace: "ns", Name: "ping"}, BackstageID: "heartbeat"}
	saSender := mesh.Sender{Reference: mesh.Reference{Kind: "ServiceAccount", Namespace: "x", Name: "sa"}}
	tests := []struct {
		name string
		got  mesh.Access
		want mesh.Access
	}{
		{"broker ns/b", m.Brokers[0].Access, mesh.Access{Audience: "aud-b", EventPolicies: []string{"ns/to-b", "ns/whole-namespace"},
			AllowedSenders:  []mesh.Sender{pingSender, saSender},
			AllowedSubjects: []string{"system:serviceaccount:ns:*", "system:serviceaccount:ns:auditor", "system:serviceaccount:ns:oidc-ping"}}},
		{"broker ns/c", m.Brokers[1].Access, mesh.Access{EventPolicies: []string{"ns/from-status", "ns/gold-brokers", "ns/unknown-to-mesh", "ns/whole-namespace"},
			AllowedSenders: []mesh.Sender{}, AllowedSubjects: []string{"system:serviceaccount:ns:*"}}},
		{"broker other/b", m.Brokers[2].Access, mesh.Access{EventPolicies: []string{}, AllowedSenders: []mesh.Sender{}, AllowedSubjects: []string{}}},
		{"gold channel, not a broker", m.Subscribables[0].Access, mesh.Access{EventPolicies: []string{"ns/whole-namespace"},
			AllowedSenders: []mesh.Sender{}, AllowedSubjects: []string{"system:serviceaccount:ns:*"}}},
		{"job sink", m.Sinks[0].Access, mesh.Access{EventPolicies: []string{"ns/whole-namespace"},
			AllowedSenders: []mesh.Sender{}, AllowedSubjects: []string{"system:serviceaccount:ns:*"}}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s: access differs (-want +got):\n%s", tt.name, diff)
		}
	}
	var names []string
	for _, p := range m.EventPolicies {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"from-status", "gold-brokers", "to-b", "whole-namespace"}) {
		t.Errorf("policies %q", names)
	}
	toB := m.EventPolicies[2]
	want := mesh.EventPolicy{Meta: mesh.Meta{Name: "to-b", Namespace: "ns"},
		AppliesTo:       []mesh.Reference{{Group: "eventing.knative.dev", Kind: "Broker", Namespace: "ns", Name: "b"}},
		To:              []mesh.PolicyTarget{{Ref: &mesh.Reference{Group: "eventing.knative.dev", Kind: "Broker", Namespace: "ns", Name: "b"}}},
		AllowedSenders:  []mesh.Sender{pingSender, saSender},
		AllowedSubjects: []string{"system:serviceaccount:ns:auditor", "system:serviceaccount:ns:oidc-ping"},
	}
	if diff := cmp.Diff(want, toB); diff != "" {
		t.Errorf("policy to-b differs (-want +got):\n%s", diff)
	}
	gold := m.EventPolicies[1]
	wantTo := []mesh.PolicyTarget{{Selector: &mesh.PolicySelector{Group: "eventing.knative.dev", Kind: "Broker",
		MatchExpressions: []mesh.LabelRequirement{{Key: "tier", Operator: "In", Values: []string{"gold"}}}}}}
	if diff := cmp.Diff(wantTo, gold.To); diff != "" {
		t.Errorf("policy gold-brokers: to differs (-want +got):\n%s", diff)
	}
	if got := len(m.EventPolicies[3].AppliesTo); got != 4 {
		t.Errorf("whole-namespace applies to %d objects, want the 4 of ns", got)
	}
}

func TestDefaultAuthorizationModeUnknown(t *testing.T) {
	m, _ := Mesh(&objects.Set{}, nil)
	if m.DefaultAuthorizationMode != mesh.UnknownAuthorizationMode {
		t.Errorf("mode %q, want %q when it was not read", m.DefaultAuthorizationMode, mesh.UnknownAuthorizationMode)
	}
}

func TestTargets(t *testing.T) {
	objs := &objects.Set{Targets: []objects.Target{
		{Group: "sinks.knative.dev", Kind: "IntegrationSink", Meta: objects.Meta{Name: "log", Namespace: "ns"}},
		{Group: "eventing.knative.dev", Kind: "EventTransform", Meta: objects.Meta{Name: "tr", Namespace: "ns"},
			Addressable: objects.Addressable{Audience: "aud"}, Sink: &objects.Reference{APIVersion: "v1", Kind: "Service", Name: "s", Namespace: "o"}},
		{Group: "eventing.knative.dev", Kind: "EventTransform", Meta: objects.Meta{Name: "reply", Namespace: "ns"}},
		{Group: "eventing.knative.dev", Kind: "RequestReply", Meta: objects.Meta{Name: "rr", Namespace: "ns"},
			Broker: &objects.Reference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "b"}},
	}}
	m, _ := Mesh(objs, nil)
	got := mustJSON(t, []any{m.Sinks, m.EventTransforms, m.RequestReplies})
	access := `"eventPolicies":[],"allowedSenders":[],"allowedSubjects":[]`
	want := `[[{"name":"log","namespace":"ns","uid":"","labels":null,"annotations":null,"group":"sinks.knative.dev","kind":"IntegrationSink",` + access + `}],` +
		`[{"name":"reply","namespace":"ns","uid":"","labels":null,"annotations":null,"group":"eventing.knative.dev","kind":"EventTransform",` + access + `},` +
		`{"name":"tr","namespace":"ns","uid":"","labels":null,"annotations":null,"group":"eventing.knative.dev","kind":"EventTransform","audience":"aud",` + access +
		`,"sink":{"group":"","kind":"Service","namespace":"o","name":"s"}}],` +
		`[{"name":"rr","namespace":"ns","uid":"","labels":null,"annotations":null,"group":"eventing.knative.dev","kind":"RequestReply",` + access +
		`,"broker":{"group":"eventing.knative.dev","kind":"Broker","namespace":"ns","name":"b"}}]]`
	if got != want {
		t.Errorf("targets\n%s\nwant\n%s", got, want)
	}
}

// FuzzPolicyTargets checks that any spec.to either parses or is left out
// with an error, never panics, and that a reference applies to the object
// of its own kind and name alone.
func FuzzPolicyTargets(f *testing.F) {
	f.Add("eventing.knative.dev/v1", "Broker", "b", "tier", "In", "gold")
	f.Add("", "", "", "k", "Near", "")
	f.Add("a/b/c", "Broker", "b", "", "Exists", "")
	f.Add("v1", "Service", "s", "k!", "NotIn", "v")
	f.Fuzz(func(t *testing.T, apiVersion, kind, name, key, operator, value string) {
		p := &objects.EventPolicy{Meta: objects.Meta{Name: "p", Namespace: "ns"}, To: []objects.PolicyTarget{
			{Ref: &objects.Reference{APIVersion: apiVersion, Kind: kind, Name: name}},
			{Selector: &objects.PolicySelector{APIVersion: apiVersion, Kind: kind,
				MatchExpressions: []objects.SelectorRequirement{{Key: key, Operator: operator, Values: []string{value}}}}},
		}}
		targets, err := policyTargets(p)
		if err != nil {
			return
		}
		if len(targets) != 2 {
			t.Fatalf("%d targets of 2 entries", len(targets))
		}
		ref := targets[0]
		other := mesh.Reference{Group: ref.group, Kind: kind, Namespace: "ns", Name: name + "-other"}
		if appliesTo(targets[:1], other, nil) {
			t.Errorf("a reference to %q applies to %q", name, other.Name)
		}
		if kind != "" && !appliesTo(targets[:1], mesh.Reference{Group: ref.group, Kind: kind, Namespace: "ns", Name: name}, nil) {
			t.Errorf("a reference to %s %q does not apply to it", kind, name)
		}
	})
}

// TestPolicyTargetApplies checks which objects a spec.to entry selects: by
// group only when it names an apiVersion, by kind only when it names one.
func TestPolicyTargetApplies(t *testing.T) {
	broker := mesh.Reference{Group: "eventing.knative.dev", Kind: "Broker", Namespace: "ns", Name: "b"}
	gold := map[string]string{"tier": "gold"}
	goldSelector := func(apiVersion, kind string) objects.PolicyTarget {
		return objects.PolicyTarget{Selector: &objects.PolicySelector{APIVersion: apiVersion, Kind: kind, MatchLabels: gold}}
	}
	ref := func(apiVersion, kind, name string) objects.PolicyTarget {
		return objects.PolicyTarget{Ref: &objects.Reference{APIVersion: apiVersion, Kind: kind, Name: name}}
	}
	tests := []struct {
		name   string
		to     objects.PolicyTarget
		labels map[string]string
		want   bool
	}{
		{"ref", ref("eventing.knative.dev/v1", "Broker", "b"), nil, true},
		{"ref of another name", ref("eventing.knative.dev/v1", "Broker", "c"), nil, false},
		{"ref of another group", ref("messaging.knative.dev/v1", "Broker", "b"), nil, false},
		{"ref of another kind", ref("eventing.knative.dev/v1", "Trigger", "b"), nil, false},
		{"ref without apiVersion", ref("", "Broker", "b"), nil, true},
		{"ref without kind", ref("eventing.knative.dev/v1", "", "b"), nil, true},
		{"selector", goldSelector("eventing.knative.dev/v1", "Broker"), gold, true},
		{"selector, labels differ", goldSelector("eventing.knative.dev/v1", "Broker"), nil, false},
		{"selector of another group", goldSelector("messaging.knative.dev/v1", "Broker"), gold, false},
		{"selector without apiVersion", goldSelector("", "Broker"), gold, true},
		{"selector without kind", goldSelector("eventing.knative.dev/v1", ""), gold, true},
		{"selector of another kind", goldSelector("eventing.knative.dev/v1", "InMemoryChannel"), gold, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &objects.EventPolicy{Meta: objects.Meta{Name: "p", Namespace: "ns"}, To: []objects.PolicyTarget{tt.to}}
			targets, err := policyTargets(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := appliesTo(targets, broker, tt.labels); got != tt.want {
				t.Errorf("appliesTo = %v, want %v", got, tt.want)
			}
		})
	}
}
