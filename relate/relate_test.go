package relate

import (
	"fmt"
	"slices"
	"testing"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/objects"
)

func TestConvertEventType(t *testing.T) {
	broker := &objects.Reference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "b", Namespace: "elsewhere"}
	schema, source := "https://example.com/s.json", "https://example.com/src"
	tests := []struct {
		name    string
		in      objects.EventType
		want    mesh.EventType
		attrs   map[string]string
		wantErr bool
	}{{
		name: "v1beta2",
		in: objects.EventType{
			Meta: objects.Meta{Name: "e", Namespace: "ns", UID: "u", Annotations: map[string]string{LastAppliedAnnotation: "{}"}},
			Type: "t", Description: "d", Schema: schema, SchemaData: "{}", Source: source, Reference: broker,
		},
		want: mesh.EventType{Meta: mesh.Meta{Name: "e", Namespace: "ns", UID: "u"}, Type: "t", Description: "d",
			SchemaURL: "https://example.com/s.json", SchemaData: "{}",
			Reference: &mesh.Reference{Group: "eventing.knative.dev", Kind: "Broker", Namespace: "ns", Name: "b"}},
		attrs: map[string]string{"type": "t", "source": "https://example.com/src"},
	}, {
		name: "v1beta3",
		in: objects.EventType{
			Meta:        objects.Meta{Name: "e", Namespace: "ns", Labels: map[string]string{"a": "b"}},
			Description: "d", Reference: broker, Attributes: []objects.Attribute{
				{Name: "type", Value: "t", Required: true},
				{Name: "schemadata", Value: "https://example.com/s.json"},
				{Name: "Source", Value: "/apis/v1/namespaces/{namespace}/pingsources/{name}"},
				{Name: "subject", Value: "orders"},
				{Name: "id", Required: true},
			},
		},
		want: mesh.EventType{Meta: mesh.Meta{Name: "e", Namespace: "ns", Labels: map[string]string{"a": "b"}}, Type: "t",
			Description: "d", SchemaURL: "https://example.com/s.json",
			Reference: &mesh.Reference{Group: "eventing.knative.dev", Kind: "Broker", Namespace: "ns", Name: "b"}},
		attrs: map[string]string{"type": "t", "schemadata": "https://example.com/s.json", "subject": "orders"},
	}, {
		name: "v1beta3 dataschema",
		in: objects.EventType{Attributes: []objects.Attribute{
			{Name: "type", Value: "t"}, {Name: "dataschema", Value: "https://example.com/d.json"},
		}},
		want:  mesh.EventType{Type: "t", SchemaURL: "https://example.com/d.json"},
		attrs: map[string]string{"type": "t", "dataschema": "https://example.com/d.json"},
	}, {
		name:  "deprecated broker field",
		in:    objects.EventType{Meta: objects.Meta{Namespace: "ns"}, Type: "t", Broker: "b"},
		want:  mesh.EventType{Meta: mesh.Meta{Namespace: "ns"}, Type: "t", Reference: &mesh.Reference{Group: "eventing.knative.dev", Kind: "Broker", Namespace: "ns", Name: "b"}},
		attrs: map[string]string{"type": "t"},
	}, {
		name:  "reference with a bad apiVersion",
		in:    objects.EventType{Type: "t", Reference: &objects.Reference{APIVersion: "a/b/c", Kind: "Broker", Name: "b"}},
		want:  mesh.EventType{Type: "t"},
		attrs: map[string]string{"type": "t"},
	}, {
		name:    "no type",
		in:      objects.EventType{Description: "d"},
		wantErr: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convertEventType(&tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g, w := mustJSON(t, got.EventType), mustJSON(t, tt.want); g != w {
				t.Errorf("entity\n got %s\nwant %s", g, w)
			}
			if g, w := mustJSON(t, got.attrs), mustJSON(t, tt.attrs); g != w {
				t.Errorf("pinned attributes %s, want %s", g, w)
			}
		})
	}
}

