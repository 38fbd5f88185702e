// Package asyncapi writes the event mesh as an AsyncAPI 3.0.0 document:
// each Broker and channel a channel, each EventType a message, each
// producer a send operation and each Trigger or Subscription a receive
// operation.
//
// It is pure: a mesh in, a document out. The same mesh always gives the
// same bytes: ids are made of the objects' kinds, namespaces and names,
// and every map is encoded with its keys sorted.
package asyncapi

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/knative-eventmesh/function/mesh"
)

// Version is the AsyncAPI version of the documents.
const Version = "3.0.0"

// Document is an AsyncAPI 3.0.0 document.
type Document struct {
	AsyncAPI   string                `json:"asyncapi"`
	Info       Info                  `json:"info"`
	Channels   map[string]*Channel   `json:"channels"`
	Operations map[string]*Operation `json:"operations"`
	Components Components            `json:"components"`
}

// Info is the document's info object.
type Info struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description"`
}

// Ref is a reference object: a JSON pointer into the document, or a URL.
type Ref struct {
	Ref string `json:"$ref"`
}

// Object names the Kubernetes object behind a channel, an operation or a
// message, in the extension x-knative.
type Object struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Audience is the audience of the OIDC tokens senders present.
	Audience string `json:"audience,omitempty"`
	// Subscriber is what a Trigger or Subscription delivers to.
	Subscriber *mesh.Reference `json:"subscriber,omitempty"`
	// ConsumedBy lists Backstage ids (label backstage.io/kubernetes-id).
	ConsumedBy []string `json:"consumedBy,omitempty"`
	// Declared is set on a message a source CRD declares in its
	// registry.knative.dev/eventTypes annotation, rather than observed
	// as an EventType.
	Declared bool `json:"declared,omitempty"`
}

// Channel is a Broker, a channel, or another object producers send to.
type Channel struct {
	// Address is where senders send; null when unknown.
	Address     *string        `json:"address"`
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	Messages    map[string]Ref `json:"messages"`
	Object      Object         `json:"x-knative"`
}

// Operation is a send or a receive.
type Operation struct {
	Action      string  `json:"action"`
	Channel     Ref     `json:"channel"`
	Title       string  `json:"title"`
	Description string  `json:"description"`
	Messages    *[]Ref  `json:"messages,omitempty"`
	Object      *Object `json:"x-knative,omitempty"`
}

// Components holds the messages and the inline schemas.
type Components struct {
	Messages map[string]*Message        `json:"messages"`
	Schemas  map[string]json.RawMessage `json:"schemas"`
}

// Message is an EventType, or a type a source CRD declares.
type Message struct {
	// Name is the CloudEvent type.
	Name        string  `json:"name"`
	Title       string  `json:"title"`
	Summary     string  `json:"summary,omitempty"`
	Description string  `json:"description,omitempty"`
	ContentType string  `json:"contentType,omitempty"`
	Headers     *Schema `json:"headers,omitempty"`
	Payload     any     `json:"payload"`
	Object      Object  `json:"x-knative"`
}

// Schema is the JSON Schema of the context attributes of a message.
type Schema struct {
	Type        string             `json:"type"`
	Description string             `json:"description"`
	Properties  map[string]*Schema `json:"properties,omitempty"`
	Required    []string           `json:"required,omitempty"`
	Const       *string            `json:"const,omitempty"`
}

// Encode returns the JSON of d.
func Encode(d *Document) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encoding the AsyncAPI document: %w", err)
	}
	return b, nil
}

// New returns the AsyncAPI document of m. It reads m's receivers and the
// attributes of its EventTypes (relate.MeshWithReceivers fills them).
func New(m *mesh.Mesh) *Document {
	w := newWriter(m)
	w.eventTypes()
	w.channels()
	w.sources()
	w.replies()
	w.receivers()
	return w.doc
}

// writer builds a document and its indexes.
type writer struct {
	m   *mesh.Mesh
	doc *Document
	// messages maps "<namespace>/<name>" of EventTypes to message ids.
	messages map[string]string
}

func newWriter(m *mesh.Mesh) *writer {
	return &writer{
		m: m,
		doc: &Document{
			AsyncAPI: Version,
			Info: Info{
				Title:   "Knative Event Mesh",
				Version: "1.0.0",
				Description: "The Knative Eventing mesh the caller's token may read: each Broker and channel is a channel, " +
					"each EventType a message, each source a send operation, and each Trigger and Subscription a receive operation.",
			},
			Channels:   map[string]*Channel{},
			Operations: map[string]*Operation{},
			Components: Components{Messages: map[string]*Message{}, Schemas: map[string]json.RawMessage{}},
		},
		messages: make(map[string]string, len(m.EventTypes)),
	}
}

