package fetch

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

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
// and lists their objects. The APIs are discovered once for both, while
// the CRDs are listed.
func (r *reader) crdKinds(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	read := make(chan struct{})
	var served *apis
	var servedErr error
	g.Go(func() error {
		defer close(read)
		served, servedErr = r.readAPIs(ctx)
		return nil
	})
	discovered := func(ctx context.Context) (*apis, error) {
		select {
		case <-read:
			return served, servedErr
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var subscribables, sources []objects.Object
	g.Go(func() (err error) {
		subscribables, err = r.kindObjects(ctx, SubscribableLabel, ChannelCategory, false, discovered)
		return err
	})
	g.Go(func() (err error) {
		sources, err = r.kindObjects(ctx, SourceLabel, SourceCategory, true, discovered)
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	r.objs.Subscribables, r.objs.Sources = subscribables, sources
	return nil
}

// apisFunc waits for API discovery.
type apisFunc func(context.Context) (*apis, error)

// kindObjects lists the CRDs that carry label, then the objects of each,
// in parallel; those of the kinds discovery puts in category are listed
// early (listEarly). withSink reads whole objects, for spec.sink; otherwise
// only metadata is read.
func (r *reader) kindObjects(ctx context.Context, label, category string, withSink bool, discovered apisFunc) ([]objects.Object, error) {
	early := r.listEarly(ctx, category, withSink, discovered)
	defer early.stop()
	kinds, err := r.kinds(ctx, label, discovered)
	if err != nil {
		return nil, err
	}
	parts := make([][]objects.Object, len(kinds))
	g, ctx := errgroup.WithContext(ctx)
	for i, k := range kinds {
		g.Go(func() error {
			objs, ok, err := early.take(ctx, k, r.warn)
			if !ok && err == nil {
				objs, err = r.listObjects(ctx, k, withSink, r.warn)
			}
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

// listObjects lists the objects of kind k in the mesh's scope: whole when
// withSink, for spec.sink, else their metadata. What it leaves out of an
// object it tells warn.
func (r *reader) listObjects(ctx context.Context, k *objects.Kind, withSink bool, warn warnFunc) ([]objects.Object, error) {
	return inEachNamespace(ctx, r, func(ctx context.Context, ns string) ([]objects.Object, error) {
		if withSink {
			return r.listSources(ctx, k, ns, warn)
		}
		return r.listChannels(ctx, k, ns, warn)
	})
}

// kinds lists the CRDs that carry label, by their metadata alone: a CRD's
// name is "<plural>.<group>" and its annotations are all the mesh reads of
// it. API discovery then gives each one's version and kind. CRDs are
// cluster-scoped: a token that may not list them gets a mesh without these
// kinds, and a warning.
func (r *reader) kinds(ctx context.Context, label string, discovered apisFunc) ([]*objects.Kind, error) {
	var crds []objects.Meta
	err := r.listMetadata(ctx, crdsGVR, "", label, func(m *metav1.PartialObjectMetadata) {
		crds = append(crds, metaOf(&m.ObjectMeta))
	}, func() { crds = nil })
	if optional(err) {
		r.warn("objects of CRDs labelled %s left out: %v", label, err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	byGroup := map[string][]*objects.Kind{}
	for i := range crds {
		plural, group, ok := strings.Cut(crds[i].Name, ".")
		if !ok || plural == "" || group == "" {
			r.warn("CRD %s left out: its name is not <plural>.<group>", crds[i].Name)
			continue
		}
		byGroup[group] = append(byGroup[group], &objects.Kind{Group: group, Resource: plural, Annotations: crds[i].Annotations})
	}
	if len(byGroup) == 0 {
		return nil, nil
	}
	served, err := discovered(ctx)
	if optional(err) {
		r.warn("objects of CRDs labelled %s left out: %v", label, err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	g, ctx := errgroup.WithContext(ctx)
	for group, kinds := range byGroup {
		apiGroup, ok := served.groups[group]
		switch {
		case !ok:
		case served.resources != nil:
			findKinds(apiGroup, served.resources, kinds)
		default:
			g.Go(func() error { return r.discover(ctx, apiGroup, kinds) })
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var found []*objects.Kind
	for _, group := range slices.Sorted(maps.Keys(byGroup)) {
		for _, k := range byGroup[group] {
			if k.Version == "" {
				r.warn("CRD %s.%s left out: API discovery lists no served version of it (not established yet, or no version served)", k.Resource, k.Group)
				continue
			}
			found = append(found, k)
		}
	}
	return found, nil
}

// discover fills in the version and kind of kinds, all of one API group,
// from the discovery documents of its versions, read in parallel: where
// the API server does not aggregate discovery.
func (r *reader) discover(ctx context.Context, apiGroup *metav1.APIGroup, kinds []*objects.Kind) error {
	group := apiGroup.Name
	versions := groupVersions(apiGroup)
	lists := make([]*metav1.APIResourceList, len(versions))
	g, ctx := errgroup.WithContext(ctx)
	for i, v := range versions {
		g.Go(func() error {
			var list metav1.APIResourceList
			err := r.getJSON(ctx, what("discover", "API version "+group+"/"+v, ""), []string{"/apis", group, v}, &list)
			if optional(err) {
				return nil
			}
			lists[i] = &list
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	resources := map[schema.GroupVersion]*metav1.APIResourceList{}
	for i, v := range versions {
		resources[schema.GroupVersion{Group: group, Version: v}] = lists[i]
	}
	findKinds(apiGroup, resources, kinds)
	return nil
}

// findKinds fills in the version and kind of kinds, all of one API group,
// from the resources of its versions: each kind at the preferred version
// if it is served there, else at the first other version that serves it.
func findKinds(apiGroup *metav1.APIGroup, resources map[schema.GroupVersion]*metav1.APIResourceList, kinds []*objects.Kind) {
	for _, v := range groupVersions(apiGroup) {
		list := resources[schema.GroupVersion{Group: apiGroup.Name, Version: v}]
		for _, k := range kinds {
			if res, ok := resource(list, k.Resource); ok && k.Version == "" {
				k.Version, k.Kind = v, res.Kind
			}
		}
	}
}

// groupVersions returns the versions of an API group, the preferred one
// first.
func groupVersions(g *metav1.APIGroup) []string {
	versions := []string{g.PreferredVersion.Version}
	for _, v := range g.Versions {
		if v.Version != g.PreferredVersion.Version {
			versions = append(versions, v.Version)
		}
	}
	return slices.DeleteFunc(versions, func(v string) bool { return v == "" })
}

// resource returns the resource called name in list (nil: none);
// subresources ("pingsources/status") are not resources.
func resource(list *metav1.APIResourceList, name string) (metav1.APIResource, bool) {
	if list == nil {
		return metav1.APIResource{}, false
	}
	for _, res := range list.APIResources {
		if res.Name == name && res.Kind != "" {
			return res, true
		}
	}
	return metav1.APIResource{}, false
}

// listChannels lists k's objects for their metadata and address status:
// all a channel shows.
func (r *reader) listChannels(ctx context.Context, k *objects.Kind, ns string, warn warnFunc) ([]objects.Object, error) {
	gvr := gvrOf(k)
	path := collectionPath(gvr.Group, gvr.Version, gvr.Resource, ns)
	return listRaw(ctx, r, what("list", resourceName(gvr), ns), k.Kind, path, func(c *addressableItem[noSpec]) objects.Object {
		return objects.Object{Kind: k, Meta: c.Metadata.meta(), Addressable: c.Status.addressable()}
	}, warn)
}

// listSources lists k's objects whole, for spec.sink.
func (r *reader) listSources(ctx context.Context, k *objects.Kind, ns string, warn warnFunc) ([]objects.Object, error) {
	var out []objects.Object
	var warnings []string // told once the whole list is read
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
			warnings = append(warnings, fmt.Sprintf("sink of %s %s/%s left out: %v", k.Kind, u.GetNamespace(), u.GetName(), err))
		}
		src.Sink = referenceOf(sink)
		out = append(out, src)
		return nil
	}, func() { out, warnings = nil, nil })
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		warn("%s", w)
	}
	return out, nil
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

// unstructuredMeta returns the metadata of u that the mesh shows.
func unstructuredMeta(u *unstructured.Unstructured) objects.Meta {
	return objects.Meta{
		Name:        u.GetName(),
		Namespace:   u.GetNamespace(),
		UID:         string(u.GetUID()),
		Labels:      u.GetLabels(),
		Annotations: u.GetAnnotations(),
	}
}
