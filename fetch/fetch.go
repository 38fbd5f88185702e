package fetch

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/pager"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	messagingv1 "knative.dev/eventing/pkg/apis/messaging/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/knative-eventmesh/function/kubeclient"
	"github.com/knative-eventmesh/function/objects"
)

// MaxInFlight bounds the API requests one build has in flight. A build of
// the whole cluster makes about 15; a mesh of many namespaces makes about
// that many per namespace, and would otherwise fire them all at once.
const MaxInFlight = 32

// DefaultPageSize is the number of objects asked for in one LIST request.
// Large pages keep the number of round trips low; the limit keeps any one
// response of a huge cluster to a few megabytes.
const DefaultPageSize = 2000

// Options say what to read.
type Options struct {
	// Namespaces limits the mesh to these namespaces, read with namespaced
	// requests. Empty means the whole cluster.
	Namespaces []string
	// PageSize is the limit of each LIST request; 0 means DefaultPageSize.
	PageSize int64
}

var brokersGVR = eventingv1.SchemeGroupVersion.WithResource("brokers")

// All reads everything the mesh needs, with the caller's clients.
//
// It fails when a resource the mesh needs (Brokers, EventTypes, Triggers,
// Subscriptions) cannot be listed. Channels and sources are discovered
// through their CRDs; what the token may not read of them is left out and
// named in Set.Warnings. Its errors are *objects.Error.
func All(ctx context.Context, c *kubeclient.Clients, opts Options) (*objects.Set, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	r := &reader{c: c, opts: opts, objs: &objects.Set{}, inFlight: make(chan struct{}, MaxInFlight)}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return r.brokers(ctx) })
	g.Go(func() error { return r.eventTypes(ctx) })
	g.Go(func() error { return r.crdKinds(ctx) })
	g.Go(func() error { return r.consumers(ctx) })
	g.Go(func() error { return r.targets(ctx) })
	g.Go(func() error { return r.eventPolicies(ctx) })
	g.Go(func() error { return r.authorizationMode(ctx) })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return r.objs, nil
}

// reader holds the state of one All call. Each list fills its own field of
// objs; mu guards the fields several goroutines write to.
type reader struct {
	c    *kubeclient.Clients
	opts Options
	mu   sync.Mutex
	objs *objects.Set
	// lists are the subscriber lists started by prefetch, by kind.
	lists      map[schema.GroupVersionKind]*kindList
	prefetches sync.WaitGroup
	// inFlight holds a token for each API request under way.
	inFlight chan struct{}
}

// request runs one API request when fewer than MaxInFlight are under way.
func (r *reader) request(ctx context.Context, do func() error) error {
	select {
	case r.inFlight <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.inFlight }()
	return do()
}

// namespaces returns the namespaces to list in: "" (all) when unscoped.
func (r *reader) namespaces() []string {
	if len(r.opts.Namespaces) == 0 {
		return []string{metav1.NamespaceAll}
	}
	return r.opts.Namespaces
}

// warnFunc is told what part of the mesh was left out, and why.
type warnFunc func(format string, args ...any)

// warn records a part of the mesh left out.
func (r *reader) warn(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.objs.Warnings = append(r.objs.Warnings, fmt.Sprintf(format, args...))
}

// skip records an object left out.
func (r *reader) skip(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.objs.Skipped = append(r.objs.Skipped, fmt.Sprintf(format, args...))
}

// inEachNamespace runs list once per namespace of the scope, in parallel,
// and returns the results in scope order.
func inEachNamespace[T any](ctx context.Context, r *reader, list func(ctx context.Context, ns string) ([]T, error)) ([]T, error) {
	nss := r.namespaces()
	parts := make([][]T, len(nss))
	g, ctx := errgroup.WithContext(ctx)
	for i, ns := range nss {
		g.Go(func() error {
			items, err := list(ctx, ns)
			parts[i] = items
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var all []T
	for _, p := range parts {
		all = append(all, p...)
	}
	return all, nil
}

func (r *reader) brokers(ctx context.Context) error {
	items, err := inEachNamespace(ctx, r, func(ctx context.Context, ns string) ([]objects.Broker, error) {
		path := collectionPath(brokersGVR.Group, brokersGVR.Version, brokersGVR.Resource, ns)
		return listRaw(ctx, r, what("list", resourceName(brokersGVR), ns), "Broker", path, func(b *addressableItem[noSpec]) objects.Broker {
			return objects.Broker{Meta: b.Metadata.meta(), Addressable: b.Status.addressable()}
		}, r.warn)
	})
	r.objs.Brokers = items
	return err
}

// The kind most Triggers deliver to: a Knative Service. Its list starts
// with the Triggers' own, not after them, and is used only if a Trigger or
// Subscription names one.
const (
	likelySubscriberAPIVersion = "serving.knative.dev/v1"
	likelySubscriberKind       = "Service"
)

// consumers lists Triggers, Subscriptions and flows, then resolves their
// subscribers. The list of each kind of subscriber starts as soon as a page
// names that kind, while the rest of the Triggers are still coming; that
// of Knative Services starts at once.
func (r *reader) consumers(ctx context.Context) error {
	defer r.waitForPrefetches()
	// Prefetches run under ctx: the contexts of the errgroups below end
	// when the lists end.
	see := func(ref *duckv1.KReference) { r.prefetch(ctx, ref) }
	see(&duckv1.KReference{APIVersion: likelySubscriberAPIVersion, Kind: likelySubscriberKind})
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		items, err := inEachNamespace(gctx, r, func(ctx context.Context, ns string) ([]objects.Trigger, error) {
			return r.triggers(ctx, ns, see)
		})
		r.objs.Triggers = items
		return err
	})
	g.Go(func() error {
		items, err := inEachNamespace(gctx, r, func(ctx context.Context, ns string) ([]objects.Subscription, error) {
			return r.subscriptions(ctx, ns, see)
		})
		r.objs.Subscriptions = items
		return err
	})
	g.Go(func() error { return r.flows(gctx, see) })
	if err := g.Wait(); err != nil {
		return err
	}
	return r.subscribers(ctx)
}

// consumer is a Trigger or a Subscription as the mesh reads it: its name
// and its spec.
type consumer[S any] struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec S `json:"spec"`
}

