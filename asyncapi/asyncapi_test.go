package asyncapi

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/knative-eventmesh/function/mesh"
)

// everyKind is a mesh with every kind of entity and relation the document
// shows: EventTypes of both schema kinds and without, on a Broker and a
// channel; sources into a Broker, a Service and a URI, with declared
// types; a filtered and an open Trigger; a Subscription; a Sequence's
// reply; an EventTransform.
func everyKind() *mesh.Mesh {
	broker := mesh.Reference{Group: "eventing.knative.dev", Kind: "Broker", Namespace: "shop", Name: "orders"}
	channel := mesh.Reference{Group: "messaging.knative.dev", Kind: "InMemoryChannel", Namespace: "shop", Name: "audit"}
	svc := func(name string) *mesh.Reference {
		return &mesh.Reference{Group: "serving.knative.dev", Kind: "Service", Namespace: "shop", Name: name}
	}
	m := &mesh.Mesh{
		EventTypes: []mesh.EventType{
			{Meta: mesh.Meta{Namespace: "shop", Name: "created"}, Type: "com.example.order.created", Description: "An order was placed.",
				SchemaURL: "https://schemas.example.com/order-created.json", Reference: &broker, ConsumedBy: []string{"packer"},
				Attributes: map[string]string{"type": "com.example.order.created", "source": "/shop", "datacontenttype": "application/json"}},
			{Meta: mesh.Meta{Namespace: "shop", Name: "shipped"}, Type: "com.example.order.shipped",
				SchemaData: `{"type":"object","properties":{"orderId":{"type":"string"}}}`, Reference: &broker,
				Attributes: map[string]string{"type": "com.example.order.shipped"}},
			{Meta: mesh.Meta{Namespace: "shop", Name: "entry"}, Type: "com.example.audit.entry", Reference: &channel,
				Attributes: map[string]string{"type": "com.example.audit.entry"}},
			{Meta: mesh.Meta{Namespace: "shop", Name: "ping"}, Type: "dev.knative.sources.ping", Reference: &broker,
				Attributes: map[string]string{"type": "dev.knative.sources.ping"}},
			{Meta: mesh.Meta{Namespace: "shop", Name: "templated"}, Type: "com.example.{kind}.made"},
		},
		Brokers: []mesh.Broker{{Meta: mesh.Meta{Namespace: "shop", Name: "orders"},
			ProvidedEventTypes: []string{"shop/created", "shop/ping", "shop/shipped"},
			Access:             mesh.Access{Address: "http://broker-ingress.knative-eventing.svc.cluster.local/shop/orders", Audience: "aud"}}},
		Subscribables: []mesh.Subscribable{{Meta: mesh.Meta{Namespace: "shop", Name: "audit"}, Group: channel.Group, Kind: channel.Kind,
			ProvidedEventTypes: []string{"shop/entry"}}},
		Sources: []mesh.Source{
			{Meta: mesh.Meta{Namespace: "shop", Name: "heartbeat"}, Group: "sources.knative.dev", Kind: "PingSource",
				ProvidedEventTypeTypes: []string{"dev.knative.sources.ping"}, ProvidedEventTypes: []string{"shop/ping"},
				DeclaredEventTypes: []mesh.DeclaredEventType{{Type: "dev.knative.sources.ping", Description: "A ping."}}, Sink: &broker},
			{Meta: mesh.Meta{Namespace: "shop", Name: "events"}, Group: "sources.knative.dev", Kind: "ApiServerSource",
				ProvidedEventTypeTypes: []string{"dev.knative.apiserver.resource.add", "dev.knative.apiserver.resource.delete"},
				DeclaredEventTypes: []mesh.DeclaredEventType{{Type: "dev.knative.apiserver.resource.add", Schema: "https://example.com/add.json"},
					{Type: "dev.knative.apiserver.resource.delete"}}, Sink: svc("logger")},
			{Meta: mesh.Meta{Namespace: "shop", Name: "to-uri"}, Group: "sources.knative.dev", Kind: "PingSource",
				DeclaredEventTypes: []mesh.DeclaredEventType{{Type: "dev.knative.sources.ping", Description: "A ping."}}},
		},
		Flows: []mesh.Flow{{Meta: mesh.Meta{Namespace: "shop", Name: "fulfilment"}, Group: "flows.knative.dev", Kind: "Sequence",
			Calls: []mesh.Reference{*svc("packer")}, Replies: []mesh.Reference{broker}}},
		EventTransforms: []mesh.Transform{{Meta: mesh.Meta{Namespace: "shop", Name: "redact"}, Group: "eventing.knative.dev", Kind: "EventTransform",
			Sink: &channel}},
		Receivers: []mesh.Receiver{
			{Kind: "Trigger", Namespace: "shop", Name: "pack", From: broker, Subscriber: svc("packer"), ConsumedBy: []string{"packer"},
				Filter: `events where type is "com.example.order.created"`, EventTypes: []string{"shop/created"}},
			{Kind: "Trigger", Namespace: "shop", Name: "all", From: broker, Subscriber: svc("logger")},
			{Kind: "Trigger", Namespace: "shop", Name: "none", From: broker, Filter: `events where type is "nothing"`},
			{Kind: "Subscription", Namespace: "shop", Name: "archive", From: channel, Subscriber: svc("archiver")},
		},
	}
	m.Normalize()
	return m
}

