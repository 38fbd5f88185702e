package mesh

import (
	"encoding/json"
	"testing"
)

func TestEncodeEmpty(t *testing.T) {
	var m Mesh
	m.Normalize()
	b, err := Encode(&m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"eventTypes":[],"brokers":[],"subscribables":[],"sources":[],` +
		`"sinks":[],"eventTransforms":[],"requestReplies":[],"flows":[],"eventPolicies":[],"defaultAuthorizationMode":"unknown"}`
	if string(b) != want {
		t.Errorf("Encode(empty) = %s, want %s", b, want)
	}
}

func TestNormalize(t *testing.T) {
	m := Mesh{
		EventTypes: []EventType{
			{Meta: Meta{Namespace: "b", Name: "x"}, ConsumedBy: []string{"z", "a", "z"}},
			{Meta: Meta{Namespace: "a", Name: "y"}},
			{Meta: Meta{Namespace: "a", Name: "x"}},
			{Meta: Meta{Namespace: "a", Name: "x"}},
		},
		Sources: []Source{
			{Meta: Meta{Namespace: "a", Name: "s"}, Group: "g2", Kind: "K"},
			{Meta: Meta{Namespace: "a", Name: "s"}, Group: "g1", Kind: "K", ProvidedEventTypeTypes: []string{"t2", "t1", "t1"}},
		},
	}
	m.Normalize()
	var got []string
	for _, e := range m.EventTypes {
		got = append(got, e.Namespace+"/"+e.Name)
	}
	if want := "[a/x a/y b/x]"; sprint(got) != want {
		t.Errorf("event types %v, want %s", got, want)
	}
	if c := m.EventTypes[2].ConsumedBy; sprint(c) != "[a z]" {
		t.Errorf("consumedBy %v, want [a z]", c)
	}
	if m.EventTypes[0].ConsumedBy == nil || m.Brokers == nil || m.Subscribables == nil {
		t.Error("a list is nil after Normalize")
	}
	if m.Sources[0].Group != "g1" || sprint(m.Sources[0].ProvidedEventTypeTypes) != "[t1 t2]" || m.Sources[1].ProvidedEventTypes == nil {
		t.Errorf("sources not normalized: %+v", m.Sources)
	}
	b1, _ := Encode(&m)
	m.Normalize()
	b2, _ := Encode(&m)
	if string(b1) != string(b2) {
		t.Error("Normalize is not idempotent")
	}
}

func TestNormalizeAdded(t *testing.T) {
	r := func(ns, name string) Reference { return Reference{Group: "g", Kind: "K", Namespace: ns, Name: name} }
	m := Mesh{
		Brokers: []Broker{{Meta: Meta{Namespace: "a", Name: "b"}, Access: Access{
			EventPolicies:   []string{"a/p2", "a/p1", "a/p2"},
			AllowedSenders:  []Sender{{Reference: r("a", "y")}, {Reference: r("a", "x"), BackstageID: "x"}, {Reference: r("a", "y")}},
			AllowedSubjects: []string{"s2", "s1", "s1"},
		}}},
		Flows: []Flow{
			{Meta: Meta{Namespace: "a", Name: "f"}, Kind: "Sequence", Calls: []Reference{r("a", "z"), r("a", "c"), r("a", "z")}},
			{Meta: Meta{Namespace: "a", Name: "e"}, Kind: "Parallel"},
		},
		EventPolicies: []EventPolicy{{Meta: Meta{Namespace: "a", Name: "p"},
			To: []PolicyTarget{{Selector: &PolicySelector{Kind: "K"}}, {Ref: &Reference{Name: "b"}}, {Selector: &PolicySelector{Kind: "K"}}}}},
		DefaultAuthorizationMode: "allow-all",
	}
	m.Normalize()
	a := m.Brokers[0].Access
	if sprint(a.EventPolicies) != "[a/p1 a/p2]" || sprint(a.AllowedSubjects) != "[s1 s2]" {
		t.Errorf("broker access not normalized: %+v", a)
	}
	if len(a.AllowedSenders) != 2 || a.AllowedSenders[0].Name != "x" {
		t.Errorf("senders %+v, want x then y", a.AllowedSenders)
	}
	if m.Flows[0].Name != "e" || m.Flows[0].Calls == nil || m.Flows[0].ConsumedBy == nil || m.Flows[0].AllowedSenders == nil {
		t.Errorf("flows not normalized: %+v", m.Flows)
	}
	if c := m.Flows[1].Calls; len(c) != 2 || c[0].Name != "c" {
		t.Errorf("calls %+v, want c then z", c)
	}
	if to := m.EventPolicies[0].To; len(to) != 2 || to[0].Ref == nil {
		t.Errorf("to %+v, want the reference, then the selector once", to)
	}
	if m.Sinks == nil || m.EventTransforms == nil || m.RequestReplies == nil || m.DefaultAuthorizationMode != "allow-all" {
		t.Errorf("a list is nil, or the mode changed: %+v", m)
	}
}

func sprint(s []string) string {
	out := "["
	for i, v := range s {
		if i > 0 {
			out += " "
		}
		out += v
	}
	return out + "]"
}

func TestSortedByJSON(t *testing.T) {
	ref := func(name string) PolicyTarget { return PolicyTarget{Ref: &Reference{Kind: "Broker", Name: name}} }
	sel := func(kind string) PolicyTarget { return PolicyTarget{Selector: &PolicySelector{Kind: kind}} }
	tests := []struct {
		name     string
		in, want []PolicyTarget
	}{
		{"nil", nil, []PolicyTarget{}},
		{"one", []PolicyTarget{sel("K")}, []PolicyTarget{sel("K")}},
		{"distinct", []PolicyTarget{sel("L"), ref("b"), sel("K")}, []PolicyTarget{ref("b"), sel("K"), sel("L")}},
		{"duplicates", []PolicyTarget{sel("K"), ref("b"), sel("K"), sel("L"), ref("b")}, []PolicyTarget{ref("b"), sel("K"), sel("L")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sortedByJSON(tt.in)
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if got == nil || string(g) != string(w) {
				t.Errorf("sortedByJSON = %s, want %s", g, w)
			}
		})
	}
}

func TestSortedDeclared(t *testing.T) {
	a, b := DeclaredEventType{Type: "a"}, DeclaredEventType{Type: "b", Schema: "s"}
	tests := []struct {
		name     string
		in, want []DeclaredEventType
	}{
		{"nil", nil, []DeclaredEventType{}},
		{"sorted, without duplicates", []DeclaredEventType{b, a, b}, []DeclaredEventType{a, b}},
	}
	for _, tt := range tests {
		got := sortedDeclared(tt.in)
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(tt.want)
		if got == nil || string(g) != string(w) {
			t.Errorf("%s: sortedDeclared = %s, want %s", tt.name, g, w)
		}
	}
}

func TestSortedReceivers(t *testing.T) {
	r := func(kind, ns, name string, ids ...string) Receiver {
		return Receiver{Kind: kind, Namespace: ns, Name: name, ConsumedBy: ids}
	}
	got := sortedReceivers([]Receiver{
		r("Trigger", "b", "t"), r("Trigger", "a", "t", "y", "x"), r("Subscription", "a", "t"), r("Trigger", "b", "t"), r("Trigger", "a", "u"),
	})
	var names []string
	for _, g := range got {
		names = append(names, g.Kind+" "+g.Namespace+"/"+g.Name)
	}
	want := "[Subscription a/t Trigger a/t Trigger a/u Trigger b/t]"
	if sprint(names) != want {
		t.Errorf("receivers %s, want %s", sprint(names), want)
	}
	if len(got) > 1 && sprint(got[1].ConsumedBy) != "[x y]" {
		t.Errorf("consumers %v, want them sorted", got[1].ConsumedBy)
	}
	if sortedReceivers(nil) != nil {
		t.Error("no receivers became a list: receivers are not part of the mesh JSON")
	}
}