// eventTypes adds a message per EventType, on the channel of the Broker
// or channel it refers to.
func (w *writer) eventTypes() {
	for i := range w.m.EventTypes {
		et := &w.m.EventTypes[i]
		id := ID("EventType", et.Namespace, et.Name)
		w.messages[et.Namespace+"/"+et.Name] = id
		msg := &Message{
			Name:    et.Type,
			Title:   et.Type,
			Summary: et.Description,
			Description: fmt.Sprintf("EventType %s/%s: CloudEvents of type %q.",
				et.Namespace, et.Name, et.Type),
			ContentType: et.Attributes["datacontenttype"],
			Headers:     headers(et.Type, et.Attributes),
			Payload:     w.payload(id, et.SchemaData, et.SchemaURL),
			Object: Object{Group: "eventing.knative.dev", Kind: "EventType", Namespace: et.Namespace, Name: et.Name,
				ConsumedBy: et.ConsumedBy},
		}
		w.doc.Components.Messages[id] = msg
	}
}

// channels adds a channel per Broker and per channel, with the messages of
// the EventTypes that refer to it.
func (w *writer) channels() {
	for i := range w.m.Brokers {
		b := &w.m.Brokers[i]
		ref := mesh.Reference{Group: "eventing.knative.dev", Kind: "Broker", Namespace: b.Namespace, Name: b.Name}
		w.addChannel(ref, &b.Access, b.ProvidedEventTypes)
	}
	for i := range w.m.Subscribables {
		s := &w.m.Subscribables[i]
		ref := mesh.Reference{Group: s.Group, Kind: s.Kind, Namespace: s.Namespace, Name: s.Name}
		w.addChannel(ref, &s.Access, s.ProvidedEventTypes)
	}
}

func (w *writer) addChannel(ref mesh.Reference, a *mesh.Access, provided []string) {
	c := w.channel(ref)
	c.Address = address(a.Address)
	c.Object.Audience = a.Audience
	c.Description = fmt.Sprintf("%s %s/%s: events sent to it go on to its Triggers or Subscriptions.", ref.Kind, ref.Namespace, ref.Name)
	for _, key := range provided {
		if id, ok := w.messages[key]; ok {
			c.Messages[id] = Ref{"#/components/messages/" + id}
		}
	}
}

// channel returns the channel of the object ref, added when missing: a
// producer may send to an object that is no Broker or channel.
func (w *writer) channel(ref mesh.Reference) *Channel {
	id := ChannelID(ref)
	if c, ok := w.doc.Channels[id]; ok {
		return c
	}
	c := &Channel{
		Title:       fmt.Sprintf("%s %s/%s", ref.Kind, ref.Namespace, ref.Name),
		Description: fmt.Sprintf("%s %s/%s, which producers send to directly.", ref.Kind, ref.Namespace, ref.Name),
		Messages:    map[string]Ref{},
		Object:      Object{Group: ref.Group, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name},
	}
	w.doc.Channels[id] = c
	return c
}

// ChannelID is the id of the channel of the object ref.
func ChannelID(ref mesh.Reference) string {
	return ID(ref.Kind, ref.Namespace, ref.Name, ref.Group)
}

// use puts message id on channel cid and returns the reference an
// operation on that channel gives it.
func (w *writer) use(cid, id string) Ref {
	msgs := w.doc.Channels[cid].Messages
	if _, ok := msgs[id]; !ok {
		msgs[id] = Ref{"#/components/messages/" + id}
	}
	return Ref{"#/channels/" + cid + "/messages/" + id}
}

