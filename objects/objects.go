// Package objects holds what flows between the steps of a mesh build: the
// Kubernetes objects fetch reads, in the few fields the mesh needs, and the
// typed errors a step reports.
//
// It is a leaf: it imports no API client and no other package of the
// function, so that relate, filter, mesh and respond, which read it, stay
// pure.
package objects

import "k8s.io/apimachinery/pkg/runtime/schema"

// Set is everything the mesh is built from.
type Set struct {
	Brokers       []Broker
	EventTypes    []EventType
	Triggers      []Trigger
	Subscriptions []Subscription
	// Subscribables are the objects of every CRD labelled
	// messaging.knative.dev/subscribable=true.
	Subscribables []Object
	// Sources are the objects of every CRD labelled
	// duck.knative.dev/source=true.
	Sources []Object
	// Targets are the sinks, EventTransforms and RequestReplies.
	Targets []Target
	// Flows are the Sequences and Parallels.
	Flows         []Flow
	EventPolicies []EventPolicy
	// DefaultAuthorizationMode is default-authorization-mode of Eventing's
	// config-features, or "" when it could not be read.
	DefaultAuthorizationMode string
	// Subscribers maps each subscriber reference of a Trigger,
	// Subscription or flow to its Backstage id. A reference that is missing has no
	// id: the object lacks the label, does not exist, or may not be read.
	Subscribers map[Ref]string
	// Warnings name the parts of the mesh left out because the token may
	// not read them. They are meant for the caller.
	Warnings []string
	// Skipped name the objects left out, for the log.
	Skipped []string
}

// Meta is the part of an object's metadata the mesh shows.
type Meta struct {
	Name, Namespace, UID string
	Labels, Annotations  map[string]string
}

// Reference is an object reference as a spec writes it (Knative's
// KReference): the API version rather than the group.
type Reference struct {
	APIVersion, Kind, Namespace, Name string
}

// EventType is an EventType, whichever version its spec is written in:
// v1beta2 fills the named fields, v1beta3 keeps the type, source and
// schema in Attributes.
type EventType struct {
	Meta
	Type, Source, Schema, SchemaData, Description string
	// Broker is the deprecated v1beta2 spec.broker.
	Broker     string
	Reference  *Reference
	Attributes []Attribute
}

// Attribute is a v1beta3 CloudEvent attribute definition.
type Attribute struct {
	Name, Value string
	Required    bool
}

// Trigger is a Knative Trigger: its broker, subscriber and filters.
type Trigger struct {
	Name, Namespace string
	// Broker is spec.broker; BrokerRef is spec.brokerRef.
	Broker    string
	BrokerRef *Reference
	// Subscriber is spec.subscriber.ref, nil for a URI.
	Subscriber *Reference
	// Attributes is spec.filter.attributes, nil without a filter.
	Attributes map[string]string
	// Filters is spec.filters; when not empty it overrides Attributes.
	Filters []Filter
}

// Filter is an entry of a Trigger's spec.filters (Knative's
// SubscriptionsAPIFilter): each dialect set must hold.
type Filter struct {
	All    []Filter
	Any    []Filter
	Not    *Filter
	Exact  map[string]string
	Prefix map[string]string
	Suffix map[string]string
	CESQL  string
}

// Subscription is a Knative Subscription: its channel and subscriber.
type Subscription struct {
	Name, Namespace string
	Channel         Reference
	// Subscriber is spec.subscriber.ref, nil for a URI.
	Subscriber *Reference
}

// Kind is a resource type found through its CustomResourceDefinition.
type Kind struct {
	Group, Version, Resource, Kind string
	// Annotations are the CRD's; relate reads
	// registry.knative.dev/eventTypes from them.
	Annotations map[string]string
}

// Object is a channel or a source.
type Object struct {
	Kind *Kind
	Meta
	// Addressable is a channel's; a source's is empty.
	Addressable
	// Sink is spec.sink.ref of a source, or nil.
	Sink *Reference
}

// Ref names a subscriber: an object by API group, kind, namespace and name.
type Ref struct {
	Group, Kind, Namespace, Name string
}

// SubscriberRef returns the Ref of a subscriber reference written in an
// object of namespace ns, and false when ref is not an object reference.
func SubscriberRef(ref *Reference, ns string) (Ref, bool) {
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

// Addressable is what the mesh shows of an object events are sent to: its
// audience and the EventPolicies Eventing says apply to it.
type Addressable struct {
	// URL is status.address.url: where senders send events; "" when it
	// advertises none.
	URL string
	// Audience is status.address.audience: the audience of the OIDC
	// tokens a sender must present; "" when it advertises none.
	Audience string
	// Policies are the names of status.policies, all in the object's
	// namespace.
	Policies []string
}

// Broker is a Knative Broker.
type Broker struct {
	Meta
	Addressable
}

// Target is an object of one of the kinds Eventing added beside brokers
// and channels: a sink (JobSink, IntegrationSink), an EventTransform or a
// RequestReply.
type Target struct {
	Group, Kind string
	Meta
	Addressable
	// Sink is spec.sink.ref of an EventTransform, or nil.
	Sink *Reference
	// Broker is spec.brokerRef of a RequestReply, or nil.
	Broker *Reference
}

// Flow is a Sequence or a Parallel: what it calls, in order.
type Flow struct {
	Kind string // "Sequence" or "Parallel"
	Meta
	Addressable
	// Steps are the subscribers of a Sequence's steps, or the filters and
	// subscribers of a Parallel's branches; nil where one is a URI.
	Steps []*Reference
	// Replies are spec.reply and, of a Parallel, each branch's reply.
	Replies []*Reference
}

// EventPolicy is an EventPolicy (eventing.knative.dev/v1alpha1): to whom
// it applies and whom it allows to send.
type EventPolicy struct {
	Meta
	// To is spec.to; empty means every addressable of the namespace.
	To []PolicyTarget
	// From is spec.from.
	From []PolicySender
	// Filtered is true when spec.filters further limits what is allowed.
	Filtered bool
	// Subjects is status.from: the OIDC subjects Eventing resolved the
	// senders to.
	Subjects []string
}

// PolicyTarget is an entry of an EventPolicy's spec.to: an object by
// reference, or the objects of a kind whose labels a selector matches.
type PolicyTarget struct {
	Ref *Reference
	// Selector, when Ref is nil: the API version and kind (either may be
	// empty) and the label selector.
	Selector *PolicySelector
}

// PolicySelector selects objects by kind and labels.
type PolicySelector struct {
	APIVersion, Kind string
	MatchLabels      map[string]string
	MatchExpressions []SelectorRequirement
}

// SelectorRequirement is a label selector requirement.
type SelectorRequirement struct {
	Key, Operator string
	Values        []string
}

// PolicySender is an entry of an EventPolicy's spec.from: an object by
// reference, or an OIDC subject (sub, which may end in "*").
type PolicySender struct {
	Ref     *Reference
	Subject string
}

// Authorization mode values of Eventing's default-authorization-mode.
const (
	AllowSameNamespace = "allow-same-namespace"
	AllowAll           = "allow-all"
	DenyAll            = "deny-all"
)
