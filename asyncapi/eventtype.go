package asyncapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/knative-eventmesh/function/mesh"
)

// ForEventType returns the AsyncAPI document of one EventType of m, the
// definition of its API in a catalog: its message, the channels that
// carry it, the producers that may send it and the consumers that may
// receive it. It returns false when m has no such EventType.
func ForEventType(m *mesh.Mesh, namespace, name string) (*Document, bool) {
	full := New(m)
	return newIndex(full).eventType(full, namespace, name)
}

// ByEventType returns the document of each EventType of m (ForEventType),
// by "<namespace>/<name>".
func ByEventType(m *mesh.Mesh) map[string]*Document {
	full := New(m)
	ix := newIndex(full)
	docs := make(map[string]*Document, len(m.EventTypes))
	for _, et := range m.EventTypes {
		if d, ok := ix.eventType(full, et.Namespace, et.Name); ok {
			docs[et.Namespace+"/"+et.Name] = d
		}
	}
	return docs
}

// index says which channels carry each message and which operations use
// each channel, so that each EventType's document takes only its part.
type index struct {
	channels   map[string][]string // message id → channel ids
	operations map[string][]string // channel id → operation ids
}

func newIndex(d *Document) *index {
	ix := &index{channels: map[string][]string{}, operations: map[string][]string{}}
	for cid, c := range d.Channels {
		for id := range c.Messages {
			ix.channels[id] = append(ix.channels[id], cid)
		}
	}
	for oid, op := range d.Operations {
		cid := strings.TrimPrefix(op.Channel.Ref, "#/channels/")
		ix.operations[cid] = append(ix.operations[cid], oid)
	}
	return ix
}

// eventType returns the document of EventType namespace/name of full.
func (ix *index) eventType(full *Document, namespace, name string) (*Document, bool) {
	id := ID("EventType", namespace, name)
	msg, ok := full.Components.Messages[id]
	if !ok {
		return nil, false
	}
	d := &Document{
		AsyncAPI: Version,
		Info: Info{
			Title:   msg.Name,
			Version: "1.0.0",
			Description: fmt.Sprintf("EventType %s/%s of the Knative Event Mesh: CloudEvents of type %q, "+
				"the channels that carry them, who may send them and who may receive them.", namespace, name, msg.Name),
		},
		Channels:   map[string]*Channel{},
		Operations: map[string]*Operation{},
		Components: Components{Messages: map[string]*Message{id: msg}, Schemas: map[string]json.RawMessage{}},
	}
	if s, ok := full.Components.Schemas[id]; ok {
		d.Components.Schemas[id] = s
	}
	for _, cid := range ix.channels[id] {
		c := full.Channels[cid]
		only := *c
		only.Messages = map[string]Ref{id: c.Messages[id]}
		d.Channels[cid] = &only
		want := Ref{"#/channels/" + cid + "/messages/" + id}
		for _, oid := range ix.operations[cid] {
			op := full.Operations[oid]
			switch {
			case op.Messages == nil:
				d.Operations[oid] = op
			case slices.Contains(*op.Messages, want):
				only := *op
				only.Messages = &[]Ref{want}
				d.Operations[oid] = &only
			}
		}
	}
	return d, true
}
