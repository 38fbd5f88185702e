package fetch

import (
	"context"

	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	flowsv1 "knative.dev/eventing/pkg/apis/flows/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/knative-eventmesh/function/objects"
)

// addressStatus is the part of an addressable's status the mesh shows:
// its audience and the EventPolicies that apply to it. Brokers, channels,
// sinks, transforms, request-reply and flows all write it so.
type addressStatus struct {
	Address *duckv1.Addressable `json:"address"`
	eventingduckv1.AppliedEventPoliciesStatus
}

func (s *addressStatus) addressable() objects.Addressable {
	var a objects.Addressable
	if s.Address != nil && s.Address.URL != nil {
		a.URL = s.Address.URL.String()
	}
	if s.Address != nil && s.Address.Audience != nil {
		a.Audience = *s.Address.Audience
	}
	for _, p := range s.Policies {
		if p.Name != "" {
			a.Policies = append(a.Policies, p.Name)
		}
	}
	return a
}

// addressableItem is an object as listed for its metadata and address
// status, with its spec decoded into S.
type addressableItem[S any] struct {
	Metadata objectMeta    `json:"metadata"`
	Spec     S             `json:"spec"`
	Status   addressStatus `json:"status"`
}

func (i *addressableItem[S]) objectID() (string, string) {
	return i.Metadata.Name, i.Metadata.Namespace
}

// noSpec is the spec of a kind whose spec the mesh does not read.
type noSpec struct{}

// A newKind is a kind Eventing added beside brokers and channels, which
// the mesh lists at a fixed version: when it is not installed, or the
// token may not list it, it is left out with a Warning.
type newKind struct {
	group, version, resource, kind string
}

func (k newKind) name() string { return k.resource + "." + k.group }

// The group and version of Eventing's sinks (knative.dev/eventing's
// apis/sinks/v1alpha1, whose package the mesh needs nothing else of).
const sinksGroup, sinksVersion = "sinks.knative.dev", "v1alpha1"

var (
	jobSinks         = newKind{sinksGroup, sinksVersion, "jobsinks", "JobSink"}
	integrationSinks = newKind{sinksGroup, sinksVersion, "integrationsinks", "IntegrationSink"}
	eventTransforms  = newKind{eventingv1alpha1.SchemeGroupVersion.Group, eventingv1alpha1.SchemeGroupVersion.Version, "eventtransforms", "EventTransform"}
	requestReplies   = newKind{eventingv1alpha1.SchemeGroupVersion.Group, eventingv1alpha1.SchemeGroupVersion.Version, "requestreplies", "RequestReply"}
	sequences        = newKind{flowsv1.SchemeGroupVersion.Group, flowsv1.SchemeGroupVersion.Version, "sequences", "Sequence"}
	parallels        = newKind{flowsv1.SchemeGroupVersion.Group, flowsv1.SchemeGroupVersion.Version, "parallels", "Parallel"}
	eventPolicies    = newKind{eventingv1alpha1.SchemeGroupVersion.Group, eventingv1alpha1.SchemeGroupVersion.Version, "eventpolicies", "EventPolicy"}
)

// listNew lists the objects of k in the mesh's scope, decoding each into
// T and converting it. A kind that is not served, or that the token may
// not list, is left out with a Warning.
func listNew[T any, P item[T], O any](ctx context.Context, r *reader, k newKind, convert func(*T) O) ([]O, error) {
	items, err := inEachNamespace(ctx, r, func(ctx context.Context, ns string) ([]O, error) {
		path := collectionPath(k.group, k.version, k.resource, ns)
		return listRaw[T, P](ctx, r, what("list", k.name(), ns), k.kind, path, convert, r.warn)
	})
	if optional(err) {
		r.warn("%s objects left out: %v", k.kind, leftOutReason(err))
		return nil, nil
	}
	return items, err
}

