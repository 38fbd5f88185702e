package relate

import (
	"fmt"
	"maps"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/objects"
)

// BackstageIDLabel ties a Kubernetes object to a Backstage entity.
const BackstageIDLabel = "backstage.io/kubernetes-id"

// known is what the builder remembers of an object of the mesh, for the
// EventPolicies: its labels and the policies its status names.
type known struct {
	labels   map[string]string
	policies []string
}

// remember records an object of the mesh under ref.
func (b *builder) remember(ref mesh.Reference, o *objects.Meta, policies []string) {
	if b.known == nil {
		b.known = map[mesh.Reference]known{}
	}
	b.known[ref] = known{labels: o.Labels, policies: policies}
}

// addressable is an entity events are sent to, and who may send to it.
type addressable struct {
	ref    mesh.Reference
	access *mesh.Access
}

// addressables returns the entities EventPolicies apply to, by namespace:
// Brokers, channels, sinks, EventTransforms, RequestReplies and flows.
func (b *builder) addressables() map[string][]addressable {
	byNS := map[string][]addressable{}
	m := &b.mesh
	collect(byNS, m.Brokers, func(e *mesh.Broker) (string, string, *mesh.Meta, *mesh.Access) {
		return brokerKind.Group, brokerKind.Kind, &e.Meta, &e.Access
	})
	collect(byNS, m.Subscribables, func(e *mesh.Subscribable) (string, string, *mesh.Meta, *mesh.Access) {
		return e.Group, e.Kind, &e.Meta, &e.Access
	})
	collect(byNS, m.Sinks, func(e *mesh.Sink) (string, string, *mesh.Meta, *mesh.Access) {
		return e.Group, e.Kind, &e.Meta, &e.Access
	})
	collect(byNS, m.EventTransforms, func(e *mesh.Transform) (string, string, *mesh.Meta, *mesh.Access) {
		return e.Group, e.Kind, &e.Meta, &e.Access
	})
	collect(byNS, m.RequestReplies, func(e *mesh.RequestReply) (string, string, *mesh.Meta, *mesh.Access) {
		return e.Group, e.Kind, &e.Meta, &e.Access
	})
	collect(byNS, m.Flows, func(e *mesh.Flow) (string, string, *mesh.Meta, *mesh.Access) {
		return e.Group, e.Kind, &e.Meta, &e.Access
	})
	return byNS
}

// collect adds the entities of list to byNS; describe gives each one's
// group, kind, metadata and access.
func collect[E any](byNS map[string][]addressable, list []E, describe func(*E) (string, string, *mesh.Meta, *mesh.Access)) {
	for i := range list {
		group, kind, m, access := describe(&list[i])
		ref := mesh.Reference{Group: group, Kind: kind, Namespace: m.Namespace, Name: m.Name}
		byNS[m.Namespace] = append(byNS[m.Namespace], addressable{ref: ref, access: access})
	}
}

// addPolicies adds the EventPolicies and the default authorization mode,
// and shows on each addressable the policies that apply to it and the
// senders they allow. A policy applies to an object when its spec.to
// selects it (or, with no spec.to, to every object of its namespace), or
// when the object's status names it. A policy that cannot be read (a
// label selector that does not parse) is left out, and said so.
func (b *builder) addPolicies(objs *objects.Set) {
	b.mesh.DefaultAuthorizationMode = objs.DefaultAuthorizationMode
	byNS := b.addressables()
	b.mesh.EventPolicies = make([]mesh.EventPolicy, 0, len(objs.EventPolicies))
	applied := map[mesh.Reference]map[string]bool{} // policies applied to each object
	seen := map[string]bool{}
	for i := range objs.EventPolicies {
		p := &objs.EventPolicies[i]
		key := namespacedName(p.Namespace, p.Name)
		if seen[key] {
			continue
		}
		seen[key] = true
		targets, err := policyTargets(p)
		if err != nil {
			b.skip("EventPolicy %s left out: %v", key, err)
			continue
		}
		entity := b.policyEntity(p)
		for _, a := range byNS[p.Namespace] {
			if !appliesTo(targets, a.ref, b.known[a.ref].labels) {
				continue
			}
			entity.AppliesTo = append(entity.AppliesTo, a.ref)
			if applied[a.ref] == nil {
				applied[a.ref] = map[string]bool{}
			}
			applied[a.ref][key] = true
		}
		b.mesh.EventPolicies = append(b.mesh.EventPolicies, entity)
	}
	entities := map[string]*mesh.EventPolicy{}
	for i := range b.mesh.EventPolicies {
		e := &b.mesh.EventPolicies[i]
		entities[namespacedName(e.Namespace, e.Name)] = e
	}
	for ns, list := range byNS {
		for _, a := range list {
			names := applied[a.ref]
			for _, name := range b.known[a.ref].policies {
				if names == nil {
					names = map[string]bool{}
				}
				names[namespacedName(ns, name)] = true
			}
			for _, key := range slices.Sorted(maps.Keys(names)) {
				a.access.EventPolicies = append(a.access.EventPolicies, key)
				if e := entities[key]; e != nil {
					a.access.AllowedSenders = append(a.access.AllowedSenders, e.AllowedSenders...)
					a.access.AllowedSubjects = append(a.access.AllowedSubjects, e.AllowedSubjects...)
				}
			}
		}
	}
}

