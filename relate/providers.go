package relate

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/objects"
)

// EventTypesAnnotation is the annotation of a source CRD that lists the
// CloudEvent types its sources emit.
const EventTypesAnnotation = "registry.knative.dev/eventTypes"

var brokerKind = mesh.Reference{Group: "eventing.knative.dev", Kind: "Broker"}

func (b *builder) addBrokers(list []objects.Broker) {
	b.mesh.Brokers = make([]mesh.Broker, 0, len(list))
	for i := range list {
		o := &list[i]
		ref := brokerKind
		ref.Namespace, ref.Name = o.Namespace, o.Name
		b.brokers[namespacedName(o.Namespace, o.Name)] = len(b.mesh.Brokers)
		b.remember(ref, &o.Meta, o.Policies)
		b.mesh.Brokers = append(b.mesh.Brokers, mesh.Broker{
			Meta:               meta(&o.Meta),
			ProvidedEventTypes: b.byReference[ref],
			Access:             access(&o.Addressable),
		})
	}
}

func (b *builder) addSubscribables(list []objects.Object) {
	b.mesh.Subscribables = make([]mesh.Subscribable, 0, len(list))
	for i := range list {
		o := &list[i]
		ref := mesh.Reference{Group: o.Kind.Group, Kind: o.Kind.Kind, Namespace: o.Namespace, Name: o.Name}
		b.subscribables[ref] = len(b.mesh.Subscribables)
		b.remember(ref, &o.Meta, o.Policies)
		b.mesh.Subscribables = append(b.mesh.Subscribables, mesh.Subscribable{
			Meta:               meta(&o.Meta),
			Group:              o.Kind.Group,
			Kind:               o.Kind.Kind,
			ProvidedEventTypes: b.byReference[ref],
			Access:             access(&o.Addressable),
		})
	}
}

func (b *builder) addSources(list []objects.Object) {
	b.mesh.Sources = make([]mesh.Source, 0, len(list))
	for i := range list {
		o := &list[i]
		b.remember(mesh.Reference{Group: o.Kind.Group, Kind: o.Kind.Kind, Namespace: o.Namespace, Name: o.Name}, &o.Meta, nil)
		declared := b.typesOf(o.Kind)
		types := make([]string, len(declared))
		for i, d := range declared {
			types[i] = d.Type
		}
		src := mesh.Source{
			Meta:                   meta(&o.Meta),
			Group:                  o.Kind.Group,
			Kind:                   o.Kind.Kind,
			ProvidedEventTypeTypes: types,
			DeclaredEventTypes:     slices.Clone(declared),
		}
		for _, t := range types {
			src.ProvidedEventTypes = append(src.ProvidedEventTypes, b.eventTypesByNS[o.Namespace][t]...)
		}
		if s := o.Sink; s != nil {
			ns := s.Namespace
			if ns == "" {
				ns = o.Namespace
			}
			if ref, ok := reference(s.APIVersion, s.Kind, ns, s.Name); ok {
				src.Sink = &ref
			}
		}
		b.mesh.Sources = append(b.mesh.Sources, src)
	}
}

// access returns what the mesh shows of where and how senders send to an
// addressable; relate adds the EventPolicies.
func access(a *objects.Addressable) mesh.Access {
	return mesh.Access{Address: a.URL, Audience: a.Audience}
}

// The groups of the kinds of targets.
const sinksGroup = "sinks.knative.dev"

// addTargets adds the sinks, EventTransforms and RequestReplies, each to
// its list.
func (b *builder) addTargets(list []objects.Target) {
	b.mesh.Sinks, b.mesh.EventTransforms, b.mesh.RequestReplies = []mesh.Sink{}, []mesh.Transform{}, []mesh.RequestReply{}
	for i := range list {
		t := &list[i]
		access := access(&t.Addressable)
		b.remember(mesh.Reference{Group: t.Group, Kind: t.Kind, Namespace: t.Namespace, Name: t.Name}, &t.Meta, t.Policies)
		switch {
		case t.Group == sinksGroup:
			b.mesh.Sinks = append(b.mesh.Sinks, mesh.Sink{Meta: meta(&t.Meta), Group: t.Group, Kind: t.Kind, Access: access})
		case t.Kind == "EventTransform":
			e := mesh.Transform{Meta: meta(&t.Meta), Group: t.Group, Kind: t.Kind, Access: access}
			if ref, ok := objectRef(t.Sink, t.Namespace); ok {
				e.Sink = &ref
			}
			b.mesh.EventTransforms = append(b.mesh.EventTransforms, e)
		case t.Kind == "RequestReply":
			e := mesh.RequestReply{Meta: meta(&t.Meta), Group: t.Group, Kind: t.Kind, Access: access}
			if ref, ok := objectRef(t.Broker, t.Namespace); ok {
				e.Broker = &ref
			}
			b.mesh.RequestReplies = append(b.mesh.RequestReplies, e)
		}
	}
}

// typesOf returns the CloudEvent types a source kind declares, parsing the
// annotation of its CRD once.
func (b *builder) typesOf(k *objects.Kind) []mesh.DeclaredEventType {
	if types, ok := b.sourceTypes[k]; ok {
		return types
	}
	types, err := ParseEventTypes(k.Annotations[EventTypesAnnotation])
	if err != nil {
		b.skip("event types of %s left out: %v", k.Kind, err)
	}
	b.sourceTypes[k] = types
	return types
}

// ParseEventTypes returns the entries of the value of a
// registry.knative.dev/eventTypes annotation: a JSON list of
// {"type", "schema", "description"} objects. Entries without a type are
// ignored; an empty value lists nothing.
func ParseEventTypes(annotation string) ([]mesh.DeclaredEventType, error) {
	if annotation == "" {
		return nil, nil
	}
	var entries []mesh.DeclaredEventType
	if err := json.Unmarshal([]byte(annotation), &entries); err != nil {
		return nil, fmt.Errorf("parsing %s annotation: %w", EventTypesAnnotation, err)
	}
	types := make([]mesh.DeclaredEventType, 0, len(entries))
	for _, e := range entries {
		if e.Type != "" {
			types = append(types, e)
		}
	}
	return types, nil
}