// targets lists the sinks, EventTransforms and RequestReplies, in
// parallel.
func (r *reader) targets(ctx context.Context) error {
	var parts [4][]objects.Target
	err := all(ctx,
		func(ctx context.Context) (err error) {
			parts[0], err = listNew[addressableItem[noSpec]](ctx, r, jobSinks, targetOf[noSpec](jobSinks, nil))
			return err
		},
		func(ctx context.Context) (err error) {
			parts[1], err = listNew[addressableItem[noSpec]](ctx, r, integrationSinks, targetOf[noSpec](integrationSinks, nil))
			return err
		},
		func(ctx context.Context) (err error) {
			parts[2], err = listNew[addressableItem[eventingv1alpha1.EventTransformSpec]](ctx, r, eventTransforms,
				targetOf(eventTransforms, func(s *eventingv1alpha1.EventTransformSpec, t *objects.Target) {
					if s.Sink != nil {
						t.Sink = referenceOf(s.Sink.Ref)
					}
				}))
			return err
		},
		func(ctx context.Context) (err error) {
			parts[3], err = listNew[addressableItem[eventingv1alpha1.RequestReplySpec]](ctx, r, requestReplies,
				targetOf(requestReplies, func(s *eventingv1alpha1.RequestReplySpec, t *objects.Target) {
					t.Broker = referenceOf(&s.BrokerRef)
				}))
			return err
		},
	)
	r.objs.Targets = append(append(append(parts[0], parts[1]...), parts[2]...), parts[3]...)
	return err
}

// targetOf returns the conversion of an object of kind k; spec, when not
// nil, reads its spec.
func targetOf[S any](k newKind, spec func(*S, *objects.Target)) func(*addressableItem[S]) objects.Target {
	return func(i *addressableItem[S]) objects.Target {
		t := objects.Target{Group: k.group, Kind: k.kind, Meta: i.Metadata.meta(), Addressable: i.Status.addressable()}
		if spec != nil {
			spec(&i.Spec, &t)
		}
		return t
	}
}

// flows lists the Sequences and Parallels, in parallel, and tells see of
// every object they call, so that its kind's subscribers are listed early.
func (r *reader) flows(ctx context.Context, see func(*duckv1.KReference)) error {
	var seqs, pars []objects.Flow
	err := all(ctx,
		func(ctx context.Context) (err error) {
			seqs, err = listNew[addressableItem[flowsv1.SequenceSpec]](ctx, r, sequences, sequenceOf(see))
			return err
		},
		func(ctx context.Context) (err error) {
			pars, err = listNew[addressableItem[flowsv1.ParallelSpec]](ctx, r, parallels, parallelOf(see))
			return err
		},
	)
	r.objs.Flows = append(seqs, pars...)
	return err
}

// sequenceOf returns the conversion of a Sequence, which tells see of each
// step's subscriber.
func sequenceOf(see func(*duckv1.KReference)) func(*addressableItem[flowsv1.SequenceSpec]) objects.Flow {
	return func(i *addressableItem[flowsv1.SequenceSpec]) objects.Flow {
		f := objects.Flow{Kind: sequences.kind, Meta: i.Metadata.meta(), Addressable: i.Status.addressable()}
		for _, s := range i.Spec.Steps {
			f.Steps = append(f.Steps, destinationRef(&s.Destination, see))
		}
		f.Replies = append(f.Replies, destinationRef(i.Spec.Reply, nil))
		return f
	}
}

// parallelOf returns the conversion of a Parallel, which tells see of each
// branch's filter and subscriber.
func parallelOf(see func(*duckv1.KReference)) func(*addressableItem[flowsv1.ParallelSpec]) objects.Flow {
	return func(i *addressableItem[flowsv1.ParallelSpec]) objects.Flow {
		f := objects.Flow{Kind: parallels.kind, Meta: i.Metadata.meta(), Addressable: i.Status.addressable()}
		for _, b := range i.Spec.Branches {
			f.Steps = append(f.Steps, destinationRef(b.Filter, see), destinationRef(&b.Subscriber, see))
			f.Replies = append(f.Replies, destinationRef(b.Reply, nil))
		}
		f.Replies = append(f.Replies, destinationRef(i.Spec.Reply, nil))
		return f
	}
}

// destinationRef returns the object a destination names, or nil for a URI
// or no destination. see, when not nil, is told of it.
func destinationRef(d *duckv1.Destination, see func(*duckv1.KReference)) *objects.Reference {
	if d == nil || d.Ref == nil {
		return nil
	}
	if see != nil {
		see(d.Ref)
	}
	return referenceOf(d.Ref)
}
