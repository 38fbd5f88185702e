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

	"github.com/knative-eventmesh/function/objects"
)

// BackstageIDLabel ties a Kubernetes object to a Backstage entity.
const BackstageIDLabel = "backstage.io/kubernetes-id"

// maxGets bounds the requests in flight when subscribers must be read
// namespace by namespace or one by one.
const maxGets = 16

// Subscribers are read by their metadata only: labels are all the mesh
// needs. Per kind of subscriber, one label-selected LIST at the cluster
// scope gives the Backstage id of every subscriber of that kind, however
// many Triggers there are. It starts as soon as a Trigger or Subscription
// names the kind (prefetch). Where the token may not list a kind at the
// cluster scope, its subscribers are listed per namespace, and where it may
// not do that either, read one GET at a time.

// kindList is the label-selected list of one kind of subscriber at the
// cluster scope.
type kindList struct {
	done chan struct{}
	ids  map[objects.Ref]string // every labelled object of the kind
	err  error
}

// prefetch starts the cluster-scope list of a subscriber's kind, once per
// kind. A scoped mesh reads nothing at the cluster scope, so there it does
// nothing.
func (r *reader) prefetch(ctx context.Context, ref *duckv1.KReference) {
	if len(r.opts.Namespaces) > 0 || ref == nil || ref.Kind == "" {
		return
	}
	gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lists == nil {
		r.lists = map[schema.GroupVersionKind]*kindList{}
	}
	if _, ok := r.lists[gvk]; ok {
		return
	}
	l := &kindList{done: make(chan struct{})}
	r.lists[gvk] = l
	r.prefetches.Add(1)
	go func() {
		defer r.prefetches.Done()
		defer close(l.done)
		l.ids, l.err = r.labelled(ctx, gvk, "")
	}()
}

// waitForPrefetches waits for every prefetch to end, so that none outlives
// the request.
func (r *reader) waitForPrefetches() { r.prefetches.Wait() }

// prefetched returns the list of gvk started by prefetch, or nil.
func (r *reader) prefetched(gvk schema.GroupVersionKind) *kindList {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lists[gvk]
}

// subscribers resolves the Backstage id of every subscriber reference of
// the Triggers, Subscriptions and flows.
func (r *reader) subscribers(ctx context.Context) error {
	byKind := map[schema.GroupVersionKind]map[objects.Ref]bool{}
	add := func(ref *objects.Reference, ns string) {
		key, ok := objects.SubscriberRef(ref, ns)
		if !ok {
			return
		}
		gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
		if byKind[gvk] == nil {
			byKind[gvk] = map[objects.Ref]bool{}
		}
		byKind[gvk][key] = true
	}
	for i := range r.objs.Triggers {
		t := &r.objs.Triggers[i]
		add(t.Subscriber, t.Namespace)
	}
	for i := range r.objs.Subscriptions {
		s := &r.objs.Subscriptions[i]
		add(s.Subscriber, s.Namespace)
	}
	for i := range r.objs.Flows {
		f := &r.objs.Flows[i]
		for _, step := range f.Steps {
			add(step, f.Namespace)
		}
	}

	ids := &idSet{ids: map[objects.Ref]string{}}
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
	ids map[objects.Ref]string
}

func (s *idSet) add(ref objects.Ref, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[ref] = id
}

// resolveKind resolves the subscribers of one kind: from the cluster-scope
// list if the token may make it, else per namespace, else one GET each.
func (r *reader) resolveKind(ctx context.Context, gvk schema.GroupVersionKind, refs map[objects.Ref]bool, ids *idSet) error {
	if l := r.prefetched(gvk); l != nil {
		select {
		case <-l.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if l.err == nil {
			for ref := range refs {
				if id, ok := l.ids[ref]; ok {
					ids.add(ref, id)
				}
			}
			return nil
		}
		if narrow, err := r.narrower(l.err, gvk); !narrow {
			return err
		}
	}
	byNS := map[string][]objects.Ref{}
	for ref := range refs {
		byNS[ref.Namespace] = append(byNS[ref.Namespace], ref)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxGets)
	for _, ns := range slices.Sorted(maps.Keys(byNS)) {
		g.Go(func() error {
			found, err := r.labelled(ctx, gvk, ns)
			if err == nil {
				for _, ref := range byNS[ns] {
					if id, ok := found[ref]; ok {
						ids.add(ref, id)
					}
				}
				return nil
			}
			if narrow, err := r.narrower(err, gvk); !narrow {
				return err
			}
			return r.getEach(ctx, gvk, byNS[ns], ids)
		})
	}
	return g.Wait()
}

// labelled lists the objects of gvk that carry the Backstage label, in
// namespace ns ("" for the cluster scope), and returns their ids.
//
// The resource name is guessed from the kind, as the backend this function
// replaces does: discovery would cost more requests than the whole mesh,
// and an unusual plural only leaves that kind out.
func (r *reader) labelled(ctx context.Context, gvk schema.GroupVersionKind, ns string) (map[objects.Ref]string, error) {
	gvr, _ := meta.UnsafeGuessKindToResource(gvk)
	ids := map[objects.Ref]string{}
	err := r.listMetadata(ctx, gvr, ns, BackstageIDLabel, func(m *metav1.PartialObjectMetadata) {
		if id := m.Labels[BackstageIDLabel]; id != "" {
			ids[objects.Ref{Group: gvk.Group, Kind: gvk.Kind, Namespace: m.Namespace, Name: m.Name}] = id
		}
	}, func() { clear(ids) })
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// narrower tells what to do after a list of subscribers failed: retry
// more narrowly when the list was forbidden; leave the subscribers out
// (nil error) when the API server does not know the kind; else fail.
func (r *reader) narrower(err error, gvk schema.GroupVersionKind) (bool, error) {
	switch {
	case apierrors.IsForbidden(err):
		return true, nil
	case apierrors.IsNotFound(err):
		r.skip("subscribers of kind %s: %v", gvk, err)
		return false, nil
	default:
		return false, err
	}
}

// getEach reads subscribers one GET at a time, a bounded number in
// parallel. A subscriber that is missing or may not be read is left out.
func (r *reader) getEach(ctx context.Context, gvk schema.GroupVersionKind, refs []objects.Ref, ids *idSet) error {
	gvr, _ := meta.UnsafeGuessKindToResource(gvk)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxGets)
	for _, ref := range refs {
		g.Go(func() error {
			var obj *metav1.PartialObjectMetadata
			err := r.request(ctx, func() (err error) {
				obj, err = r.c.Metadata.Resource(gvr).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
				return err
			})
			switch {
			case err == nil:
				if id := obj.Labels[BackstageIDLabel]; id != "" {
					ids.add(ref, id)
				}
				return nil
			case optional(err):
				r.skip("subscriber %s %s/%s: %v", ref.Kind, ref.Namespace, ref.Name, err)
				return nil
			default:
				return wrap(what("get", resourceName(gvr), ref.Namespace), err)
			}
		})
	}
	return g.Wait()
}
