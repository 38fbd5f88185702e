package announce

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/knative-eventmesh/function/mesh"
)

// Index maps every entity of a mesh, by "group/kind/namespace/name", to a
// hash of its JSON. Two meshes' indexes give their delta; an index is what
// the state keeps of the last announced mesh.
type Index map[string]string

// Kinds of the entities of a mesh that have no Kubernetes kind of their own
// in the JSON.
const (
	eventTypeKind = "EventType"
	brokerKind    = "Broker"
	// EventPolicy entities carry no kind in the JSON either.
	eventPolicyKind = "EventPolicy"
	eventingGroup   = "eventing.knative.dev"
)

// IndexOf returns the index of m.
func IndexOf(m *mesh.Mesh) (Index, error) {
	idx := Index{}
	add := func(group, kind string, meta *mesh.Meta, entity any) error {
		b, err := json.Marshal(entity)
		if err != nil {
			return fmt.Errorf("encoding %s %s/%s: %w", kind, meta.Namespace, meta.Name, err)
		}
		sum := sha256.Sum256(b)
		idx[strings.Join([]string{group, kind, meta.Namespace, meta.Name}, "/")] = hex.EncodeToString(sum[:12])
		return nil
	}
	for i := range m.EventTypes {
		if err := add(eventingGroup, eventTypeKind, &m.EventTypes[i].Meta, &m.EventTypes[i]); err != nil {
			return nil, err
		}
	}
	for i := range m.Brokers {
		if err := add(eventingGroup, brokerKind, &m.Brokers[i].Meta, &m.Brokers[i]); err != nil {
			return nil, err
		}
	}
	for i := range m.Subscribables {
		s := &m.Subscribables[i]
		if err := add(s.Group, s.Kind, &s.Meta, s); err != nil {
			return nil, err
		}
	}
	for i := range m.Sources {
		s := &m.Sources[i]
		if err := add(s.Group, s.Kind, &s.Meta, s); err != nil {
			return nil, err
		}
	}
	// The entities added beside the four lists the published provider reads.
	for i := range m.Sinks {
		s := &m.Sinks[i]
		if err := add(s.Group, s.Kind, &s.Meta, s); err != nil {
			return nil, err
		}
	}
	for i := range m.EventTransforms {
		s := &m.EventTransforms[i]
		if err := add(s.Group, s.Kind, &s.Meta, s); err != nil {
			return nil, err
		}
	}
	for i := range m.RequestReplies {
		s := &m.RequestReplies[i]
		if err := add(s.Group, s.Kind, &s.Meta, s); err != nil {
			return nil, err
		}
	}
	for i := range m.Flows {
		s := &m.Flows[i]
		if err := add(s.Group, s.Kind, &s.Meta, s); err != nil {
			return nil, err
		}
	}
	for i := range m.EventPolicies {
		if err := add(eventingGroup, eventPolicyKind, &m.EventPolicies[i].Meta, &m.EventPolicies[i]); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// Delta is what changed between two meshes, entity by entity.
type Delta struct {
	Added   []mesh.Key `json:"added"`
	Removed []mesh.Key `json:"removed"`
	Updated []mesh.Key `json:"updated"`
}

// Diff returns the delta from old to new, each list sorted.
func Diff(old, new Index) Delta {
	d := Delta{Added: []mesh.Key{}, Removed: []mesh.Key{}, Updated: []mesh.Key{}}
	for k, h := range new {
		switch oldHash, ok := old[k]; {
		case !ok:
			d.Added = append(d.Added, keyOf(k))
		case oldHash != h:
			d.Updated = append(d.Updated, keyOf(k))
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			d.Removed = append(d.Removed, keyOf(k))
		}
	}
	for _, list := range [][]mesh.Key{d.Added, d.Removed, d.Updated} {
		slices.SortFunc(list, compareKeys)
	}
	return d
}

// Empty reports whether nothing changed.
func (d Delta) Empty() bool { return len(d.Added)+len(d.Removed)+len(d.Updated) == 0 }

// keyOf returns the Key of an index key "group/kind/namespace/name".
func keyOf(k string) mesh.Key {
	parts := strings.SplitN(k, "/", 4)
	for len(parts) < 4 {
		parts = append(parts, "")
	}
	return mesh.Key{Kind: parts[1], Namespace: parts[2], Name: parts[3]}
}

func compareKeys(a, b mesh.Key) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Kind, b.Kind))
}
