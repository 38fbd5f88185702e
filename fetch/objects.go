// Package fetch reads from the Kubernetes API everything the event mesh is
// built from. It is the only step that does API I/O: lists run in
// parallel, page by page, and subscribers are resolved with as few
// requests as the caller's permissions allow.
package fetch

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/eventing/v1beta2"
	"knative.dev/eventing/pkg/apis/eventing/v1beta3"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// Objects is what the mesh is built from.
type Objects struct {
	Brokers       []metav1.PartialObjectMetadata
	EventTypes    []EventType
	Triggers      []eventingv1.Trigger
	Subscriptions []messagingv1.Subscription
	// Subscribables are the objects of every CRD labelled
	// messaging.knative.dev/subscribable=true.
	Subscribables []Object
	// Sources are the objects of every CRD labelled
	// duck.knative.dev/source=true.
	Sources []Object
	// Subscribers maps each subscriber reference of a Trigger or
	// Subscription to its Backstage id. A reference that is missing has no
	// id: the object lacks the label, does not exist, or may not be read.
	Subscribers map[Ref]string
	// Warnings name the parts of the mesh left out because the token may
	// not read them. They are meant for the caller.
	Warnings []string
	// Skipped name the objects left out, for the log.
	Skipped []string
}

// EventType is an EventType read at whichever version the cluster serves,
// with its spec decoded both ways: an object stored as v1beta2 fills
// V1beta2, one stored as v1beta3 fills V1beta3.
type EventType struct {
	Meta    metav1.ObjectMeta
	V1beta2 v1beta2.EventTypeSpec
	V1beta3 v1beta3.EventTypeSpec
}

// Kind is a resource type found through its CustomResourceDefinition.
type Kind struct {
	schema.GroupVersionResource
	Kind string
	// Annotations are the CRD's; relate reads
	// registry.knative.dev/eventTypes from them.
	Annotations map[string]string
}

// Object is a channel or a source.
type Object struct {
	Kind *Kind
	Meta metav1.ObjectMeta
	// Sink is spec.sink.ref of a source, or nil.
	Sink *duckv1.KReference
}

// Ref names a subscriber: an object by API group, kind, namespace and name.
type Ref struct {
	Group, Kind, Namespace, Name string
}

// SubscriberRef returns the Ref of a subscriber reference written in an
// object of namespace ns, and false when ref is not an object reference.
func SubscriberRef(ref *duckv1.KReference, ns string) (Ref, bool) {
	if ref == nil || ref.Kind == "" || ref.Name == "" {
		return Ref{}, false
	}
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return Ref{}, false
	}
	if ref.Namespace != "" {
		ns = ref.Namespace
	}
	return Ref{Group: gv.Group, Kind: ref.Kind, Namespace: ns, Name: ref.Name}, true
}
