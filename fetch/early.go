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

// earlyLists are the lists of the kinds of one discovery category, started
// before the CRDs are known. A list is taken when the kind's CRD carries
// the mesh's label; the others are canceled and their objects dropped.
type earlyLists struct {
	started chan struct{} // closed once lists is filled
	lists   map[schema.GroupResource]*earlyList
	wg      sync.WaitGroup
}

// earlyList is the list of one kind's objects, started early.
type earlyList struct {
	kind   *objects.Kind // as discovery tells it, without the CRD's annotations
	done   chan struct{}
	cancel context.CancelFunc

	warnings warningList

	objs []objects.Object
	err  error
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
			ctx, cancel := context.WithCancel(ctx)
			l := &earlyList{kind: k, done: make(chan struct{}), cancel: cancel}
			e.lists[schema.GroupResource{Group: k.Group, Resource: k.Resource}] = l
			e.wg.Go(func() {
				defer close(l.done)
				l.objs, l.err = r.listObjects(ctx, k, withSink, l.warnings.add)
			})
		}
	}()
	return e
}

// warningList keeps the Warnings of a list started early, until it is
// known whether the list is used.
type warningList struct {
	mu   sync.Mutex
	list []string
}

func (w *warningList) add(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, fmt.Sprintf(format, args...))
}

// take returns the objects of k listed early, and the warnings met while
// listing them; ok is false when k was not listed early, at its version.
func (e *earlyLists) take(ctx context.Context, k *objects.Kind) (objs []objects.Object, warnings []string, ok bool, err error) {
	select {
	case <-e.started:
	case <-ctx.Done():
		return nil, nil, false, ctx.Err()
	}
	l := e.lists[schema.GroupResource{Group: k.Group, Resource: k.Resource}]
	if l == nil || l.kind.Version != k.Version {
		return nil, nil, false, nil
	}
	select {
	case <-l.done:
	case <-ctx.Done():
		return nil, nil, false, ctx.Err()
	}
	for i := range l.objs {
		l.objs[i].Kind = k
	}
	return l.objs, l.warnings.list, true, l.err
}

// stop cancels the lists not taken and waits for every list to end.
func (e *earlyLists) stop() {
	<-e.started
	for _, l := range e.lists {
		l.cancel()
	}
	e.wg.Wait()
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