func TestNew(t *testing.T) {
	d := New(everyKind())
	check(t, d)
	orders := ChannelID(mesh.Reference{Group: "eventing.knative.dev", Kind: "Broker", Namespace: "shop", Name: "orders"})
	if c := d.Channels[orders]; c == nil || c.Address == nil || *c.Address != "http://broker-ingress.knative-eventing.svc.cluster.local/shop/orders" {
		t.Fatalf("channel %s: %+v, want the Broker with its address", orders, c)
	}
	if got := keys(d.Channels[orders].Messages); !slices.Equal(got, []string{"EventType__shop__created", "EventType__shop__ping", "EventType__shop__shipped"}) {
		t.Errorf("messages of the Broker %q", got)
	}
	created := d.Components.Messages["EventType__shop__created"]
	if created.Name != "com.example.order.created" || created.ContentType != "application/json" {
		t.Errorf("message created: name %q, contentType %q", created.Name, created.ContentType)
	}
	if p := created.Payload.(Ref); p.Ref != "https://schemas.example.com/order-created.json" {
		t.Errorf("payload of created %+v, want a $ref to its schema URL", p)
	}
	if s := created.Headers.Properties["source"]; s == nil || *s.Const != "/shop" || !slices.Equal(created.Headers.Required, []string{"datacontenttype", "source", "type"}) {
		t.Errorf("headers of created %+v", created.Headers)
	}
	if p := d.Components.Messages["EventType__shop__shipped"].Payload.(Ref); p.Ref != "#/components/schemas/EventType__shop__shipped" {
		t.Errorf("payload of shipped %+v, want its inline schema", p)
	}
	if _, ok := d.Components.Messages["EventType__shop__templated"].Headers.Properties["type"]; ok {
		t.Error("a templated type is fixed in the headers")
	}
	// The PingSource's declared type has an EventType: only that one.
	ping := d.Operations["send__PingSource__shop__heartbeat__sources.knative.dev"]
	if got := refs(ping.Messages); !slices.Equal(got, []string{"#/channels/" + orders + "/messages/EventType__shop__ping"}) {
		t.Errorf("heartbeat sends %q", got)
	}
	// The ApiServerSource's types have none: both are declared.
	events := d.Operations["send__ApiServerSource__shop__events__sources.knative.dev"]
	if got := refs(events.Messages); len(got) != 2 || !strings.Contains(got[0], "declared__ApiServerSource") {
		t.Errorf("events sends %q, want its two declared types", got)
	}
	for _, r := range *events.Messages {
		id := r.Ref[strings.LastIndex(r.Ref, "/")+1:]
		if m := d.Components.Messages[id]; !m.Object.Declared || !strings.Contains(m.Description, "not observed") {
			t.Errorf("declared message %s: %+v", id, m)
		}
	}
	if uri := d.Operations["send__PingSource__shop__to-uri__sources.knative.dev"]; !strings.HasPrefix(uri.Channel.Ref, "#/channels/URI__") {
		t.Errorf("a source with a URI sink sends to %s", uri.Channel.Ref)
	}
	pack := d.Operations["receive__Trigger__shop__pack"]
	if got := refs(pack.Messages); !slices.Equal(got, []string{"#/channels/" + orders + "/messages/EventType__shop__created"}) ||
		!strings.Contains(pack.Description, `type is "com.example.order.created"`) {
		t.Errorf("Trigger pack: %q, %q", got, pack.Description)
	}
	if all := d.Operations["receive__Trigger__shop__all"]; all.Messages != nil || !strings.Contains(all.Description, "every event") {
		t.Errorf("Trigger all: %+v, want every message of its channel", all)
	}
	if none := d.Operations["receive__Trigger__shop__none"]; none.Messages == nil || len(*none.Messages) != 0 {
		t.Errorf("Trigger none: %+v, want no message", none)
	}
	if d.Operations["receive__Subscription__shop__archive"] == nil || d.Operations["send__Sequence__shop__fulfilment__flows.knative.dev__"+orders] == nil {
		t.Errorf("no Subscription or Sequence reply among %q", keys(d.Operations))
	}
}

