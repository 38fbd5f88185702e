// Package mesh holds the EventMesh document that GET /v1/getEventMesh
// returns, in the shape the Backstage Knative Event Mesh provider reads, and
// its canonical encoding.
//
// A Mesh is canonical when every list is sorted and free of duplicates and
// no list is nil; Normalize makes it so, and Encode then gives the same
// bytes for the same cluster state.
package mesh

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
)

// Mesh is the whole event mesh of a cluster, or of some of its namespaces.
//
// The first four lists are those the published Backstage provider reads;
// the rest were added beside them, and it ignores them.
type Mesh struct {
	EventTypes    []EventType    `json:"eventTypes"`
	Brokers       []Broker       `json:"brokers"`
	Subscribables []Subscribable `json:"subscribables"`
	Sources       []Source       `json:"sources"`
	// Sinks are JobSinks and IntegrationSinks.
	Sinks           []Sink         `json:"sinks"`
	EventTransforms []Transform    `json:"eventTransforms"`
	RequestReplies  []RequestReply `json:"requestReplies"`
	// Flows are Sequences and Parallels.
	Flows         []Flow        `json:"flows"`
	EventPolicies []EventPolicy `json:"eventPolicies"`
	// DefaultAuthorizationMode is Eventing's default-authorization-mode:
	// who may send to an addressable no EventPolicy applies to
	// ("allow-same-namespace", "allow-all" or "deny-all"), or "unknown"
	// when the token may not read it.
	DefaultAuthorizationMode string `json:"defaultAuthorizationMode"`

	// Receivers are the Triggers and Subscriptions, for the AsyncAPI
	// document. They are not part of the mesh JSON, and only a build
	// for the AsyncAPI document fills them.
	Receivers []Receiver `json:"-"`
}

// Receiver is a Trigger or a Subscription: it takes events from a Broker
// or a channel and delivers them to its subscriber.
type Receiver struct {
	// Kind is "Trigger" or "Subscription".
	Kind      string
	Namespace string
	Name      string
	// From is the Broker or channel it receives from.
	From Reference
	// Subscriber is the object it delivers to; nil for a URI.
	Subscriber *Reference
	// ConsumedBy lists the Backstage ids of the subscriber and of what it
	// leads to.
	ConsumedBy []string
	// Filter is a Trigger's filter in words; "" lets everything through.
	Filter string
	// EventTypes lists "<namespace>/<name>" of the EventTypes of From
	// that the filter could let through; only when Filter is set.
	EventTypes []string
}

// UnknownAuthorizationMode is the DefaultAuthorizationMode of a mesh whose
// token may not read it.
const UnknownAuthorizationMode = "unknown"

// Access is who may send events to an addressable: its audience and the
// EventPolicies that apply to it, with the senders they allow. When
// EventPolicies is empty, the mesh's DefaultAuthorizationMode applies.
type Access struct {
	// Address is status.address.url: where senders send events. Absent
	// when it advertises none.
	Address string `json:"address,omitempty"`
	// Audience is status.address.audience: the audience of the OIDC
	// tokens a sender presents. Absent when it advertises none.
	Audience string `json:"audience,omitempty"`
	// EventPolicies lists "<namespace>/<name>" of the EventPolicies that
	// apply.
	EventPolicies []string `json:"eventPolicies"`
	// AllowedSenders are the objects those policies allow to send.
	AllowedSenders []Sender `json:"allowedSenders"`
	// AllowedSubjects are the OIDC subjects those policies allow ("*" at
	// the end matches any rest).
	AllowedSubjects []string `json:"allowedSubjects"`
}

// Sender is an object an EventPolicy allows to send, with its Backstage
// id when the mesh knows the object and it carries the label
// backstage.io/kubernetes-id.
type Sender struct {
	Reference
	BackstageID string `json:"backstageId,omitempty"`
}

// Sink is a JobSink or an IntegrationSink (sinks.knative.dev).
type Sink struct {
	Meta
	Group string `json:"group"`
	Kind  string `json:"kind"`
	Access
}

// Transform is an EventTransform.
type Transform struct {
	Meta
	Group string `json:"group"`
	Kind  string `json:"kind"`
	Access
	// Sink is where it sends the transformed events, when spec.sink.ref
	// names an object; absent otherwise (a reply).
	Sink *Reference `json:"sink,omitempty"`
}

