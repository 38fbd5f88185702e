// Package fetch reads from the Kubernetes API everything the event mesh is
// built from, into an objects.Set. It is the only step that does API I/O:
// lists run in parallel, page by page, and subscribers are resolved with as
// few requests as the caller's permissions allow.
//
// Objects are decoded with Knative's own API types, then handed on in the
// plain form of package objects, so that the steps after this one need no
// API client.
package fetch

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/knative-eventmesh/function/objects"
)

// metaOf returns the part of an object's metadata the mesh shows.
func metaOf(m *metav1.ObjectMeta) objects.Meta {
	return objects.Meta{Name: m.Name, Namespace: m.Namespace, UID: string(m.UID), Labels: m.Labels, Annotations: m.Annotations}
}

// referenceOf converts a Knative object reference.
func referenceOf(r *duckv1.KReference) *objects.Reference {
	if r == nil {
		return nil
	}
	return &objects.Reference{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
}

// triggerOf converts a Trigger's spec.
func triggerOf(name, namespace string, spec *eventingv1.TriggerSpec) objects.Trigger {
	t := objects.Trigger{
		Name:       name,
		Namespace:  namespace,
		Broker:     spec.Broker,
		BrokerRef:  referenceOf(spec.BrokerRef),
		Subscriber: referenceOf(spec.Subscriber.Ref),
		Filters:    filtersOf(spec.Filters),
	}
	if spec.Filter != nil {
		t.Attributes = map[string]string(spec.Filter.Attributes)
	}
	return t
}

// filtersOf converts a list of SubscriptionsAPIFilters.
func filtersOf(list []eventingv1.SubscriptionsAPIFilter) []objects.Filter {
	if list == nil {
		return nil
	}
	out := make([]objects.Filter, len(list))
	for i := range list {
		out[i] = filterOf(&list[i])
	}
	return out
}

func filterOf(f *eventingv1.SubscriptionsAPIFilter) objects.Filter {
	out := objects.Filter{
		All:    filtersOf(f.All),
		Any:    filtersOf(f.Any),
		Exact:  f.Exact,
		Prefix: f.Prefix,
		Suffix: f.Suffix,
		CESQL:  f.CESQL,
	}
	if f.Not != nil {
		not := filterOf(f.Not)
		out.Not = &not
	}
	return out
}

// subscriptionOf converts a Subscription's spec.
func subscriptionOf(name, namespace string, spec *messagingv1.SubscriptionSpec) objects.Subscription {
	ch := spec.Channel
	return objects.Subscription{
		Name:       name,
		Namespace:  namespace,
		Channel:    objects.Reference{APIVersion: ch.APIVersion, Kind: ch.Kind, Namespace: ch.Namespace, Name: ch.Name},
		Subscriber: referenceOf(spec.Subscriber.Ref),
	}
}
