package relate

import (
	"github.com/knative-eventmesh/function/objects"
)

// addTriggers marks, for each Trigger whose broker exists, the broker's
// EventTypes its filter lets through as consumed by its subscriber.
func (b *builder) addTriggers(objs *objects.Set) {
	for i := range objs.Triggers {
		t := &objs.Triggers[i]
		ids := b.subscriberIDs(objs, "Trigger", t.Namespace, t.Name, t.Subscriber)
		if len(ids) == 0 {
			continue
		}
		broker, ok := b.brokers[namespacedName(t.Namespace, brokerName(t))]
		if !ok {
			continue
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
			if f.CouldMatch(et.attrs) {
				et.ConsumedBy = append(et.ConsumedBy, ids...)
			}
		}
	}
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
// channel as consumed by its subscriber.
func (b *builder) addSubscriptions(objs *objects.Set) {
	for i := range objs.Subscriptions {
		s := &objs.Subscriptions[i]
		ids := b.subscriberIDs(objs, "Subscription", s.Namespace, s.Name, s.Subscriber)
		if len(ids) == 0 {
			continue
		}
		ch := s.Channel
		ref, ok := reference(ch.APIVersion, ch.Kind, s.Namespace, ch.Name)
		if !ok {
			continue
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
