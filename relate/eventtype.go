package relate

import (
	"errors"
	"strings"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/objects"
)

// The attributes of a v1beta3 EventType that carry its schema URL: its own
// "schemadata", or the CloudEvents "dataschema".
var schemaAttributes = []string{"schemadata", "dataschema"}

// convertEventType returns the entity of an EventType, whichever version
// its spec is written in: v1beta2 names the type and schema in fields,
// v1beta3 in its list of attributes.
func convertEventType(in *objects.EventType) (*eventType, error) {
	attrs := pinnedAttributes(in)
	typ := in.Type
	if typ == "" {
		typ = attributeValue(in, "type")
	}
	if typ == "" {
		return nil, errors.New("no CloudEvent type: neither spec.type nor a type attribute with a value")
	}
	if !template(typ) {
		attrs["type"] = typ
	}

	et := &eventType{
		EventType: mesh.EventType{
			Meta:        meta(&in.Meta),
			Type:        typ,
			Description: in.Description,
			SchemaURL:   in.Schema,
			SchemaData:  in.SchemaData,
		},
		attrs: attrs,
	}
	for _, name := range schemaAttributes {
		if et.SchemaURL == "" {
			et.SchemaURL = attributeValue(in, name)
		}
	}
	et.Reference = eventTypeReference(in)
	return et, nil
}

// eventTypeReference returns what an EventType refers to. The namespace is
// always the EventType's own. The deprecated v1beta2 spec.broker counts as
// a reference to that Broker.
func eventTypeReference(in *objects.EventType) *mesh.Reference {
	ns := in.Namespace
	if r := in.Reference; r != nil {
		if ref, ok := reference(r.APIVersion, r.Kind, ns, r.Name); ok {
			return &ref
		}
	}
	if in.Broker != "" {
		return &mesh.Reference{Group: "eventing.knative.dev", Kind: "Broker", Namespace: ns, Name: in.Broker}
	}
	return nil
}

// pinnedAttributes returns the CloudEvent attributes whose value the
// EventType fixes: v1beta2's source, and every v1beta3 attribute with a
// value that is not a template ("{...}" marks a part that varies).
// Attribute names are lower-cased, as CloudEvents attribute names are.
func pinnedAttributes(in *objects.EventType) map[string]string {
	attrs := map[string]string{}
	if in.Source != "" {
		attrs["source"] = in.Source
	}
	for _, a := range in.Attributes {
		if a.Name == "" || a.Value == "" || template(a.Value) {
			continue
		}
		attrs[strings.ToLower(a.Name)] = a.Value
	}
	return attrs
}

// template reports whether an attribute value is a template of values
// rather than one value.
func template(v string) bool { return strings.ContainsAny(v, "{}") }

// attributeValue returns the value of a v1beta3 attribute, or "". When the
// attribute is listed more than once, the last value counts, as in
// Eventing's validation.
func attributeValue(in *objects.EventType, name string) string {
	var v string
	for _, a := range in.Attributes {
		if strings.EqualFold(a.Name, name) && a.Value != "" {
			v = a.Value
		}
	}
	return v
}