// RequestReply is a RequestReply.
type RequestReply struct {
	Meta
	Group string `json:"group"`
	Kind  string `json:"kind"`
	Access
	// Broker is spec.brokerRef: the Broker requests go through.
	Broker *Reference `json:"broker,omitempty"`
}

// Flow is a Sequence or a Parallel (flows.knative.dev).
type Flow struct {
	Meta
	Group string `json:"group"`
	Kind  string `json:"kind"`
	Access
	// Calls are the objects it sends the events it receives to: the
	// subscribers of a Sequence's steps, the filters and subscribers of a
	// Parallel's branches.
	Calls []Reference `json:"calls"`
	// Replies are the objects it sends replies to.
	Replies []Reference `json:"replies"`
	// ConsumedBy lists the Backstage ids of what receives its events,
	// followed through the flows it calls.
	ConsumedBy []string `json:"consumedBy"`
}

// EventPolicy is an EventPolicy: whom it allows to send to what.
type EventPolicy struct {
	Meta
	// AppliesTo are the objects of the mesh it applies to.
	AppliesTo []Reference `json:"appliesTo"`
	// To is spec.to as written: references and selectors.
	To []PolicyTarget `json:"to"`
	// AllowedSenders are spec.from's references.
	AllowedSenders []Sender `json:"allowedSenders"`
	// AllowedSubjects are spec.from's subjects and the subjects Eventing
	// resolved its references to (status.from).
	AllowedSubjects []string `json:"allowedSubjects"`
	// Filtered is true when spec.filters further limits the events
	// allowed.
	Filtered bool `json:"filtered"`
}

// PolicyTarget is an entry of an EventPolicy's spec.to: a reference, or a
// selector of objects by kind and labels.
type PolicyTarget struct {
	Ref      *Reference      `json:"ref,omitempty"`
	Selector *PolicySelector `json:"selector,omitempty"`
}

// PolicySelector selects objects of a kind (group and kind may be empty:
// any) by label.
type PolicySelector struct {
	Group            string             `json:"group,omitempty"`
	Kind             string             `json:"kind,omitempty"`
	MatchLabels      map[string]string  `json:"matchLabels,omitempty"`
	MatchExpressions []LabelRequirement `json:"matchExpressions,omitempty"`
}

// LabelRequirement is a requirement of a label selector.
type LabelRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// Meta is what every entity carries of its Kubernetes object.
type Meta struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	UID       string `json:"uid"`
	// Labels is nil when the object has none.
	Labels map[string]string `json:"labels"`
	// Annotations is nil when the object has none worth showing.
	Annotations map[string]string `json:"annotations"`
}

