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
type Mesh struct {
	EventTypes    []EventType    `json:"eventTypes"`
	Brokers       []Broker       `json:"brokers"`
	Subscribables []Subscribable `json:"subscribables"`
	Sources       []Source       `json:"sources"`
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
}

// Subscribable is an object of a CRD labelled
// messaging.knative.dev/subscribable=true: a channel.
type Subscribable struct {
	Meta
	Group              string   `json:"group"`
	Kind               string   `json:"kind"`
	ProvidedEventTypes []string `json:"providedEventTypes"`
}

// Source is an object of a CRD labelled duck.knative.dev/source=true.
type Source struct {
	Meta
	Group string `json:"group"`
	Kind  string `json:"kind"`
	// ProvidedEventTypeTypes lists the CloudEvent types the source's CRD
	// declares in its registry.knative.dev/eventTypes annotation.
	ProvidedEventTypeTypes []string `json:"providedEventTypeTypes"`
	// ProvidedEventTypes lists "<namespace>/<name>" of the EventTypes in
	// the source's namespace whose type the source declares.
	ProvidedEventTypes []string `json:"providedEventTypes"`
	// Sink is the object the source sends to; nil for a URI sink.
	Sink *Reference `json:"sink,omitempty"`
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
	}
	m.Subscribables = sortEntities(m.Subscribables, func(e *Subscribable) (*Meta, string, string) { return &e.Meta, e.Group, e.Kind })
	for i := range m.Subscribables {
		m.Subscribables[i].ProvidedEventTypes = sortedStrings(m.Subscribables[i].ProvidedEventTypes)
	}
	m.Sources = sortEntities(m.Sources, func(e *Source) (*Meta, string, string) { return &e.Meta, e.Group, e.Kind })
	for i := range m.Sources {
		m.Sources[i].ProvidedEventTypeTypes = sortedStrings(m.Sources[i].ProvidedEventTypeTypes)
		m.Sources[i].ProvidedEventTypes = sortedStrings(m.Sources[i].ProvidedEventTypes)
	}
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
