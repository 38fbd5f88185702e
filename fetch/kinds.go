package fetch

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/knative-eventmesh/function/objects"
)

// The labels Knative puts on the CRDs of channels and of sources.
const (
	SubscribableLabel = "messaging.knative.dev/subscribable=true"
	SourceLabel       = "duck.knative.dev/source=true"
)

// crdKinds discovers the kinds of channels and sources through their CRDs
// and lists their objects.
func (r *reader) crdKinds(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	var subscribables, sources []objects.Object
	g.Go(func() (err error) {
		subscribables, err = r.kindObjects(ctx, SubscribableLabel, false)
		return err
	})
	g.Go(func() (err error) {
		sources, err = r.kindObjects(ctx, SourceLabel, true)
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	r.objs.Subscribables, r.objs.Sources = subscribables, sources
	return nil
}

// kindObjects lists the CRDs that carry label, then the objects of each,
// in parallel. withSink reads whole objects, for spec.sink; otherwise only
// metadata is read.
func (r *reader) kindObjects(ctx context.Context, label string, withSink bool) ([]objects.Object, error) {
	kinds, err := r.kinds(ctx, label)
	if err != nil {
		return nil, err
	}
	parts := make([][]objects.Object, len(kinds))
	g, ctx := errgroup.WithContext(ctx)
	for i, k := range kinds {
		g.Go(func() error {
			objs, err := inEachNamespace(ctx, r, func(ctx context.Context, ns string) ([]objects.Object, error) {
				if withSink {
					return r.listSources(ctx, k, ns)
				}
				return r.listChannels(ctx, k, ns)
			})
			if optional(err) {
				r.warn("%s left out: %v", k.Kind, err)
				return nil
			}
			parts[i] = objs
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var all []objects.Object
	for _, p := range parts {
		all = append(all, p...)
	}
	return all, nil
}

// kinds lists the CRDs that carry label. CRDs are cluster-scoped: a token
// that may not list them gets a mesh without these kinds, and a warning.
func (r *reader) kinds(ctx context.Context, label string) ([]*objects.Kind, error) {
	var crds []unstructured.Unstructured
	err := r.each(ctx, what("list", resourceName(crdsGVR), ""), func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		o.LabelSelector = label
		return r.c.Dynamic.Resource(crdsGVR).List(ctx, o)
	}, collect(&crds))
	if optional(err) {
		r.warn("objects of CRDs labelled %s left out: %v", label, err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	kinds := make([]*objects.Kind, 0, len(crds))
	for i := range crds {
		k, err := kindOf(&crds[i])
		if err != nil {
			r.skip("CRD %s: %v", crds[i].GetName(), err)
			continue
		}
		kinds = append(kinds, k)
	}
	return kinds, nil
}

// kindOf reads the resource type a CRD defines.
func kindOf(crd *unstructured.Unstructured) (*objects.Kind, error) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	version, ok := servedVersion(crd)
	if group == "" || plural == "" || kind == "" || !ok {
		return nil, fmt.Errorf("no served version, group, plural or kind")
	}
	return &objects.Kind{Group: group, Version: version, Resource: plural, Kind: kind, Annotations: crd.GetAnnotations()}, nil
}

// listChannels lists the metadata of k's objects: all a channel shows.
func (r *reader) listChannels(ctx context.Context, k *objects.Kind, ns string) ([]objects.Object, error) {
	items, err := r.listMetadata(ctx, gvrOf(k), ns, "")
	if err != nil {
		return nil, err
	}
	out := make([]objects.Object, len(items))
	for i := range items {
		out[i] = objects.Object{Kind: k, Meta: metaOf(&items[i].ObjectMeta)}
	}
	return out, nil
}

// listSources lists k's objects whole, for spec.sink.
func (r *reader) listSources(ctx context.Context, k *objects.Kind, ns string) ([]objects.Object, error) {
	var out []objects.Object
	gvr := gvrOf(k)
	err := r.each(ctx, what("list", resourceName(gvr), ns), func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return r.c.Dynamic.Resource(gvr).Namespace(ns).List(ctx, o)
	}, func(o runtime.Object) error {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			return fmt.Errorf("unexpected list item %T", o)
		}
		src := objects.Object{Kind: k, Meta: unstructuredMeta(u)}
		sink, err := sinkRef(u)
		if err != nil {
			r.skip("sink of %s %s/%s: %v", k.Kind, u.GetNamespace(), u.GetName(), err)
		}
		src.Sink = referenceOf(sink)
		out = append(out, src)
		return nil
	})
	return out, err
}

// sinkRef returns spec.sink.ref of a source, or nil when the sink is a URI
// or absent.
func sinkRef(u *unstructured.Unstructured) (*duckv1.KReference, error) {
	ref, found, err := unstructured.NestedMap(u.Object, "spec", "sink", "ref")
	if err != nil || !found {
		return nil, err
	}
	var k duckv1.KReference
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(ref, &k); err != nil {
		return nil, fmt.Errorf("decoding spec.sink.ref: %w", err)
	}
	return &k, nil
}

// gvrOf returns the resource of a kind.
func gvrOf(k *objects.Kind) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Resource}
}
