package asyncapi

import (
	"encoding/json"
	"testing"

	"github.com/knative-eventmesh/function/mesh"
)

// TestProducersAndReceivers checks an EventTransform's send into its sink,
// and the group of each kind of receiver.
func TestProducersAndReceivers(t *testing.T) {
	d := New(everyKind())
	send := d.Operations[ID("send", "EventTransform", "shop", "redact", "eventing.knative.dev", "InMemoryChannel", "shop", "audit", "messaging.knative.dev")]
	if send == nil || send.Action != "send" || send.Channel.Ref != "#/channels/"+ChannelID(mesh.Reference{Group: "messaging.knative.dev", Kind: "InMemoryChannel", Namespace: "shop", Name: "audit"}) {
		t.Errorf("the EventTransform's send into its sink: %+v", send)
	}
	for _, tt := range []struct{ kind, name, group string }{
		{"Trigger", "pack", "eventing.knative.dev"},
		{"Subscription", "archive", "messaging.knative.dev"},
	} {
		op := d.Operations[ID("receive", tt.kind, "shop", tt.name)]
		if op == nil || op.Object == nil || op.Object.Group != tt.group {
			t.Errorf("%s shop/%s: operation %+v, want one of group %s", tt.kind, tt.name, op, tt.group)
		}
	}
}

// TestSourcesOnly checks a mesh with a source and no receiver.
func TestSourcesOnly(t *testing.T) {
	m := &mesh.Mesh{Sources: []mesh.Source{{Meta: mesh.Meta{Namespace: "ns", Name: "p"}, Group: "sources.knative.dev", Kind: "PingSource"}}}
	m.Normalize()
	d := New(m)
	if len(d.Operations) != 1 || d.Operations[ID("send", "PingSource", "ns", "p", "sources.knative.dev")] == nil {
		t.Errorf("operations %v, want the source's send alone", keys(d.Operations))
	}
}

// TestDeclaredOfOneType checks that two entries of one type that a CRD
// declares become two messages, the first with the plain id.
func TestDeclaredOfOneType(t *testing.T) {
	m := &mesh.Mesh{Sources: []mesh.Source{{Meta: mesh.Meta{Namespace: "ns", Name: "p"}, Group: "sources.knative.dev", Kind: "PingSource",
		DeclaredEventTypes: []mesh.DeclaredEventType{{Type: "t", Schema: "https://s.example/a"}, {Type: "t", Schema: "https://s.example/b"}}}}}
	m.Normalize()
	d := New(m)
	first, second := ID("declared", "PingSource", "sources.knative.dev", "t"), ID("declared", "PingSource", "sources.knative.dev", "t", "1")
	for id, schema := range map[string]string{first: "https://s.example/a", second: "https://s.example/b"} {
		msg := d.Components.Messages[id]
		if msg == nil || msg.Payload != (Ref{schema}) {
			t.Errorf("message %s: %+v, want the payload %s", id, msg, schema)
		}
	}
	if n := len(d.Components.Messages); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
}

func TestHeaders(t *testing.T) {
	tests := []struct {
		name, typ string
		attrs     map[string]string
		want      string
	}{
		{"type", "a.b", nil, `{"type":{"const":"a.b"}}`},
		{"no type", "", nil, `{}`},
		{"templated type", "a.{b}", nil, `{}`},
		{"type from the attributes", "a", map[string]string{"type": "b", "source": "/s"}, `{"source":{"const":"/s"},"type":{"const":"b"}}`},
	}
	for _, tt := range tests {
		s := headers(tt.typ, tt.attrs)
		got := map[string]map[string]string{}
		for name, p := range s.Properties {
			got[name] = map[string]string{"const": *p.Const}
		}
		b, _ := json.Marshal(got)
		if string(b) != tt.want || len(s.Required) != len(s.Properties) {
			t.Errorf("%s: properties %s, required %q; want %s, all required", tt.name, b, s.Required, tt.want)
		}
	}
}

func TestPayload(t *testing.T) {
	tests := []struct {
		name, schemaData, schemaURL string
		want                        any
	}{
		{"http", "", "http://s.example/x.json", Ref{"http://s.example/x.json"}},
		{"https", "", "https://s.example/x.json", Ref{"https://s.example/x.json"}},
		{"other scheme", "", "ftp://s.example/x.json", openPayload},
		{"no host", "", "http:///x.json", openPayload},
		{"relative", "", "/x.json", openPayload},
		{"inline", `{"type":"object"}`, "https://s.example/x.json", Ref{"#/components/schemas/m"}},
		{"inline not an object", `[1]`, "", openPayload},
	}
	for _, tt := range tests {
		w := newWriter(&mesh.Mesh{})
		got := w.payload("m", tt.schemaData, tt.schemaURL)
		g, _ := json.Marshal(got)
		want, _ := json.Marshal(tt.want)
		if string(g) != string(want) {
			t.Errorf("%s: payload %s, want %s", tt.name, g, want)
		}
	}
}

// TestIDCharacters checks the ends of the ranges of characters an id keeps.
func TestIDCharacters(t *testing.T) {
	if got := ID("azAZ09.-"); got != "azAZ09.-" {
		t.Errorf("ID kept %q of azAZ09.-", got)
	}
	if got, want := ID("`{@[/:_"), "_60_7B_40_5B_2F_3A_5F"; got != want {
		t.Errorf("ID = %q, want %q", got, want)
	}
}
