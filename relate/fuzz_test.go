package relate

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"knative.dev/pkg/apis"

	"github.com/knative-eventmesh/function/objects"
)

// FuzzEventType converts EventTypes with random v1beta2 fields and v1beta3
// attributes and checks that the entity keeps what the EventType says.
//
// attributes is one v1beta3 attribute a line, written
// "[!]name[=value]": a leading "!" marks it required. reference is
// "apiVersion kind name", or empty for none.
func FuzzEventType(f *testing.F) {
	f.Fuzz(func(t *testing.T, typ, source, schema, schemaData, broker, description, reference, attributes string) {
		in := &objects.EventType{
			Meta: objects.Meta{Name: "e", Namespace: "ns"},
			Type: typ, SchemaData: schemaData, Broker: broker, Description: description,
			Reference:  parseReference(reference),
			Attributes: parseAttributes(attributes),
		}
		// Unparsable URLs stay empty, as the API server would not store
		// them; fetch hands on the others as Knative prints them.
		in.Source, in.Schema = urlString(source), urlString(schema)

		pinned := pinnedAttributes(in)
		checkPinned(t, in, pinned)

		et, err := convertEventType(in)
		if (err == nil) == (et == nil) {
			t.Fatalf("convertEventType returned entity %v and error %v: want exactly one", et, err)
		}

		// What the spec says about the type, found independently of
		// convertEventType: spec.type, and the attributes named "type" in
		// any case.
		var typeAttrs []string
		hasTypeValue := false
		for _, a := range in.Attributes {
			if strings.EqualFold(a.Name, "type") {
				typeAttrs = append(typeAttrs, a.Value)
				hasTypeValue = hasTypeValue || a.Value != ""
			}
		}
		switch {
		case typ != "" && err != nil:
			t.Fatalf("spec.type %q, but error %v", typ, err)
		case typ == "" && !hasTypeValue && err == nil:
			t.Fatalf("no spec.type and no type attribute with a value (%q), but entity of type %q", typeAttrs, et.Type)
		case typ == "" && len(typeAttrs) == 1 && typeAttrs[0] != "" && err != nil:
			t.Fatalf("type attribute %q, but error %v", typeAttrs[0], err)
		}
		if err != nil {
			return
		}

		if et.Type == "" {
			t.Fatal("entity with an empty type")
		}
		if typ != "" && et.Type != typ {
			t.Errorf("type %q, want spec.type %q", et.Type, typ)
		}
		if typ == "" && !slices.Contains(typeAttrs, et.Type) {
			t.Errorf("type %q is none of the type attributes %q", et.Type, typeAttrs)
		}
		// The type is pinned unless it is a template of types.
		if got, ok := et.attrs["type"]; template(et.Type) == ok || (ok && got != et.Type) {
			t.Errorf("pinned type %q (pinned %v), want the entity's type %q pinned unless a template", got, ok, et.Type)
		}
		for k := range et.attrs {
			if k != strings.ToLower(k) {
				t.Errorf("pinned attribute %q is not lower-case", k)
			}
		}
		// Converting pins the type and nothing else.
		delete(pinned, "type")
		rest := maps.Clone(et.attrs)
		delete(rest, "type")
		if !maps.Equal(rest, pinned) {
			t.Errorf("entity pins %q, want pinnedAttributes' %q and the type", et.attrs, pinned)
		}
		if in.Schema != "" && et.SchemaURL != in.Schema {
			t.Errorf("schemaURL %q, want spec.schema %q", et.SchemaURL, in.Schema)
		}
	})
}

// checkPinned checks pinned attributes against the EventType: every key is
// lower-case and names a value the EventType fixes (v1beta2's source, or
// an attribute of that name whose value is no template), and every such
// attribute is pinned.
func checkPinned(t *testing.T, in *objects.EventType, pinned map[string]string) {
	t.Helper()
	fixed := func(v string) bool { return v != "" && !strings.ContainsAny(v, "{}") }
	for k, v := range pinned {
		if k == "" || k != strings.ToLower(k) {
			t.Errorf("pinned attribute %q is empty or not lower-case", k)
		}
		if k == "source" && in.Source != "" && v == in.Source {
			continue
		}
		found := false
		for _, a := range in.Attributes {
			found = found || (strings.ToLower(a.Name) == k && a.Value == v && fixed(v))
		}
		if !found {
			t.Errorf("pinned %s=%q is no value the EventType fixes", k, v)
		}
	}
	for _, a := range in.Attributes {
		if _, ok := pinned[strings.ToLower(a.Name)]; a.Name != "" && fixed(a.Value) && !ok {
			t.Errorf("attribute %s=%q is fixed but not pinned", a.Name, a.Value)
		}
	}
}

// parseAttributes reads FuzzEventType's attribute lines.
func parseAttributes(s string) []objects.Attribute {
	if s == "" {
		return nil
	}
	var attrs []objects.Attribute
	for line := range strings.SplitSeq(s, "\n") {
		var a objects.Attribute
		line, a.Required = strings.CutPrefix(line, "!")
		a.Name, a.Value, _ = strings.Cut(line, "=")
		attrs = append(attrs, a)
	}
	return attrs
}

// parseReference reads FuzzEventType's "apiVersion kind name".
func parseReference(s string) *objects.Reference {
	if s == "" {
		return nil
	}
	f := strings.SplitN(s, " ", 3)
	for len(f) < 3 {
		f = append(f, "")
	}
	return &objects.Reference{APIVersion: f[0], Kind: f[1], Name: f[2]}
}

// urlString returns s as Knative prints it once parsed, or "" when it
// does not parse.
func urlString(s string) string {
	u, err := apis.ParseURL(s)
	if err != nil || u == nil {
		return ""
	}
	return u.String()
}
