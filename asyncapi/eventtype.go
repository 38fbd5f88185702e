package asyncapi

import (
	"encoding/json"
	"fmt"

	"github.com/knative-eventmesh/function/mesh"
)

// ForEventType returns the AsyncAPI document of one EventType of m, the
// definition of its API in a catalog: its message, the channels that
// carry it, the producers that send it and the consumers that receive
// it. It returns false when m has no such EventType.
func ForEventType(m *mesh.Mesh, namespace, name string) (*Document, bool) {
	full := New(m)
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
				"the channels that carry them, who sends them and who receives them.", namespace, name, msg.Name),
		},
		Channels:   map[string]*Channel{},
		Operations: map[string]*Operation{},
		Components: Components{Messages: map[string]*Message{id: msg}, Schemas: map[string]json.RawMessage{}},
	}
	if s, ok := full.Components.Schemas[id]; ok {
		d.Components.Schemas[id] = s
	}
	for cid, c := range full.Channels {
		if _, ok := c.Messages[id]; !ok {
			continue
		}
		only := *c
		only.Messages = map[string]Ref{id: c.Messages[id]}
		d.Channels[cid] = &only
	}
	for oid, op := range full.Operations {
		cid := op.Channel.Ref[len("#/channels/"):]
		if _, ok := d.Channels[cid]; !ok {
			continue
		}
		if op.Messages == nil {
			d.Operations[oid] = op
			continue
		}
		want := Ref{"#/channels/" + cid + "/messages/" + id}
		for _, r := range *op.Messages {
			if r == want {
				only := *op
				only.Messages = &[]Ref{want}
				d.Operations[oid] = &only
				break
			}
		}
	}
	return d, true
}
