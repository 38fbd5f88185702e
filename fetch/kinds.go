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
// and lists their objects. The API groups are read once for both, while
// the CRDs are listed.
func (r *reader) crdKinds(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	groupsRead := make(chan struct{})
	var groups map[string]*metav1.APIGroup
	var groupsErr error
	g.Go(func() error {
		defer close(groupsRead)
		groups, groupsErr = r.apiGroups(ctx)
		return nil
	})
	apiGroups := func(ctx context.Context) (map[string]*metav1.APIGroup, error) {
		select {
		case <-groupsRead:
			return groups, groupsErr
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var subscribables, sources []objects.Object
	g.Go(func() (err error) {
		subscribables, err = r.kindObjects(ctx, SubscribableLabel, false, apiGroups)
		return err
	})
	g.Go(func() (err error) {
		sources, err = r.kindObjects(ctx, SourceLabel, true, apiGroups)
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	r.objs.Subscribables, r.objs.Sources = subscribables, sources
	return nil
}

// apiGroupsFunc waits for the API groups of discovery.
type apiGroupsFunc func(context.Context) (map[string]*metav1.APIGroup, error)

// apiGroups reads the API groups the API server serves, by name.
func (r *reader) apiGroups(ctx context.Context) (map[string]*metav1.APIGroup, error) {
	var list metav1.APIGroupList
	if err := r.getJSON(ctx, what("discover", "API groups", ""), []string{"/apis"}, &list); err != nil {
		return nil, err
	}
	groups := make(map[string]*metav1.APIGroup, len(list.Groups))
	for i := range list.Groups {
		groups[list.Groups[i].Name] = &list.Groups[i]
	}
	return groups, nil
}

// kindObjects lists the CRDs that carry label, then the objects of each,
// in parallel. withSink reads whole objects, for spec.sink; otherwise only
// metadata is read.
func (r *reader) kindObjects(ctx context.Context, label string, withSink bool, groups apiGroupsFunc) ([]objects.Object, error) {
	kinds, err := r.kinds(ctx, label, groups)
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

// kinds lists the CRDs that carry label, by their metadata alone: a CRD's
// name is "<plural>.<group>" and its annotations are all the mesh reads of
// it. API discovery then gives each one's version and kind. CRDs are
// cluster-scoped: a token that may not list them gets a mesh without these
// kinds, and a warning.
func (r *reader) kinds(ctx context.Context, label string, groups apiGroupsFunc) ([]*objects.Kind, error) {
	crds, err := r.listMetadata(ctx, crdsGVR, "", label)
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
	served, err := groups(ctx)
	if optional(err) {
		r.warn("objects of CRDs labelled %s left out: %v", label, err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	g, ctx := errgroup.WithContext(ctx)
	for group, kinds := range byGroup {
		if apiGroup, ok := served[group]; ok {
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
// from the discovery documents of its versions, read in parallel: each
// kind at the preferred version if it is served there, else at the first
// other version that serves it.
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
	for i, list := range lists {
		for _, k := range kinds {
			if res, ok := resource(list, k.Resource); ok && k.Version == "" {
				k.Version, k.Kind = versions[i], res.Kind
			}
		}
	}
	return nil
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
			r.warn("sink of %s %s/%s left out: %v", k.Kind, u.GetNamespace(), u.GetName(), err)
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
