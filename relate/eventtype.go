package relate

import (
	"cmp"
	"errors"
	"strings"

	"github.com/knative-eventmesh/function/fetch"
	"github.com/knative-eventmesh/function/mesh"
)

// The attributes of a v1beta3 EventType that carry its schema URL: its own
// "schemadata", or the CloudEvents "dataschema".
var schemaAttributes = []string{"schemadata", "dataschema"}

// convertEventType returns the entity of an EventType, whichever version
// its spec is written in: v1beta2 names the type and schema in fields,
// v1beta3 in its list of attributes.
func convertEventType(in *fetch.EventType) (*eventType, error) {
	attrs := pinnedAttributes(in)
	typ := in.V1beta2.Type
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
			Meta:        meta(in.Meta.Name, in.Meta.Namespace, string(in.Meta.UID), in.Meta.Labels, in.Meta.Annotations),
			Type:        typ,
			Description: cmp.Or(in.V1beta2.Description, in.V1beta3.Description),
			SchemaData:  in.V1beta2.SchemaData,
		},
		attrs: attrs,
	}
	if in.V1beta2.Schema != nil {
		et.SchemaURL = in.V1beta2.Schema.String()
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
func eventTypeReference(in *fetch.EventType) *mesh.Reference {
	ns := in.Meta.Namespace
	r := in.V1beta2.Reference
	if r == nil {
		r = in.V1beta3.Reference
	}
	if r != nil {
		if ref, ok := reference(r.APIVersion, r.Kind, ns, r.Name); ok {
			return &ref
		}
	}
	if in.V1beta2.Broker != "" {
		return &mesh.Reference{Group: "eventing.knative.dev", Kind: "Broker", Namespace: ns, Name: in.V1beta2.Broker}
	}
	return nil
}

// pinnedAttributes returns the CloudEvent attributes whose value the
// EventType fixes: v1beta2's source, and every v1beta3 attribute with a
// value that is not a template ("{...}" marks a part that varies).
// Attribute names are lower-cased, as CloudEvents attribute names are.
func pinnedAttributes(in *fetch.EventType) map[string]string {
	attrs := map[string]string{}
	if in.V1beta2.Source != nil {
		attrs["source"] = in.V1beta2.Source.String()
	}
	for _, a := range in.V1beta3.Attributes {
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
func attributeValue(in *fetch.EventType, name string) string {
	var v string
	for _, a := range in.V1beta3.Attributes {
		if strings.EqualFold(a.Name, name) && a.Value != "" {
			v = a.Value
		}
	}
	return v
}