func TestForEventType(t *testing.T) {
	m := everyKind()
	d, ok := ForEventType(m, "shop", "created")
	if !ok {
		t.Fatal("no document of shop/created")
	}
	check(t, d)
	if got := keys(d.Components.Messages); !slices.Equal(got, []string{"EventType__shop__created"}) {
		t.Errorf("messages %q", got)
	}
	// The Trigger pack asks for it, all takes everything; none and the
	// PingSource's send do not carry it, the Sequence's reply may.
	want := []string{"receive__Trigger__shop__all", "receive__Trigger__shop__pack",
		"send__Sequence__shop__fulfilment__flows.knative.dev__Broker__shop__orders__eventing.knative.dev"}
	if got := keys(d.Operations); !slices.Equal(got, want) {
		t.Errorf("operations %q, want %q", got, want)
	}
	if _, ok := ForEventType(m, "shop", "missing"); ok {
		t.Error("a document of an EventType that is not in the mesh")
	}
}

func TestID(t *testing.T) {
	tests := []struct {
		parts []string
		want  string
	}{
		{[]string{"Broker", "shop", "orders"}, "Broker__shop__orders"},
		{[]string{"a_b"}, "a_5Fb"},
		{[]string{"a", "_b"}, "a___5Fb"},
		{[]string{"a__", "b"}, "a_5F_5F__b"},
		{[]string{"x/y~z é"}, "x_2Fy_7Ez_20_C3_A9"},
		{[]string{""}, ""},
	}
	for _, tt := range tests {
		if got := ID(tt.parts...); got != tt.want {
			t.Errorf("ID(%q) = %q, want %q", tt.parts, got, tt.want)
		}
	}
}

func FuzzID(f *testing.F) {
	f.Add("a", "b", "a_", "_b")
	f.Add("a__b", "", "a", "_b")
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		if ID(a, b) == ID(c, d) && (a != c || b != d) {
			t.Fatalf("ID(%q, %q) = ID(%q, %q) = %q", a, b, c, d, ID(a, b))
		}
		if !validID.MatchString(ID(a, b)) {
			t.Fatalf("ID(%q, %q) = %q: not an AsyncAPI id", a, b, ID(a, b))
		}
	})
}

// fuzzMesh is a mesh as the fuzz test reads it: the mesh JSON, with the
// receivers and attributes the mesh JSON leaves out.
type fuzzMesh struct {
	mesh.Mesh
	Receivers  []mesh.Receiver              `json:"receivers"`
	Attributes map[string]map[string]string `json:"attributes"`
}

// decodeMesh reads a fuzzMesh.
func decodeMesh(data []byte) (*mesh.Mesh, error) {
	var in fuzzMesh
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, err
	}
	m := in.Mesh
	m.Receivers = in.Receivers
	for i := range m.EventTypes {
		m.EventTypes[i].Attributes = in.Attributes[m.EventTypes[i].Namespace+"/"+m.EventTypes[i].Name]
	}
	m.Normalize()
	return &m, nil
}

// FuzzDocument writes the document of any mesh and checks it: valid JSON,
// the same bytes twice, every $ref resolves, ids unique and valid, and
// each operation's messages on its channel. tests/asyncapi also runs
// AsyncAPI's parser over the documents of the corpus.
func FuzzDocument(f *testing.F) {
	every, err := json.Marshal(fuzzMesh{Mesh: *everyKind(), Receivers: everyKind().Receivers})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(every)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMesh(data)
		if err != nil {
			return
		}
		d := New(m)
		check(t, d)
		distinct := map[string]bool{}
		for _, et := range m.EventTypes {
			distinct[et.Namespace+"/"+et.Name] = true
		}
		if n := countMessages(d, false); n != len(distinct) {
			t.Errorf("%d messages of EventTypes, want %d", n, len(distinct))
		}
		if n := countOperations(d, "receive"); n != len(m.Receivers) {
			t.Errorf("%d receive operations, want %d", n, len(m.Receivers))
		}
		for _, et := range m.EventTypes {
			if d, ok := ForEventType(m, et.Namespace, et.Name); !ok {
				t.Errorf("no document of EventType %s/%s", et.Namespace, et.Name)
			} else {
				check(t, d)
			}
		}
	})
}