func (c *consumer[S]) objectID() (string, string) { return c.Metadata.Name, c.Metadata.Namespace }

func (r *reader) triggers(ctx context.Context, ns string, see func(*duckv1.KReference)) ([]objects.Trigger, error) {
	path := collectionPath("eventing.knative.dev", "v1", "triggers", ns)
	return listRaw(ctx, r, what("list", "triggers.eventing.knative.dev", ns), "Trigger", path, func(t *consumer[eventingv1.TriggerSpec]) objects.Trigger {
		see(t.Spec.Subscriber.Ref)
		return triggerOf(t.Metadata.Name, t.Metadata.Namespace, &t.Spec)
	}, r.warn)
}

func (r *reader) subscriptions(ctx context.Context, ns string, see func(*duckv1.KReference)) ([]objects.Subscription, error) {
	path := collectionPath("messaging.knative.dev", "v1", "subscriptions", ns)
	return listRaw(ctx, r, what("list", "subscriptions.messaging.knative.dev", ns), "Subscription", path, func(s *consumer[messagingv1.SubscriptionSpec]) objects.Subscription {
		see(s.Spec.Subscriber.Ref)
		return subscriptionOf(s.Metadata.Name, s.Metadata.Namespace, &s.Spec)
	}, r.warn)
}

// listMetadata lists the metadata of resource gvr in namespace ns, and
// passes each object to keep as its page is read: a caller keeps what it
// needs of it, and the rest (managed fields, most of all) goes with the
// page. restart is called when the list starts again from the beginning
// (its continue token expired): the caller drops what it kept.
func (r *reader) listMetadata(ctx context.Context, gvr schema.GroupVersionResource, ns, selector string, keep func(*metav1.PartialObjectMetadata), restart func()) error {
	return r.each(ctx, what("list", resourceName(gvr), ns), func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		o.LabelSelector = selector
		return r.c.Metadata.Resource(gvr).Namespace(ns).List(ctx, o)
	}, func(o runtime.Object) error {
		m, ok := o.(*metav1.PartialObjectMetadata)
		if !ok {
			return fmt.Errorf("unexpected list item %T", o)
		}
		keep(m)
		return nil
	}, restart)
}

// each pages through a list, calling fn for every item; the next page is
// fetched while fn works through the current one. An error says what was
// being done (doing, e.g. "list triggers.eventing.knative.dev").
//
// A continue token that expired (the list took longer than the API server
// keeps it) restarts the list as one whole request, as client-go's
// pager.List does (its EachListItem does not): restart is called first.
func (r *reader) each(ctx context.Context, doing string, page pager.ListPageFunc, fn func(runtime.Object) error, restart func()) error {
	var continued atomic.Bool
	request := func(ctx context.Context, o metav1.ListOptions) (obj runtime.Object, err error) {
		if o.Continue != "" {
			continued.Store(true)
		}
		err = r.request(ctx, func() error {
			obj, err = page(ctx, o)
			return err
		})
		return obj, err
	}
	p := pager.New(request)
	p.PageSize = r.opts.PageSize
	p.PageBufferSize = 2
	err := p.EachListItem(ctx, metav1.ListOptions{}, fn)
	if apierrors.IsResourceExpired(err) && continued.Load() {
		restart()
		var whole runtime.Object
		if whole, err = request(ctx, metav1.ListOptions{}); err == nil {
			err = meta.EachListItem(whole, fn)
		}
	}
	if err != nil {
		return wrap(doing, err)
	}
	return nil
}

// what says what a request does, for errors.
func what(verb, resource, ns string) string {
	if ns == "" {
		return verb + " " + resource + " at the cluster scope"
	}
	return verb + " " + resource + " in namespace " + ns
}

// resourceName returns "resource.group", or "resource" for the core group.
func resourceName(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Resource
	}
	return gvr.Resource + "." + gvr.Group
}

// optional reports whether err only means that a part of the mesh is not
// there or may not be read, so that it can be left out.
func optional(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err)
}

// all runs fns in parallel and returns the first error.
func all(ctx context.Context, fns ...func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, fn := range fns {
		g.Go(func() error { return fn(ctx) })
	}
	return g.Wait()
}
