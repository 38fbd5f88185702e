package relate

import (
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/knative-eventmesh/function/fetch"
)

// addTriggers marks, for each Trigger whose broker exists, the broker's
// EventTypes its filter lets through as consumed by its subscriber.
func (b *builder) addTriggers(objs *fetch.Objects) {
	for i := range objs.Triggers {
		t := &objs.Triggers[i]
		id := subscriberID(objs, t.Spec.Subscriber.Ref, t.Namespace)
		if id == "" {
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
		f, err := b.filters.Compile(t.Spec)
		if err != nil {
			b.skip("Trigger %s/%s: %v", t.Namespace, t.Name, err)
			continue
		}
		for _, key := range provided {
			et := b.eventTypes[key]
			if f.CouldMatch(et.attrs) {
				et.ConsumedBy = append(et.ConsumedBy, id)
			}
		}
	}
}

// brokerName returns the broker of a Trigger: spec.broker, or the name of
// spec.brokerRef when it points into the Trigger's own namespace.
func brokerName(t *eventingv1.Trigger) string {
	if t.Spec.Broker != "" {
		return t.Spec.Broker
	}
	if r := t.Spec.BrokerRef; r != nil && (r.Namespace == "" || r.Namespace == t.Namespace) {
		return r.Name
	}
	return ""
}

// addSubscriptions marks the EventTypes that refer to a Subscription's
// channel as consumed by its subscriber.
func (b *builder) addSubscriptions(objs *fetch.Objects) {
	for i := range objs.Subscriptions {
		s := &objs.Subscriptions[i]
		id := subscriberID(objs, s.Spec.Subscriber.Ref, s.Namespace)
		if id == "" {
			continue
		}
		ch := s.Spec.Channel
		ref, ok := reference(ch.APIVersion, ch.Kind, s.Namespace, ch.Name)
		if !ok {
			continue
		}
		for _, key := range b.byReference[ref] {
			et := b.eventTypes[key]
			et.ConsumedBy = append(et.ConsumedBy, id)
		}
	}
}

// subscriberID returns the Backstage id of a subscriber, or "" when it has
// none: a URI, a missing or unreadable object, or one without the label.
func subscriberID(objs *fetch.Objects, ref *duckv1.KReference, ns string) string {
	key, ok := fetch.SubscriberRef(ref, ns)
	if !ok {
		return ""
	}
	return objs.Subscribers[key]
}