// TestCorpusDocuments writes the documents of the mesh with every kind and
// of FuzzDocument's corpus into $EVENTMESH_ASYNCAPI_OUT, for tests/asyncapi
// to run AsyncAPI's parser over them; it skips when that is not set.
func TestCorpusDocuments(t *testing.T) {
	out := os.Getenv("EVENTMESH_ASYNCAPI_OUT")
	if out == "" {
		t.Skip("EVENTMESH_ASYNCAPI_OUT is not set")
	}
	meshes := map[string]*mesh.Mesh{"every-kind": everyKind()}
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDocument", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		data, err := readCorpusFile(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := decodeMesh(data)
		if err != nil {
			continue // the fuzz test skips it too
		}
		meshes["corpus-"+filepath.Base(name)] = m
	}
	for name, m := range meshes {
		write(t, filepath.Join(out, name+".json"), New(m))
		for _, et := range m.EventTypes {
			d, _ := ForEventType(m, et.Namespace, et.Name)
			write(t, filepath.Join(out, name+"-eventtype-"+ID(et.Namespace, et.Name)+".json"), d)
		}
	}
}

// readCorpusFile reads the one []byte value of a corpus file of Go's fuzzing.
func readCorpusFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		return nil, fmt.Errorf("%s: not a corpus file of one []byte", name)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return []byte(s), nil
}

func write(t *testing.T, name string, d *Document) {
	t.Helper()
	b, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// validID is what AsyncAPI accepts as a key of components.
var validID = regexp.MustCompile(`^[a-zA-Z0-9.\-_]*$`)

// check checks what AsyncAPI's parser would reject, and that the document
// is canonical.
func check(t *testing.T, d *Document) {
	t.Helper()
	b, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := Encode(d); string(again) != string(b) {
		t.Fatal("two encodings differ")
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	checkRefs(t, doc, doc)
	for id := range d.Channels {
		if !validID.MatchString(id) {
			t.Errorf("channel id %q", id)
		}
	}
	for id, c := range d.Channels {
		if c.Address != nil && strings.ContainsAny(*c.Address, "{}") {
			t.Errorf("channel %s: address %q has parameters", id, *c.Address)
		}
	}
	for id := range d.Components.Messages {
		if !validID.MatchString(id) {
			t.Errorf("message id %q", id)
		}
	}
	for id, op := range d.Operations {
		if !validID.MatchString(id) {
			t.Errorf("operation id %q", id)
		}
		if op.Messages == nil {
			continue
		}
		prefix := op.Channel.Ref + "/messages/"
		for _, r := range *op.Messages {
			if !strings.HasPrefix(r.Ref, prefix) {
				t.Errorf("operation %s: message %s is not on its channel %s", id, r.Ref, op.Channel.Ref)
			}
		}
	}
}

// checkRefs checks that every local $ref under v resolves in doc, and that
// every other one is an absolute http(s) URL.
func checkRefs(t *testing.T, doc, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if r, ok := v["$ref"].(string); ok {
			if strings.HasPrefix(r, "#/") {
				if resolve(doc, r) == nil {
					t.Errorf("$ref %s does not resolve", r)
				}
			} else if !strings.HasPrefix(r, "http://") && !strings.HasPrefix(r, "https://") {
				t.Errorf("$ref %s is neither local nor http(s)", r)
			}
		}
		for _, e := range v {
			checkRefs(t, doc, e)
		}
	case []any:
		for _, e := range v {
			checkRefs(t, doc, e)
		}
	}
}

// resolve returns what a local JSON pointer points to, or nil.
func resolve(doc any, ref string) any {
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		if cur, ok = m[tok]; !ok {
			return nil
		}
	}
	return cur
}

func countMessages(d *Document, declared bool) int {
	n := 0
	for _, m := range d.Components.Messages {
		if m.Object.Declared == declared {
			n++
		}
	}
	return n
}

func countOperations(d *Document, action string) int {
	n := 0
	for _, op := range d.Operations {
		if op.Action == action {
			n++
		}
	}
	return n
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func refs(list *[]Ref) []string {
	if list == nil {
		return nil
	}
	var out []string
	for _, r := range *list {
		out = append(out, r.Ref)
	}
	slices.Sort(out)
	return out
}

func TestByEventType(t *testing.T) {
	m := everyKind()
	docs := ByEventType(m)
	if len(docs) != len(m.EventTypes) {
		t.Fatalf("%d documents for %d EventTypes", len(docs), len(m.EventTypes))
	}
	for _, et := range m.EventTypes {
		want, _ := ForEventType(m, et.Namespace, et.Name)
		got := docs[et.Namespace+"/"+et.Name]
		check(t, got)
		w, _ := Encode(want)
		g, _ := Encode(got)
		if string(w) != string(g) {
			t.Errorf("%s/%s: ByEventType and ForEventType differ:\n%s\n%s", et.Namespace, et.Name, g, w)
		}
	}
}
