package filter

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/antlr/antlr4/runtime/Go/antlr"
	"github.com/cloudevents/sdk-go/sql/v2/gen"
	"github.com/cloudevents/sdk-go/sql/v2/parser"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/knative-eventmesh/function/objects"
)

// fullAttrs are the attributes of the concrete event the fuzz tests compare
// with, besides its type.
var fullAttrs = map[string]string{
	"id":              "id1",
	"source":          "/src",
	"specversion":     "1.0",
	"subject":         "sub",
	"time":            "2024-01-02T03:04:05Z",
	"datacontenttype": "application/json",
	"dataschema":      "http://schema.example",
	"ext":             "e1",
	"num":             "42",
}

// concreteEvent is the event that has exactly fullAttrs and type t, built
// with the SDK's setters.
func concreteEvent(t *testing.T, typ string) (cloudevents.Event, map[string]string) {
	t.Helper()
	ev := cloudevents.NewEvent()
	ev.SetID(fullAttrs["id"])
	ev.SetSource(fullAttrs["source"])
	ev.SetType(typ)
	ev.SetSubject(fullAttrs["subject"])
	tm, err := time.Parse(time.RFC3339, fullAttrs["time"])
	if err != nil {
		t.Fatal(err)
	}
	ev.SetTime(tm)
	ev.SetDataContentType(fullAttrs["datacontenttype"])
	ev.SetDataSchema(fullAttrs["dataschema"])
	ev.SetExtension("ext", fullAttrs["ext"])
	ev.SetExtension("num", fullAttrs["num"])
	attrs := maps.Clone(fullAttrs)
	attrs["type"] = typ
	return ev, attrs
}

// sdkPasses reports whether Knative's broker would pass ev through the CESQL
// filter expr: the SDK evaluates it to the boolean true, without error or
// panic.
func sdkPasses(expr string, ev cloudevents.Event) (pass bool) {
	defer func() {
		if recover() != nil {
			pass = false
		}
	}()
	e, err := parser.Parse(expr)
	if err != nil {
		return false
	}
	v, err := e.Evaluate(ev)
	return err == nil && v == true
}

// sdkAccepts reports whether the SDK parses expr without error or panic.
func sdkAccepts(expr string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, err := parser.Parse(expr)
	return err == nil
}

// tokenIdentifiers returns the lower-cased identifiers of expr, found from
// its tokens rather than its parse tree: identifier tokens that are not
// followed by "(" (which makes them function names).
func tokenIdentifiers(expr string) []string {
	lexer := gen.NewCESQLParserLexer(parser.NewCaseChangingStream(antlr.NewInputStream(expr), true))
	lexer.RemoveErrorListeners()
	tokens := lexer.GetAllTokens()
	var names []string
	for i, tok := range tokens {
		switch tok.GetTokenType() {
		case gen.CESQLParserLexerIDENTIFIER, gen.CESQLParserLexerIDENTIFIER_WITH_NUMBER:
			if i+1 < len(tokens) && tokens[i+1].GetTokenType() == gen.CESQLParserLexerLR_BRACKET {
				continue
			}
			names = append(names, strings.ToLower(tok.GetText()))
		}
	}
	return names
}

// checkRefinement checks the properties shared by the fuzz tests, for a filter
// f that lets the concrete event with attributes full through iff pass:
//   - soundness: if the event passes, CouldMatch is true for any subset of its
//     attributes;
//   - exactness: a definite result on full attributes is the concrete one;
//   - monotonicity: knowing more attributes never changes a definite result.
func checkRefinement(t *testing.T, f *Filter, full map[string]string, pass bool) tri {
	t.Helper()
	got := f.eval(full)
	if got != triUnknown && (got == triTrue) != pass {
		t.Fatalf("eval(full) = %v, but the concrete event passes = %v", got, pass)
	}
	for _, subset := range []map[string]string{
		nil,
		{"type": full["type"]},
		{"type": full["type"], "source": full["source"]},
		{"source": full["source"], "subject": full["subject"], "ext": full["ext"]},
	} {
		sub := f.eval(subset)
		if pass && sub == triFalse {
			t.Fatalf("eval(%v) = False, but the concrete event passes", subset)
		}
		if sub != triUnknown && sub != got {
			t.Fatalf("eval(%v) = %v, but eval(full) = %v", subset, sub, got)
		}
	}
	return got
}

func FuzzCompile(f *testing.F) {
	for _, seed := range []struct{ expr, typ string }{
		{"type = 'a'", "a"},
		{"type LIKE 'com.%' AND NOT (subject = 'x' OR EXISTS ext)", "com.example"},
		{"source = '/src' XOR UPPER(type) IN ('A', 'B')", "b"},
		{"NOT (INT(num) / 0 = 1) OR time = '2024-01-02T03:04:05Z'", "a"},
	} {
		f.Add(seed.expr, seed.typ)
	}
	f.Fuzz(func(t *testing.T, expr, typ string) {
		c, err := Compile(&objects.Trigger{Filters: []objects.Filter{{CESQL: expr}}})
		if expr == "" {
			if err != nil || !c.CouldMatch(nil) {
				t.Fatalf("empty expression: Compile = %v, %v; want a filter that lets everything through", c, err)
			}
			return
		}
		if accepted := sdkAccepts(expr); (err == nil) != accepted {
			t.Fatalf("Compile(%q) error = %v, but the SDK accepts it = %v", expr, err, accepted)
		}
		if err != nil {
			return
		}
		ev, full := concreteEvent(t, typ)
		pass := sdkPasses(expr, ev)
		got := checkRefinement(t, c, full, pass)
		for _, name := range tokenIdentifiers(expr) {
			if _, ok := full[name]; !ok {
				return
			}
		}
		if got == triUnknown {
			t.Fatalf("eval(full) = Unknown, but all identifiers of %q are known", expr)
		}
	})
}

func FuzzFilters(f *testing.F) {
	for _, seed := range []struct{ json, typ string }{
		{`[{"exact":{"type":"a"}}]`, "a"},
		{`[{"prefix":{"type":"com."}},{"not":{"suffix":{"subject":".tmp"}}}]`, "com.example"},
		{`[{"any":[{"exact":{"source":"/src"}},{"cesql":"type = 'b'"}]}]`, "b"},
		{`[{"all":[{"exact":{"ext":"e1"}},{"not":{"cesql":"EXISTS other"}}]}]`, "a"},
	} {
		f.Add([]byte(seed.json), seed.typ)
	}
	f.Fuzz(func(t *testing.T, data []byte, typ string) {
		var s brokerSpec
		if err := json.Unmarshal(data, &s.Filters); err != nil {
			return
		}
		c, err := Compile(s.trigger())
		if err != nil {
			if !strings.Contains(err.Error(), "cesql") {
				t.Fatalf("Compile: unexpected error %v", err)
			}
			return
		}
		ev, full := concreteEvent(t, typ)
		pass, panicked := brokerDelivers(&s, ev)
		if panicked {
			return // the broker drops the event, whatever the filter says
		}
		checkRefinement(t, c, full, pass)
	})
}
