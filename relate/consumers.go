package relate

import (
	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/objects"
)

// addTriggers marks, for each Trigger whose broker exists, the broker's
// EventTypes its filter lets through as consumed by its subscriber. For
// the AsyncAPI document it also records each such Trigger as a receiver.
func (b *builder) addTriggers(objs *objects.Set) {
	for i := range objs.Triggers {
		t := &objs.Triggers[i]
		ids := b.subscriberIDs(objs, "Trigger", t.Namespace, t.Name, t.Subscriber)
		if len(ids) == 0 && !b.receivers {
			continue
		}
		broker, ok := b.brokers[namespacedName(t.Namespace, brokerName(t))]
		if !ok {
			continue
		}
		var r *mesh.Receiver
		if b.receivers {
			r = b.addReceiver("Trigger", t.Namespace, t.Name, b.brokerRef(broker), t.Subscriber, ids)
			r.Filter = describeTrigger(t)
		}
		provided := b.mesh.Brokers[broker].ProvidedEventTypes
		if len(provided) == 0 {
			continue
		}
		f, err := b.filters.Compile(t)
		if err != nil {
			b.skip("Trigger %s/%s left out: %v", t.Namespace, t.Name, err)
			continue
		}
		for _, key := range provided {
			et := b.eventTypes[key]
			if !f.CouldMatch(et.attrs) {
				continue
			}
			et.ConsumedBy = append(et.ConsumedBy, ids...)
			if r != nil && r.Filter != "" {
				r.EventTypes = append(r.EventTypes, key)
			}
		}
	}
}

// brokerRef returns the reference of the broker at index i of the mesh.
func (b *builder) brokerRef(i int) mesh.Reference {
	ref := brokerKind
	ref.Namespace, ref.Name = b.mesh.Brokers[i].Namespace, b.mesh.Brokers[i].Name
	return ref
}

// addReceiver records a Trigger or Subscription for the AsyncAPI document
// and returns it, to be completed.
func (b *builder) addReceiver(kind, ns, name string, from mesh.Reference, subscriber *objects.Reference, ids []string) *mesh.Receiver {
	r := mesh.Receiver{Kind: kind, Namespace: ns, Name: name, From: from, ConsumedBy: ids}
	if ref, ok := objectRef(subscriber, ns); ok {
		r.Subscriber = &ref
	}
	b.mesh.Receivers = append(b.mesh.Receivers, r)
	return &b.mesh.Receivers[len(b.mesh.Receivers)-1]
}

// brokerName returns the broker of a Trigger: spec.broker, or the name of
// spec.brokerRef when it points into the Trigger's own namespace.
func brokerName(t *objects.Trigger) string {
	if t.Broker != "" {
		return t.Broker
	}
	if r := t.BrokerRef; r != nil && (r.Namespace == "" || r.Namespace == t.Namespace) {
		return r.Name
	}
	return ""
}

// addSubscriptions marks the EventTypes that refer to a Subscription's
// channel as consumed by its subscriber. For the AsyncAPI document it also
// records each Subscription to a channel of the mesh as a receiver.
func (b *builder) addSubscriptions(objs *objects.Set) {
	for i := range objs.Subscriptions {
		s := &objs.Subscriptions[i]
		ids := b.subscriberIDs(objs, "Subscription", s.Namespace, s.Name, s.Subscriber)
		if len(ids) == 0 && !b.receivers {
			continue
		}
		ch := s.Channel
		ref, ok := reference(ch.APIVersion, ch.Kind, s.Namespace, ch.Name)
		if !ok {
			continue
		}
		if _, known := b.subscribables[ref]; known && b.receivers {
			b.addReceiver("Subscription", s.Namespace, s.Name, ref, s.Subscriber, ids)
		}
		for _, key := range b.byReference[ref] {
			et := b.eventTypes[key]
			et.ConsumedBy = append(et.ConsumedBy, ids...)
		}
	}
}

// subscriberIDs returns the Backstage ids of the subscriber ref of a kind
// object in namespace ns: the subscriber's own, and when it is a flow,
// those of what the flow leads to (consumersOf). It returns none for a
// URI, a missing or unreadable object, or one without the label. A
// reference that names no object is left out, and said so.
func (b *builder) subscriberIDs(objs *objects.Set, kind, ns, name string, ref *objects.Reference) []string {
	if ref == nil {
		return nil
	}
	key, ok := objects.SubscriberRef(ref, ns)
	if !ok {
		b.skip("%s %s/%s left out: its subscriber reference (apiVersion %q, kind %q, name %q) names no object", kind, ns, name, ref.APIVersion, ref.Kind, ref.Name)
		return nil
	}
	return b.consumersOf(objs, key)
}