func TestParseEventTypes(t *testing.T) {
	tests := []struct {
		in      string
		want    []mesh.DeclaredEventType
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "[]", want: []mesh.DeclaredEventType{}},
		{in: `[{"type":"a","description":"d"},{"type":"b","schema":"s"}]`, want: []mesh.DeclaredEventType{{Type: "a", Description: "d"}, {Type: "b", Schema: "s"}}},
		{in: `[{"description":"no type"},{"type":""},{"type":"c"}]`, want: []mesh.DeclaredEventType{{Type: "c"}}},
		{in: `[{"type":"a","extra":{"nested":true}}]`, want: []mesh.DeclaredEventType{{Type: "a"}}},
		{in: "not json", wantErr: true},
		{in: `{"type":"a"}`, wantErr: true},
		{in: `[{"type":1}]`, wantErr: true},
		{in: `["a"]`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseEventTypes(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseEventTypes(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !tt.wantErr && !slices.Equal(got, tt.want) {
			t.Errorf("ParseEventTypes(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseEventTypes(f *testing.F) {
	for _, s := range []string{"", "[]", `[{"type":"a"}]`, `[{"type":"a","schema":"s","description":"d"},{}]`, "not json", `[null]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, annotation string) {
		types, err := ParseEventTypes(annotation)
		if err != nil && types != nil {
			t.Fatalf("types %q together with error %v", types, err)
		}
		for _, typ := range types {
			if typ.Type == "" {
				t.Fatal("an empty type")
			}
		}
	})
}

func TestMeshRelations(t *testing.T) {
	kind := &objects.Kind{Group: "sources.knative.dev", Kind: "PingSource", Annotations: map[string]string{EventTypesAnnotation: `[{"type":"ping"}]`}}
	channel := &objects.Kind{Group: "messaging.knative.dev", Kind: "InMemoryChannel"}
	brokerRef := &objects.Reference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "b"}
	chRef := &objects.Reference{APIVersion: "messaging.knative.dev/v1", Kind: "InMemoryChannel", Name: "c"}
	sub := func(name string) *objects.Reference {
		return &objects.Reference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: name}
	}
	objs := &objects.Set{
		Brokers: []objects.Broker{{Meta: objects.Meta{Name: "b", Namespace: "ns"}, Addressable: objects.Addressable{URL: "http://b.ns"}}},
		EventTypes: []objects.EventType{
			{Meta: objects.Meta{Name: "ping", Namespace: "ns"}, Type: "ping", Reference: brokerRef},
			{Meta: objects.Meta{Name: "ping", Namespace: "other"}, Type: "ping"},
			{Meta: objects.Meta{Name: "order", Namespace: "ns"}, Type: "order", Reference: brokerRef},
			{Meta: objects.Meta{Name: "audit", Namespace: "ns"}, Type: "audit", Reference: chRef},
		},
		Triggers: []objects.Trigger{
			{Name: "t1", Namespace: "ns", Broker: "b", Subscriber: sub("s1"), Attributes: map[string]string{"type": "order"}},
			{Name: "t2", Namespace: "ns", BrokerRef: &objects.Reference{Name: "b"}, Subscriber: sub("s2")},
			{Name: "t3", Namespace: "ns", BrokerRef: &objects.Reference{Name: "b", Namespace: "x"}, Subscriber: sub("s3")},
			{Name: "t4", Namespace: "ns", Broker: "b", Subscriber: sub("unlabelled")},
			{Name: "t5", Namespace: "ns", Broker: "b", Subscriber: sub("s5"), Filters: []objects.Filter{{CESQL: "type = = 1"}}},
		},
		Subscribables: []objects.Object{{Kind: channel, Meta: objects.Meta{Name: "c", Namespace: "ns"}}},
		Sources: []objects.Object{{Kind: kind, Meta: objects.Meta{Name: "p", Namespace: "ns"},
			Sink: &objects.Reference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "b"}}},
		Subscribers: map[objects.Ref]string{
			{Group: "serving.knative.dev", Kind: "Service", Namespace: "ns", Name: "s1"}: "id1",
			{Group: "serving.knative.dev", Kind: "Service", Namespace: "ns", Name: "s2"}: "id2",
			{Group: "serving.knative.dev", Kind: "Service", Namespace: "ns", Name: "s3"}: "id3",
			{Group: "serving.knative.dev", Kind: "Service", Namespace: "ns", Name: "s5"}: "id5",
			{Group: "serving.knative.dev", Kind: "Service", Namespace: "ns", Name: "a"}:  "archiver",
		},
	}
	objs.Subscriptions = []objects.Subscription{
		{Name: "to-archiver", Namespace: "ns", Channel: *chRef, Subscriber: sub("a")},
		// A URI subscriber, and an unlabelled one: no consumer.
		{Name: "to-uri", Namespace: "ns", Channel: *chRef},
		{Name: "to-unlabelled", Namespace: "ns", Channel: *chRef, Subscriber: sub("unlabelled")},
	}
	m, skipped := Mesh(objs, nil)
	if len(skipped) != 1 {
		t.Errorf("skipped %q, want the invalid CESQL trigger only", skipped)
	}
	consumers := map[string][]string{}
	for _, et := range m.EventTypes {
		consumers[et.Namespace+"/"+et.Name] = et.ConsumedBy
	}
	want := map[string][]string{
		"ns/audit": {"archiver"}, "ns/order": {"id1", "id2"}, "ns/ping": {"id2"}, "other/ping": {},
	}
	if g, w := mustJSON(t, consumers), mustJSON(t, want); g != w {
		t.Errorf("consumedBy %s, want %s", g, w)
	}
	if got := m.Sources[0].ProvidedEventTypes; !slices.Equal(got, []string{"ns/ping"}) {
		t.Errorf("source provides %q, want only its own namespace's ns/ping", got)
	}
	if got := m.Subscribables[0].ProvidedEventTypes; !slices.Equal(got, []string{"ns/audit"}) {
		t.Errorf("channel provides %q", got)
	}
	if got := m.Brokers[0].ProvidedEventTypes; !slices.Equal(got, []string{"ns/order", "ns/ping"}) {
		t.Errorf("broker provides %q", got)
	}
	if got := m.Brokers[0].Address; got != "http://b.ns" {
		t.Errorf("broker address %q, want its status.address.url", got)
	}
	if got := m.Sources[0].DeclaredEventTypes; !slices.Equal(got, []mesh.DeclaredEventType{{Type: "ping"}}) {
		t.Errorf("source declares %+v", got)
	}
	if m.Receivers != nil || m.EventTypes[0].Attributes != nil {
		t.Errorf("Mesh filled receivers %+v or attributes %v", m.Receivers, m.EventTypes[0].Attributes)
	}

	// The same, for the AsyncAPI document: the same mesh JSON, and
	// receivers beside it.
	withReceivers, _ := MeshWithReceivers(objs, nil)
	if got, want := mustJSON(t, withReceivers), mustJSON(t, m); got != want {
		t.Errorf("MeshWithReceivers gives the mesh JSON\n%s\nwant\n%s", got, want)
	}
	receivers := map[string]string{}
	for _, r := range withReceivers.Receivers {
		receivers[r.Kind+" "+r.Name] = fmt.Sprintf("%s/%s %q %q %q", r.From.Kind, r.From.Name, r.Filter, r.EventTypes, r.ConsumedBy)
	}
	wantReceivers := map[string]string{
		// t3's broker is in another namespace: it receives nothing.
		"Trigger t1":                 `Broker/b "events where type is \"order\"" ["ns/order"] ["id1"]`,
		"Trigger t2":                 `Broker/b "" [] ["id2"]`,
		"Trigger t4":                 `Broker/b "" [] []`,
		"Trigger t5":                 `Broker/b "events where the CESQL expression \"type = = 1\" holds" [] ["id5"]`,
		"Subscription to-archiver":   `InMemoryChannel/c "" [] ["archiver"]`,
		"Subscription to-uri":        `InMemoryChannel/c "" [] []`,
		"Subscription to-unlabelled": `InMemoryChannel/c "" [] []`,
	}
	if g, w := mustJSON(t, receivers), mustJSON(t, wantReceivers); g != w {
		t.Errorf("receivers %s, want %s", g, w)
	}
	for _, et := range withReceivers.EventTypes {
		if et.Attributes["type"] != et.Type {
			t.Errorf("EventType %s/%s: attributes %v, want its type", et.Namespace, et.Name, et.Attributes)
		}
	}
}

func TestDescribeTrigger(t *testing.T) {
	tests := []struct {
		in   objects.Trigger
		want string
	}{
		{objects.Trigger{}, ""},
		{objects.Trigger{Attributes: map[string]string{}}, ""},
		{objects.Trigger{Attributes: map[string]string{"type": "a", "source": ""}}, `events where source is set and type is "a"`},
		{objects.Trigger{Attributes: map[string]string{"type": "a"}, Filters: []objects.Filter{{Prefix: map[string]string{"type": "com."}}}},
			`events where type starts with "com."`},
		{objects.Trigger{Filters: []objects.Filter{{Exact: map[string]string{"type": "a"}}, {Suffix: map[string]string{"source": "/x"}}}},
			`events where (type is "a") and (source ends with "/x")`},
		{objects.Trigger{Filters: []objects.Filter{{Any: []objects.Filter{{Exact: map[string]string{"type": "a"}}, {Not: &objects.Filter{CESQL: "true"}}}}}},
			`events where (type is "a") or (not (the CESQL expression "true" holds))`},
		// Only the first dialect counts, and none lets all through.
		{objects.Trigger{Filters: []objects.Filter{{Exact: map[string]string{"type": "a"}, CESQL: "false"}}}, `events where type is "a"`},
		{objects.Trigger{Filters: []objects.Filter{{All: []objects.Filter{}}}}, "events where any event"},
	}
	for _, tt := range tests {
		if got := describeTrigger(&tt.in); got != tt.want {
			t.Errorf("describeTrigger(%+v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDuplicateAndTemplatedTypes(t *testing.T) {
	attrs := func(defs ...objects.Attribute) *objects.EventType {
		return &objects.EventType{Attributes: defs}
	}
	tests := []struct {
		name     string
		in       *objects.EventType
		typ      string
		pinned   bool
		wantSkip bool
	}{
		{"empty then set", attrs(objects.Attribute{Name: "type"}, objects.Attribute{Name: "type", Value: "b"}), "b", true, false},
		{"last wins", attrs(objects.Attribute{Name: "type", Value: "a"}, objects.Attribute{Name: "TYPE", Value: "b"}), "b", true, false},
		{"template", attrs(objects.Attribute{Name: "type", Value: "com.example.{kind}"}), "com.example.{kind}", false, false},
		{"only empty", attrs(objects.Attribute{Name: "type"}), "", false, true},
	}
	for _, tt := range tests {
		et, err := convertEventType(tt.in)
		if tt.wantSkip {
			if err == nil {
				t.Errorf("%s: no error", tt.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		_, pinned := et.attrs["type"]
		if et.Type != tt.typ || pinned != tt.pinned {
			t.Errorf("%s: type %q pinned %v, want %q pinned %v", tt.name, et.Type, pinned, tt.typ, tt.pinned)
		}
	}
}

func TestMeta(t *testing.T) {
	tests := []struct {
		name              string
		labels, annots    map[string]string
		wantL, wantAnnots map[string]string
	}{
		{name: "none"},
		{name: "empty maps are null", labels: map[string]string{}, annots: map[string]string{}},
		{name: "carried", labels: map[string]string{"app": "shop"}, annots: map[string]string{"note": "x"},
			wantL: map[string]string{"app": "shop"}, wantAnnots: map[string]string{"note": "x"}},
		{name: "last applied dropped", annots: map[string]string{LastAppliedAnnotation: "{}", "note": "x"},
			wantAnnots: map[string]string{"note": "x"}},
		{name: "only last applied: null", annots: map[string]string{LastAppliedAnnotation: "{}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &objects.Meta{Name: "n", Namespace: "ns", UID: "u", Labels: tt.labels, Annotations: tt.annots}
			got := meta(o)
			want := mesh.Meta{Name: "n", Namespace: "ns", UID: "u", Labels: tt.wantL, Annotations: tt.wantAnnots}
			if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
				t.Errorf("meta = %s, want %s", g, w)
			}
			// The mesh gets copies: changing them leaves the object alone.
			if got.Labels != nil {
				got.Labels["added"] = "x"
			}
			if got.Annotations != nil {
				got.Annotations["added"] = "x"
			}
			if _, ok := tt.labels["added"]; ok {
				t.Error("the mesh's labels are the object's own map")
			}
			if _, ok := tt.annots["added"]; ok {
				t.Error("the mesh's annotations are the object's own map")
			}
		})
	}
}

func TestSourceSink(t *testing.T) {
	ping := &objects.Kind{Group: "sources.knative.dev", Kind: "PingSource"}
	tests := []struct {
		name string
		sink *objects.Reference
		want string
	}{
		{"none", nil, `null`},
		{"in the source's namespace", &objects.Reference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "b"},
			`{"group":"eventing.knative.dev","kind":"Broker","namespace":"ns","name":"b"}`},
		{"in the ref's namespace", &objects.Reference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "b", Namespace: "other"},
			`{"group":"eventing.knative.dev","kind":"Broker","namespace":"other","name":"b"}`},
		{"no kind", &objects.Reference{APIVersion: "v1", Name: "b"}, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := &objects.Set{Sources: []objects.Object{{Kind: ping, Meta: objects.Meta{Name: "p", Namespace: "ns"}, Sink: tt.sink}}}
			m, _ := Mesh(objs, nil)
			if got := mustJSON(t, m.Sources[0].Sink); got != tt.want {
				t.Errorf("sink = %s, want %s", got, tt.want)
			}
		})
	}
}
