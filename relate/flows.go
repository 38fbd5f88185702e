package relate

import (
	"strings"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/objects"
)

// MaxFlowDepth bounds how many flows deep the walk from a subscriber goes:
// a Sequence whose step is a Parallel whose branch is a Sequence is three
// deep.
const MaxFlowDepth = 8

const flowsGroup = "flows.knative.dev"

// flowWalk follows subscribers through the flows they name, to the
// objects behind them. It remembers what each flow leads to.
type flowWalk struct {
	// flows by reference, each with its index in mesh.Flows.
	flows map[objects.Ref]*walkedFlow
	// warned keeps each Warning once.
	warned map[string]bool
}

// walkedFlow is a flow and, once walked, the Backstage ids it leads to.
type walkedFlow struct {
	flow  *objects.Flow
	index int
	state int // 0: not walked; 1: being walked; 2: walked
	ids   []string
}

// addFlows adds the Sequences and Parallels as entities, and indexes them
// for the walk.
func (b *builder) addFlows(list []objects.Flow) {
	b.mesh.Flows = make([]mesh.Flow, 0, len(list))
	b.walk = flowWalk{flows: map[objects.Ref]*walkedFlow{}, warned: map[string]bool{}}
	for i := range list {
		f := &list[i]
		key := objects.Ref{Group: flowsGroup, Kind: f.Kind, Namespace: f.Namespace, Name: f.Name}
		if _, dup := b.walk.flows[key]; dup {
			continue
		}
		b.remember(mesh.Reference{Group: flowsGroup, Kind: f.Kind, Namespace: f.Namespace, Name: f.Name}, &f.Meta, f.Policies)
		entity := mesh.Flow{Meta: meta(&f.Meta), Group: flowsGroup, Kind: f.Kind}
		entity.Access = access(&f.Addressable)
		for _, s := range f.Steps {
			if ref, ok := objectRef(s, f.Namespace); ok {
				entity.Calls = append(entity.Calls, ref)
			}
		}
		for _, r := range f.Replies {
			if ref, ok := objectRef(r, f.Namespace); ok {
				entity.Replies = append(entity.Replies, ref)
			}
		}
		b.walk.flows[key] = &walkedFlow{flow: f, index: len(b.mesh.Flows)}
		b.mesh.Flows = append(b.mesh.Flows, entity)
	}
}

// walkFlows fills in what each flow leads to.
func (b *builder) walkFlows(objs *objects.Set) {
	for _, f := range b.mesh.Flows {
		key := objects.Ref{Group: f.Group, Kind: f.Kind, Namespace: f.Namespace, Name: f.Name}
		w := b.walk.flows[key]
		b.mesh.Flows[w.index].ConsumedBy = b.flowIDs(objs, w, nil)
	}
}

// consumersOf returns the Backstage ids of a subscriber: its own, if it
// has one, and when it is a flow, those of the objects the flow leads to.
func (b *builder) consumersOf(objs *objects.Set, ref objects.Ref) []string {
	var ids []string
	if id := objs.Subscribers[ref]; id != "" {
		ids = append(ids, id)
	}
	if w := b.walk.flows[ref]; w != nil {
		ids = append(ids, b.flowIDs(objs, w, nil)...)
	}
	return ids
}

// flowIDs returns the Backstage ids a flow leads to, walking the flows it
// calls depth first. path holds the flows being walked, outermost first.
// A flow met again on the path is a cycle, and a path longer than
// MaxFlowDepth too deep: either ends the walk there, with a Warning.
func (b *builder) flowIDs(objs *objects.Set, w *walkedFlow, path []*walkedFlow) []string {
	switch {
	case w.state == 2:
		return w.ids
	case w.state == 1:
		b.warnOnce("flows call each other in a cycle (%s): the walk through them ends there", cycle(path, w))
		return nil
	case len(path) >= MaxFlowDepth:
		b.warnOnce("flows nested more than %d deep (%s): the walk through them ends there", MaxFlowDepth, cycle(path, w))
		return nil
	}
	w.state = 1
	path = append(path, w)
	var ids []string
	for _, s := range w.flow.Steps {
		ref, ok := objects.SubscriberRef(s, w.flow.Namespace)
		if !ok {
			continue
		}
		if id := objs.Subscribers[ref]; id != "" {
			ids = append(ids, id)
		}
		if next := b.walk.flows[ref]; next != nil {
			ids = append(ids, b.flowIDs(objs, next, path)...)
		}
	}
	w.state, w.ids = 2, ids
	return ids
}

// cycle names the flows of path, then w.
func cycle(path []*walkedFlow, w *walkedFlow) string {
	var names []string
	for _, p := range append(path, w) {
		names = append(names, p.flow.Kind+" "+namespacedName(p.flow.Namespace, p.flow.Name))
	}
	return strings.Join(names, " → ")
}

func (b *builder) warnOnce(format string, args ...any) {
	before := len(b.skipped)
	b.skip(format, args...)
	w := b.skipped[before]
	if b.walk.warned[w] {
		b.skipped = b.skipped[:before]
		return
	}
	b.walk.warned[w] = true
}

// objectRef returns the mesh Reference of an object reference written in
// namespace ns, or false when it names no object.
func objectRef(r *objects.Reference, ns string) (mesh.Reference, bool) {
	ref, ok := objects.SubscriberRef(r, ns)
	if !ok {
		return mesh.Reference{}, false
	}
	return mesh.Reference{Group: ref.Group, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name}, true
}