// sources adds a send operation per source, into its sink, with the
// messages of its EventTypes and of the types its CRD declares that no
// EventType of its namespace has.
func (w *writer) sources() {
	for i := range w.m.Sources {
		s := &w.m.Sources[i]
		self := mesh.Reference{Group: s.Group, Kind: s.Kind, Namespace: s.Namespace, Name: s.Name}
		cid, to := w.sinkOf(s)
		refs := []Ref{}
		observed := map[string]bool{}
		for _, key := range s.ProvidedEventTypes {
			if id, ok := w.messages[key]; ok {
				refs = append(refs, w.use(cid, id))
				observed[w.doc.Components.Messages[id].Name] = true
			}
		}
		seen := map[string]int{}
		for _, d := range s.DeclaredEventTypes {
			n := seen[d.Type]
			seen[d.Type]++
			if observed[d.Type] {
				continue
			}
			refs = append(refs, w.use(cid, w.declared(s, d, n)))
		}
		w.doc.Operations[ID("send", s.Kind, s.Namespace, s.Name, s.Group)] = &Operation{
			Action:  "send",
			Channel: Ref{"#/channels/" + cid},
			Title:   fmt.Sprintf("%s %s/%s sends", s.Kind, s.Namespace, s.Name),
			Description: fmt.Sprintf("%s %s/%s sends to %s. Its messages are its EventTypes, and the types its CRD declares "+
				"(registry.knative.dev/eventTypes) that no EventType of its namespace has yet.", s.Kind, s.Namespace, s.Name, to),
			Messages: &refs,
			Object:   &Object{Group: self.Group, Kind: self.Kind, Namespace: self.Namespace, Name: self.Name},
		}
	}
}

// sinkOf returns the id of the channel a source sends to, added when
// missing, and what it is in words. A URI sink gets a channel of the
// source's own.
func (w *writer) sinkOf(s *mesh.Source) (string, string) {
	if s.Sink != nil {
		w.channel(*s.Sink)
		return ChannelID(*s.Sink), fmt.Sprintf("%s %s/%s", s.Sink.Kind, s.Sink.Namespace, s.Sink.Name)
	}
	cid := ID("URI", s.Kind, s.Namespace, s.Name, s.Group)
	w.doc.Channels[cid] = &Channel{
		Title:       fmt.Sprintf("The URI sink of %s %s/%s", s.Kind, s.Namespace, s.Name),
		Description: "A URI the source sends to; the mesh does not know what is behind it.",
		Messages:    map[string]Ref{},
		Object:      Object{Group: s.Group, Kind: s.Kind, Namespace: s.Namespace, Name: s.Name},
	}
	return cid, "a URI"
}

// declared adds the message of the nth entry of type d.Type a source's CRD
// declares and returns its id. The message is the CRD's: the same for
// every source of the kind.
func (w *writer) declared(s *mesh.Source, d mesh.DeclaredEventType, n int) string {
	id := ID("declared", s.Kind, s.Group, d.Type)
	if n > 0 {
		id = ID("declared", s.Kind, s.Group, d.Type, strconv.Itoa(n))
	}
	if _, ok := w.doc.Components.Messages[id]; ok {
		return id
	}
	w.doc.Components.Messages[id] = &Message{
		Name:    d.Type,
		Title:   d.Type,
		Summary: d.Description,
		Description: fmt.Sprintf("Declared by the CRD of %s (%s) in its registry.knative.dev/eventTypes annotation, "+
			"not observed: no EventType of this type exists where the source runs.", s.Kind, s.Group),
		Headers: headers(d.Type, nil),
		Payload: w.payload(id, "", d.Schema),
		Object:  Object{Group: s.Group, Kind: s.Kind, Declared: true},
	}
	return id
}

// replies adds a send operation per reply of a flow and per sink of an
// EventTransform: they produce events, of types the mesh does not know.
func (w *writer) replies() {
	for i := range w.m.Flows {
		f := &w.m.Flows[i]
		for _, r := range f.Replies {
			w.sendAny(mesh.Reference{Group: f.Group, Kind: f.Kind, Namespace: f.Namespace, Name: f.Name}, r, "replies")
		}
	}
	for i := range w.m.EventTransforms {
		t := &w.m.EventTransforms[i]
		if t.Sink != nil {
			w.sendAny(mesh.Reference{Group: t.Group, Kind: t.Kind, Namespace: t.Namespace, Name: t.Name}, *t.Sink, "sends what it transforms")
		}
	}
}

func (w *writer) sendAny(from, to mesh.Reference, verb string) {
	w.channel(to)
	cid := ChannelID(to)
	w.doc.Operations[ID("send", from.Kind, from.Namespace, from.Name, from.Group, to.Kind, to.Namespace, to.Name, to.Group)] = &Operation{
		Action:  "send",
		Channel: Ref{"#/channels/" + cid},
		Title:   fmt.Sprintf("%s %s/%s %s", from.Kind, from.Namespace, from.Name, verb),
		Description: fmt.Sprintf("%s %s/%s %s to %s %s/%s: events of any type of the channel.",
			from.Kind, from.Namespace, from.Name, verb, to.Kind, to.Namespace, to.Name),
		Object: &Object{Group: from.Group, Kind: from.Kind, Namespace: from.Namespace, Name: from.Name},
	}
}