// Reference names a Kubernetes object by API group (without version),
// kind, namespace and name.
type Reference struct {
	Group     string `json:"group"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// EventType is a Knative EventType: a kind of CloudEvent some broker,
// channel or source provides.
type EventType struct {
	Meta
	Type        string     `json:"type"`
	Description string     `json:"description,omitempty"`
	SchemaURL   string     `json:"schemaURL,omitempty"`
	SchemaData  string     `json:"schemaData,omitempty"`
	Reference   *Reference `json:"reference,omitempty"`
	// Attributes are the CloudEvent context attributes whose value the
	// EventType fixes, by lower-case name, for the AsyncAPI document. They
	// are not part of the mesh JSON.
	Attributes map[string]string `json:"-"`
	// ConsumedBy lists the Backstage ids (label backstage.io/kubernetes-id)
	// of everything that receives events of this type.
	ConsumedBy []string `json:"consumedBy"`
}

// Broker is a Knative Broker.
type Broker struct {
	Meta
	// ProvidedEventTypes lists "<namespace>/<name>" of the EventTypes
	// whose reference is this broker.
	ProvidedEventTypes []string `json:"providedEventTypes"`
	Access
}

// Subscribable is an object of a CRD labelled
// messaging.knative.dev/subscribable=true: a channel.
type Subscribable struct {
	Meta
	Group              string   `json:"group"`
	Kind               string   `json:"kind"`
	ProvidedEventTypes []string `json:"providedEventTypes"`
	Access
}

// Source is an object of a CRD labelled duck.knative.dev/source=true.
type Source struct {
	Meta
	Group string `json:"group"`
	Kind  string `json:"kind"`
	// ProvidedEventTypeTypes lists the CloudEvent types the source's CRD
	// declares in its registry.knative.dev/eventTypes annotation.
	ProvidedEventTypeTypes []string `json:"providedEventTypeTypes"`
	// DeclaredEventTypes are the entries of that annotation, with their
	// schema and description.
	DeclaredEventTypes []DeclaredEventType `json:"declaredEventTypes"`
	// ProvidedEventTypes lists "<namespace>/<name>" of the EventTypes in
	// the source's namespace whose type the source declares.
	ProvidedEventTypes []string `json:"providedEventTypes"`
	// Sink is the object the source sends to; nil for a URI sink.
	Sink *Reference `json:"sink,omitempty"`
}

// DeclaredEventType is an entry of a source CRD's
// registry.knative.dev/eventTypes annotation: a CloudEvent type the
// source may send, whether or not an EventType of it exists.
type DeclaredEventType struct {
	Type        string `json:"type"`
	Schema      string `json:"schema,omitempty"`
	Description string `json:"description,omitempty"`
}

// Key names an entity of the mesh across kinds.
type Key struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// String returns "Kind namespace/name".
func (k Key) String() string { return fmt.Sprintf("%s %s/%s", k.Kind, k.Namespace, k.Name) }

// Normalize sorts every list of m, drops duplicates and replaces nil lists
// with empty ones, so that Encode is deterministic.
func (m *Mesh) Normalize() {
	m.EventTypes = sortEntities(m.EventTypes, func(e *EventType) (*Meta, string, string) { return &e.Meta, "", "" })
	for i := range m.EventTypes {
		m.EventTypes[i].ConsumedBy = sortedStrings(m.EventTypes[i].ConsumedBy)
	}
	m.Brokers = sortEntities(m.Brokers, func(e *Broker) (*Meta, string, string) { return &e.Meta, "", "" })
	for i := range m.Brokers {
		m.Brokers[i].ProvidedEventTypes = sortedStrings(m.Brokers[i].ProvidedEventTypes)
		m.Brokers[i].Access.normalize()
	}
	m.Subscribables = sortEntities(m.Subscribables, func(e *Subscribable) (*Meta, string, string) { return &e.Meta, e.Group, e.Kind })
	for i := range m.Subscribables {
		m.Subscribables[i].ProvidedEventTypes = sortedStrings(m.Subscribables[i].ProvidedEventTypes)
		m.Subscribables[i].Access.normalize()
	}
	m.Sources = sortEntities(m.Sources, func(e *Source) (*Meta, string, string) { return &e.Meta, e.Group, e.Kind })
	for i := range m.Sources {
		m.Sources[i].ProvidedEventTypeTypes = sortedStrings(m.Sources[i].ProvidedEventTypeTypes)
		m.Sources[i].ProvidedEventTypes = sortedStrings(m.Sources[i].ProvidedEventTypes)
		m.Sources[i].DeclaredEventTypes = sortedDeclared(m.Sources[i].DeclaredEventTypes)
	}
	m.Sinks = sortEntities(m.Sinks, func(e *Sink) (*Meta, string, string) { return &e.Meta, e.Group, e.Kind })
	for i := range m.Sinks {
		m.Sinks[i].Access.normalize()
	}
	m.EventTransforms = sortEntities(m.EventTransforms, func(e *Transform) (*Meta, string, string) { return &e.Meta, e.Group, e.Kind })
	for i := range m.EventTransforms {
		m.EventTransforms[i].Access.normalize()
	}
	m.RequestReplies = sortEntities(m.RequestReplies, func(e *RequestReply) (*Meta, string, string) { return &e.Meta, e.Group, e.Kind })
	for i := range m.RequestReplies {
		m.RequestReplies[i].Access.normalize()
	}
	m.Flows = sortEntities(m.Flows, func(e *Flow) (*Meta, string, string) { return &e.Meta, e.Group, e.Kind })
	for i := range m.Flows {
		f := &m.Flows[i]
		f.Access.normalize()
		f.Calls = sortedReferences(f.Calls)
		f.Replies = sortedReferences(f.Replies)
		f.ConsumedBy = sortedStrings(f.ConsumedBy)
	}
	m.EventPolicies = sortEntities(m.EventPolicies, func(e *EventPolicy) (*Meta, string, string) { return &e.Meta, "", "" })
	for i := range m.EventPolicies {
		p := &m.EventPolicies[i]
		p.AppliesTo = sortedReferences(p.AppliesTo)
		p.To = sortedByJSON(p.To)
		p.AllowedSenders = sortedSenders(p.AllowedSenders)
		p.AllowedSubjects = sortedStrings(p.AllowedSubjects)
	}
	m.Receivers = sortedReceivers(m.Receivers)
	if m.DefaultAuthorizationMode == "" {
		m.DefaultAuthorizationMode = UnknownAuthorizationMode
	}
}

// normalize sorts the lists of a and drops their duplicates.
func (a *Access) normalize() {
	a.EventPolicies = sortedStrings(a.EventPolicies)
	a.AllowedSenders = sortedSenders(a.AllowedSenders)
	a.AllowedSubjects = sortedStrings(a.AllowedSubjects)
}

// Compare orders references by namespace, name, group and kind.
func (r Reference) Compare(o Reference) int {
	return cmp.Or(
		cmp.Compare(r.Namespace, o.Namespace),
		cmp.Compare(r.Name, o.Name),
		cmp.Compare(r.Group, o.Group),
		cmp.Compare(r.Kind, o.Kind),
	)
}

// sortedReferences returns list sorted, without duplicates, and never nil.
func sortedReferences(list []Reference) []Reference {
	if list == nil {
		return []Reference{}
	}
	slices.SortFunc(list, Reference.Compare)
	return slices.Compact(list)
}

// sortedDeclared returns list sorted by type, schema and description,
// without duplicates, and never nil.
func sortedDeclared(list []DeclaredEventType) []DeclaredEventType {
	if list == nil {
		return []DeclaredEventType{}
	}
	slices.SortFunc(list, func(a, b DeclaredEventType) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Schema, b.Schema), cmp.Compare(a.Description, b.Description))
	})
	return slices.Compact(list)
}

// sortedReceivers returns list sorted by namespace, name and kind, without
// those that repeat all three, with its lists sorted. It stays nil when
// nil: receivers are not part of the mesh JSON.
func sortedReceivers(list []Receiver) []Receiver {
	compare := func(a, b Receiver) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Kind, b.Kind))
	}
	slices.SortFunc(list, compare)
	list = slices.CompactFunc(list, func(a, b Receiver) bool { return compare(a, b) == 0 })
	for i := range list {
		list[i].ConsumedBy = sortedStrings(list[i].ConsumedBy)
		list[i].EventTypes = sortedStrings(list[i].EventTypes)
	}
	return list
}

// sortedSenders returns list sorted, without duplicates, and never nil.
func sortedSenders(list []Sender) []Sender {
	if list == nil {
		return []Sender{}
	}
	slices.SortFunc(list, func(a, b Sender) int {
		return cmp.Or(a.Reference.Compare(b.Reference), cmp.Compare(a.BackstageID, b.BackstageID))
	})
	return slices.Compact(list)
}

// sortedByJSON returns list sorted by the JSON of its entries, without
// duplicates, and never nil: for lists of entries of several shapes.
func sortedByJSON[E any](list []E) []E {
	if list == nil {
		return []E{}
	}
	type keyed struct {
		key string
		e   E
	}
	ks := make([]keyed, len(list))
	for i := range list {
		b, _ := json.Marshal(&list[i]) // structs of strings and maps: never fails
		ks[i] = keyed{string(b), list[i]}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return cmp.Compare(a.key, b.key) })
	ks = slices.CompactFunc(ks, func(a, b keyed) bool { return a.key == b.key })
	out := make([]E, len(ks))
	for i := range ks {
		out[i] = ks[i].e
	}
	return out
}

// Encode returns the JSON of m. Call Normalize first for canonical bytes.
func Encode(m *Mesh) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding mesh: %w", err)
	}
	return b, nil
}

// sortEntities sorts by namespace, name, group and kind (key gives them),
// and drops entities that repeat all four.
func sortEntities[E any](list []E, key func(*E) (*Meta, string, string)) []E {
	if list == nil {
		return []E{}
	}
	compare := func(a, b *E) int {
		ma, ga, ka := key(a)
		mb, gb, kb := key(b)
		return cmp.Or(
			cmp.Compare(ma.Namespace, mb.Namespace),
			cmp.Compare(ma.Name, mb.Name),
			cmp.Compare(ga, gb),
			cmp.Compare(ka, kb),
		)
	}
	slices.SortFunc(list, func(a, b E) int { return compare(&a, &b) })
	return slices.CompactFunc(list, func(a, b E) bool { return compare(&a, &b) == 0 })
}

// sortedStrings returns list sorted, without duplicates, and never nil.
func sortedStrings(list []string) []string {
	if list == nil {
		return []string{}
	}
	slices.Sort(list)
	return slices.Compact(list)
}
