package fetch

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/knative-eventmesh/function/objects"
)

// The discovery categories Knative puts the CRDs of sources and channels
// in. Their objects are listed as soon as API discovery answers, while the
// CRDs, which say which kinds belong in the mesh, are still being listed.
const (
	SourceCategory  = "sources"
	ChannelCategory = "channel"
)

// tentative is a list started on a guess, before it is known to be
// needed: its items and the Warnings met while listing them are held until
// it is taken, or it is dropped.
type tentative[T any] struct {
	done     chan struct{}
	cancel   context.CancelFunc
	warnings warningList
	items    []T
	err      error
}

// startTentative starts list, which tells warn what it leaves out.
func startTentative[T any](ctx context.Context, list func(ctx context.Context, warn warnFunc) ([]T, error)) *tentative[T] {
	ctx, cancel := context.WithCancel(ctx)
	t := &tentative[T]{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(t.done)
		t.items, t.err = list(ctx, t.warnings.add)
	}()
	return t
}

// take waits for the list to end, passes its Warnings on to warn, and
// returns its items.
func (t *tentative[T]) take(ctx context.Context, warn warnFunc) ([]T, error) {
	select {
	case <-t.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for _, w := range t.warnings.list {
		warn("%s", w)
	}
	return t.items, t.err
}

// drop cancels the list, unless it has ended, and waits for it to end.
// After take, it only waits.
func (t *tentative[T]) drop() {
	t.cancel()
	<-t.done
}

// warningList keeps the Warnings of a tentative list.
type warningList struct {
	mu   sync.Mutex
	list []string
}

func (w *warningList) add(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, fmt.Sprintf(format, args...))
}

// earlyLists are the lists of the kinds of one discovery category, started
// before the CRDs are known. A list is taken when the kind's CRD carries
// the mesh's label; the others are dropped.
type earlyLists struct {
	started chan struct{} // closed once lists is filled
	lists   map[schema.GroupResource]*earlyList
}

// earlyList is the list of one kind's objects, started early.
type earlyList struct {
	kind *objects.Kind // as discovery tells it, without the CRD's annotations
	*tentative[objects.Object]
}

// listEarly lists, as soon as discovery answers, the objects of every kind
// discovery puts in category. It lists nothing when the API server does not
// aggregate discovery, or discovery fails: then each kind is listed once
// its CRD is known. Nor does it for a mesh of some namespaces: their
// tokens often may not list CRDs, and then every list would be dropped.
func (r *reader) listEarly(ctx context.Context, category string, withSink bool, discovered apisFunc) *earlyLists {
	e := &earlyLists{started: make(chan struct{}), lists: map[schema.GroupResource]*earlyList{}}
	if len(r.opts.Namespaces) > 0 {
		close(e.started)
		return e
	}
	go func() {
		defer close(e.started)
		served, err := discovered(ctx)
		if err != nil || served.resources == nil {
			return
		}
		for _, k := range served.inCategory(category) {
			e.lists[schema.GroupResource{Group: k.Group, Resource: k.Resource}] = &earlyList{kind: k,
				tentative: startTentative(ctx, func(ctx context.Context, warn warnFunc) ([]objects.Object, error) {
					return r.listObjects(ctx, k, withSink, warn)
				}),
			}
		}
	}()
	return e
}

// take returns the objects of k listed early, passing on to warn the
// Warnings met while listing them; ok is false when k was not listed
// early, at its version.
func (e *earlyLists) take(ctx context.Context, k *objects.Kind, warn warnFunc) (objs []objects.Object, ok bool, err error) {
	select {
	case <-e.started:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	l := e.lists[schema.GroupResource{Group: k.Group, Resource: k.Resource}]
	if l == nil || l.kind.Version != k.Version {
		return nil, false, nil
	}
	objs, err = l.take(ctx, warn)
	for i := range objs {
		objs[i].Kind = k
	}
	return objs, true, err
}

// stop drops the lists not taken and waits for every list to end.
func (e *earlyLists) stop() {
	<-e.started
	for _, l := range e.lists {
		l.drop()
	}
}

// inCategory returns the kinds discovery puts in category, each at the
// version the CRD's kind would be read at (findKinds).
func (a *apis) inCategory(category string) []*objects.Kind {
	var found []*objects.Kind
	for _, name := range slices.Sorted(maps.Keys(a.groups)) {
		g := a.groups[name]
		var kinds []*objects.Kind
		for _, v := range g.Versions {
			list := a.resources[schema.GroupVersion{Group: name, Version: v.Version}]
			if list == nil {
				continue
			}
			for _, res := range list.APIResources {
				if strings.Contains(res.Name, "/") || !slices.Contains(res.Categories, category) ||
					slices.ContainsFunc(kinds, func(k *objects.Kind) bool { return k.Resource == res.Name }) {
					continue
				}
				kinds = append(kinds, &objects.Kind{Group: name, Resource: res.Name})
			}
		}
		findKinds(g, a.resources, kinds)
		found = append(found, kinds...)
	}
	return found
}
