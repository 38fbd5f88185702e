package mesh

import (
	"testing"
)

func TestEncodeEmpty(t *testing.T) {
	var m Mesh
	m.Normalize()
	b, err := Encode(&m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"eventTypes":[],"brokers":[],"subscribables":[],"sources":[]}`; string(b) != want {
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