// receivers adds a receive operation per Trigger and Subscription. A
// Trigger with a filter lists the messages it could let through; without
// one, the operation carries every message of its channel.
func (w *writer) receivers() {
	for i := range w.m.Receivers {
		r := &w.m.Receivers[i]
		w.channel(r.From)
		cid := ChannelID(r.From)
		to := "a URI"
		if s := r.Subscriber; s != nil {
			to = s.Kind + " " + s.Namespace + "/" + s.Name
		}
		what := "every event"
		if r.Filter != "" {
			what = r.Filter
		}
		// Concatenation rather than fmt: there may be tens of thousands.
		title := r.Kind + " " + r.Namespace + "/" + r.Name
		op := &Operation{
			Action:  "receive",
			Channel: Ref{"#/channels/" + cid},
			Title:   title,
			Description: title + " takes " + what + " from " + r.From.Kind + " " + r.From.Namespace + "/" + r.From.Name +
				" and delivers them to " + to + ".",
			Object: &Object{Group: receiverGroup(r.Kind), Kind: r.Kind, Namespace: r.Namespace, Name: r.Name,
				Subscriber: r.Subscriber, ConsumedBy: r.ConsumedBy},
		}
		if r.Filter != "" {
			refs := make([]Ref, 0, len(r.EventTypes))
			for _, key := range r.EventTypes {
				if id, ok := w.messages[key]; ok {
					refs = append(refs, w.use(cid, id))
				}
			}
			op.Messages = &refs
		}
		w.doc.Operations[ID("receive", r.Kind, r.Namespace, r.Name)] = op
	}
}

func receiverGroup(kind string) string {
	if kind == "Subscription" {
		return "messaging.knative.dev"
	}
	return "eventing.knative.dev"
}

// headers returns the JSON Schema of the context attributes a message
// fixes: its type, and attrs.
func headers(typ string, attrs map[string]string) *Schema {
	s := &Schema{
		Type:        "object",
		Description: "The CloudEvent context attributes whose value the EventType fixes.",
		Properties:  map[string]*Schema{},
	}
	fixed := func(name, value string) {
		s.Properties[name] = &Schema{Type: "string", Description: "CloudEvent attribute " + name + ".", Const: &value}
		s.Required = append(s.Required, name)
	}
	if _, ok := attrs["type"]; !ok && typ != "" && !strings.ContainsAny(typ, "{}") {
		fixed("type", typ)
	}
	for name, value := range attrs {
		fixed(name, value)
	}
	slices.Sort(s.Required)
	return s
}

// openPayload is the payload of a message whose schema is unknown.
var openPayload = json.RawMessage(`{"description":"No schema is known: any data."}`)

// payload returns the payload of message id: its inline schema when it is
// a JSON object, else a $ref to its schema URL when that is an absolute
// http(s) URL, else an open schema.
func (w *writer) payload(id, schemaData, schemaURL string) any {
	if schemaData != "" {
		var v map[string]any
		if json.Unmarshal([]byte(schemaData), &v) == nil && v != nil {
			if b, err := json.Marshal(v); err == nil {
				w.doc.Components.Schemas[id] = b
				return Ref{"#/components/schemas/" + id}
			}
		}
	}
	if u, err := url.Parse(schemaURL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return Ref{u.String()}
	}
	return openPayload
}

// address returns a channel's address, nil when unknown. Braces, which
// AsyncAPI reads as parameters, are escaped.
func address(a string) *string {
	if a == "" {
		return nil
	}
	a = strings.NewReplacer("{", "%7B", "}", "%7D").Replace(a)
	return &a
}

// ID joins parts into an id AsyncAPI accepts (letters, digits, ".", "-"
// and "_"), one to one: each byte outside letters, digits, "." and "-" is
// written "_" and two hex digits, and parts are joined with "__", which
// no escaped part holds.
func ID(parts ...string) string {
	var b strings.Builder
	n := 2 * len(parts)
	for _, p := range parts {
		n += len(p)
	}
	b.Grow(n)
	for i, p := range parts {
		if i > 0 {
			b.WriteString("__")
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' {
				b.WriteByte(c)
				continue
			}
			fmt.Fprintf(&b, "_%02X", c)
		}
	}
	return b.String()
}
