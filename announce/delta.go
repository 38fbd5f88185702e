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
	for _, index := range []func() error{
		func() error {
			return indexAll(idx, m.EventTypes, func(e *mesh.EventType) (string, string, *mesh.Meta) { return eventingGroup, eventTypeKind, &e.Meta })
		},
		func() error {
			return indexAll(idx, m.Brokers, func(e *mesh.Broker) (string, string, *mesh.Meta) { return eventingGroup, brokerKind, &e.Meta })
		},
		func() error {
			return indexAll(idx, m.Subscribables, func(e *mesh.Subscribable) (string, string, *mesh.Meta) { return e.Group, e.Kind, &e.Meta })
		},
		func() error {
			return indexAll(idx, m.Sources, func(e *mesh.Source) (string, string, *mesh.Meta) { return e.Group, e.Kind, &e.Meta })
		},
		// The entities added beside the four lists the published provider reads.
		func() error {
			return indexAll(idx, m.Sinks, func(e *mesh.Sink) (string, string, *mesh.Meta) { return e.Group, e.Kind, &e.Meta })
		},
		func() error {
			return indexAll(idx, m.EventTransforms, func(e *mesh.Transform) (string, string, *mesh.Meta) { return e.Group, e.Kind, &e.Meta })
		},
		func() error {
			return indexAll(idx, m.RequestReplies, func(e *mesh.RequestReply) (string, string, *mesh.Meta) { return e.Group, e.Kind, &e.Meta })
		},
		func() error {
			return indexAll(idx, m.Flows, func(e *mesh.Flow) (string, string, *mesh.Meta) { return e.Group, e.Kind, &e.Meta })
		},
		func() error {
			return indexAll(idx, m.EventPolicies, func(e *mesh.EventPolicy) (string, string, *mesh.Meta) { return eventingGroup, eventPolicyKind, &e.Meta })
		},
	} {
		if err := index(); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// indexAll adds each entity of list to idx, under the group, kind and
// metadata that describe gives.
func indexAll[E any](idx Index, list []E, describe func(*E) (group, kind string, meta *mesh.Meta)) error {
	for i := range list {
		group, kind, meta := describe(&list[i])
		b, err := json.Marshal(&list[i])
		if err != nil {
			return fmt.Errorf("encoding %s %s/%s: %w", kind, meta.Namespace, meta.Name, err)
		}
		sum := sha256.Sum256(b)
		idx[strings.Join([]string{group, kind, meta.Namespace, meta.Name}, "/")] = hex.EncodeToString(sum[:12])
	}
	return nil
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
	// Padded, so that the fields a short key lacks read as empty.
	parts := append(strings.SplitN(k, "/", 4), "", "", "")
	return mesh.Key{Kind: parts[1], Namespace: parts[2], Name: parts[3]}
}

func compareKeys(a, b mesh.Key) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Kind, b.Kind))
}