// policyEntity returns the entity of a policy, without what it applies to.
func (b *builder) policyEntity(p *objects.EventPolicy) mesh.EventPolicy {
	e := mesh.EventPolicy{Meta: meta(&p.Meta), Filtered: p.Filtered, AllowedSubjects: slices.Clone(p.Subjects)}
	for _, to := range p.To {
		switch {
		case to.Ref != nil:
			gv, _ := schema.ParseGroupVersion(to.Ref.APIVersion) // checked by policyTargets
			e.To = append(e.To, mesh.PolicyTarget{Ref: &mesh.Reference{Group: gv.Group, Kind: to.Ref.Kind, Namespace: p.Namespace, Name: to.Ref.Name}})
		case to.Selector != nil:
			gv, _ := schema.ParseGroupVersion(to.Selector.APIVersion)
			s := &mesh.PolicySelector{Group: gv.Group, Kind: to.Selector.Kind, MatchLabels: to.Selector.MatchLabels}
			for _, r := range to.Selector.MatchExpressions {
				s.MatchExpressions = append(s.MatchExpressions, mesh.LabelRequirement{Key: r.Key, Operator: r.Operator, Values: r.Values})
			}
			e.To = append(e.To, mesh.PolicyTarget{Selector: s})
		}
	}
	for _, from := range p.From {
		if from.Ref == nil {
			if from.Subject != "" {
				e.AllowedSubjects = append(e.AllowedSubjects, from.Subject)
			}
			continue
		}
		ns := from.Ref.Namespace
		if ns == "" {
			ns = p.Namespace
		}
		ref, ok := reference(from.Ref.APIVersion, from.Ref.Kind, ns, from.Ref.Name)
		if !ok {
			b.skip("a sender of EventPolicy %s/%s left out: its reference (apiVersion %q, kind %q, name %q) names no object", p.Namespace, p.Name, from.Ref.APIVersion, from.Ref.Kind, from.Ref.Name)
			continue
		}
		e.AllowedSenders = append(e.AllowedSenders, mesh.Sender{Reference: ref, BackstageID: b.known[ref].labels[BackstageIDLabel]})
	}
	return e
}

// policyTarget is an entry of spec.to, ready to match objects.
type policyTarget struct {
	group, kind, name string
	// byGroup tells whether group counts: an empty API version names none.
	byGroup  bool
	selector labels.Selector // nil for a reference
}

// policyTargets parses a policy's spec.to. An empty list matches every
// object of the namespace.
func policyTargets(p *objects.EventPolicy) ([]policyTarget, error) {
	var out []policyTarget
	for _, to := range p.To {
		switch {
		case to.Ref != nil:
			gv, err := schema.ParseGroupVersion(to.Ref.APIVersion)
			if err != nil {
				return nil, fmt.Errorf("spec.to: %w", err)
			}
			out = append(out, policyTarget{group: gv.Group, byGroup: to.Ref.APIVersion != "", kind: to.Ref.Kind, name: to.Ref.Name})
		case to.Selector != nil:
			s := to.Selector
			gv, err := schema.ParseGroupVersion(s.APIVersion)
			if err != nil {
				return nil, fmt.Errorf("spec.to selector: %w", err)
			}
			ls := &metav1.LabelSelector{MatchLabels: s.MatchLabels}
			for _, r := range s.MatchExpressions {
				ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{
					Key: r.Key, Operator: metav1.LabelSelectorOperator(r.Operator), Values: r.Values})
			}
			sel, err := metav1.LabelSelectorAsSelector(ls)
			if err != nil {
				return nil, fmt.Errorf("spec.to selector: %w", err)
			}
			out = append(out, policyTarget{group: gv.Group, byGroup: s.APIVersion != "", kind: s.Kind, selector: sel})
		}
	}
	return out, nil
}

// appliesTo reports whether targets select the object ref with labels.
func appliesTo(targets []policyTarget, ref mesh.Reference, objLabels map[string]string) bool {
	if len(targets) == 0 {
		return true
	}
	for _, t := range targets {
		if (t.byGroup && t.group != ref.Group) || (t.kind != "" && t.kind != ref.Kind) {
			continue
		}
		if t.selector == nil && t.name == ref.Name || t.selector != nil && t.selector.Matches(labels.Set(objLabels)) {
			return true
		}
	}
	return false
}
