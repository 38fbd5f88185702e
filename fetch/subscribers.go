package fetch

import (
	"context"
	"maps"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

// BackstageIDLabel ties a Kubernetes object to a Backstage entity.
const BackstageIDLabel = "backstage.io/kubernetes-id"

// maxGets bounds the requests in flight when subscribers must be read
// namespace by namespace or one by one.
const maxGets = 16

// subscribers resolves the Backstage id of every subscriber reference.
//
// Labels are all the mesh needs, so only metadata is read, and per kind of
// subscriber with one label-selected LIST where the token may list that
// kind: at the cluster scope, else in each namespace that holds
// subscribers. Only where listing is forbidden are the objects read one
// GET at a time. So the number of requests does not grow with the number
// of Triggers.
func (r *reader) subscribers(ctx context.Context) error {
	byKind := map[schema.GroupVersionKind]map[Ref]bool{}
	add := func(ref *duckv1.KReference, ns string) {
		key, ok := SubscriberRef(ref, ns)
		if !ok {
			return
		}
		gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
		if byKind[gvk] == nil {
			byKind[gvk] = map[Ref]bool{}
		}
		byKind[gvk][key] = true
	}
	for i := range r.objs.Triggers {
		t := &r.objs.Triggers[i]
		add(t.Spec.Subscriber.Ref, t.Namespace)
	}
	for i := range r.objs.Subscriptions {
		s := &r.objs.Subscriptions[i]
		add(s.Spec.Subscriber.Ref, s.Namespace)
	}

	ids := &idSet{ids: map[Ref]string{}}
	g, ctx := errgroup.WithContext(ctx)
	for gvk, refs := range byKind {
		g.Go(func() error { return r.resolveKind(ctx, gvk, refs, ids) })
	}
	err := g.Wait()
	r.objs.Subscribers = ids.ids
	return err
}

// idSet collects ids from parallel requests.
type idSet struct {
	mu  sync.Mutex
	ids map[Ref]string
}

func (s *idSet) add(ref Ref, labels map[string]string) {
	id, ok := labels[BackstageIDLabel]
	if !ok || id == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[ref] = id
}

// resolveKind resolves the subscribers of one kind: with one list at the
// cluster scope if allowed, else per namespace, else one GET each.
func (r *reader) resolveKind(ctx context.Context, gvk schema.GroupVersionKind, refs map[Ref]bool, ids *idSet) error {
	// The resource name is guessed from the kind, as the backend this
	// function replaces does: discovery would cost more requests than the
	// whole mesh, and an unusual plural only leaves that kind out.
	gvr, _ := meta.UnsafeGuessKindToResource(gvk)
	if len(r.opts.Namespaces) == 0 {
		err := r.listLabelled(ctx, gvr, gvk.Kind, "", refs, ids)
		if err == nil || !r.fallBack(err, gvr, "") {
			return err
		}
	}
	byNS := map[string][]Ref{}
	for ref := range refs {
		byNS[ref.Namespace] = append(byNS[ref.Namespace], ref)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxGets)
	for _, ns := range slices.Sorted(maps.Keys(byNS)) {
		g.Go(func() error {
			err := r.listLabelled(ctx, gvr, gvk.Kind, ns, refs, ids)
			if err == nil || !r.fallBack(err, gvr, ns) {
				return err
			}
			return r.getEach(ctx, gvr, byNS[ns], ids)
		})
	}
	return g.Wait()
}

// listLabelled lists the objects of gvr that carry the Backstage label and
// records the ids of those in refs.
func (r *reader) listLabelled(ctx context.Context, gvr schema.GroupVersionResource, kind, ns string, refs map[Ref]bool, ids *idSet) error {
	items, err := r.listMetadata(ctx, gvr, ns, BackstageIDLabel)
	if err != nil {
		return err
	}
	for i := range items {
		ref := Ref{Group: gvr.Group, Kind: kind, Namespace: items[i].Namespace, Name: items[i].Name}
		if refs[ref] {
			ids.add(ref, items[i].Labels)
		}
	}
	return nil
}

// fallBack reports whether a failed list should be retried more narrowly.
// A kind the API server does not know leaves its subscribers out.
func (r *reader) fallBack(err error, gvr schema.GroupVersionResource, ns string) bool {
	if apierrors.IsNotFound(err) {
		r.skip("subscribers of %s: %v", resourceName(gvr), err)
		return false
	}
	return apierrors.IsForbidden(err)
}

// getEach reads subscribers one GET at a time, a bounded number in
// parallel. A subscriber that is missing or may not be read is left out.
func (r *reader) getEach(ctx context.Context, gvr schema.GroupVersionResource, refs []Ref, ids *idSet) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxGets)
	for _, ref := range refs {
		g.Go(func() error {
			obj, err := r.c.Metadata.Resource(gvr).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			switch {
			case err == nil:
				ids.add(ref, obj.Labels)
				return nil
			case optional(err):
				r.skip("subscriber %s %s/%s: %v", ref.Kind, ref.Namespace, ref.Name, err)
				return nil
			default:
				return &Error{Doing: what("get", resourceName(gvr), ref.Namespace), Err: err}
			}
		})
	}
	return g.Wait()
}
