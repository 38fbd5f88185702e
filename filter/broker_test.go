package filter

import (
	"context"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/antlr/antlr4/runtime/Go/antlr"
	"github.com/cloudevents/sdk-go/sql/v2/gen"
	"github.com/cloudevents/sdk-go/sql/v2/parser"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"go.uber.org/zap"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/eventfilter"
	attributesfilter "knative.dev/eventing/pkg/eventfilter/attributes"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"
	"knative.dev/pkg/logging"

	"github.com/knative-eventmesh/function/objects"
)

// These tests compare the filter with Knative Eventing's own: for concrete
// events consistent with what an EventType pins down, they run the broker's
// filter (as pkg/broker/filter's Handler.filterEvent does) and check that
//   - if the broker delivers one of them, CouldMatch is true;
//   - if the filter is certain (True or False), the broker agrees on each
//     event, unless it panics (see brokerDelivers).

// brokerSpec is the part of a Trigger's spec that the broker filters with.
type brokerSpec struct {
	Filter  *eventingv1.TriggerFilter           `json:"filter"`
	Filters []eventingv1.SubscriptionsAPIFilter `json:"filters"`
}

// trigger converts s as package fetch does.
func (s *brokerSpec) trigger() *objects.Trigger {
	t := &objects.Trigger{Filters: objectFilters(s.Filters)}
	if s.Filter != nil {
		t.Attributes = s.Filter.Attributes
	}
	return t
}

func objectFilters(list []eventingv1.SubscriptionsAPIFilter) []objects.Filter {
	if list == nil {
		return nil
	}
	out := make([]objects.Filter, len(list))
	for i, f := range list {
		out[i] = objects.Filter{
			All:    objectFilters(f.All),
			Any:    objectFilters(f.Any),
			Exact:  f.Exact,
			Prefix: f.Prefix,
			Suffix: f.Suffix,
			CESQL:  f.CESQL,
		}
		if f.Not != nil {
			not := objectFilters([]eventingv1.SubscriptionsAPIFilter{*f.Not})[0]
			out[i].Not = &not
		}
	}
	return out
}

// brokerDelivers reports whether Knative's broker delivers ev to a Trigger
// with the filters of s. A fresh filter is built for each event: the
// broker's all and any filters reorder their entries, from a goroutine, as
// they run. The broker does not deliver an event when its filter panics
// (a CESQL expression whose value is not a boolean, or an SDK panic);
// panicked reports that.
func brokerDelivers(s *brokerSpec, ev cloudevents.Event) (delivers, panicked bool) {
	defer func() {
		if recover() != nil {
			delivers, panicked = false, true
		}
	}()
	var f eventfilter.Filter
	switch {
	case len(s.Filters) > 0:
		f = subscriptionsapi.CreateSubscriptionsAPIFilters(zap.NewNop(), s.Filters)
	case s.Filter != nil:
		f = attributesfilter.NewAttributesFilter(s.Filter.Attributes)
	default:
		return true, false
	}
	defer f.Cleanup()
	ctx := logging.WithLogger(context.Background(), zap.NewNop().Sugar())
	return f.Filter(ctx, ev) != eventfilter.FailFilter, false
}

// openNames are the attributes a generated event may set besides those the
// filter names.
var openNames = []string{"id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "ext"}

// fixedValues are values a generated event may give any attribute.
var fixedValues = []string{
	"", "a", " a ", "42", "true", "/src", "a b", "http://schema.example",
	"application/json; charset=utf-8", "2024-01-02T03:04:05Z",
	"2024-01-02T04:04:05.000+01:00", "0001-01-01T00:00:00Z",
}

// vocabulary returns the attribute names and values a filter mentions,
// sorted: its keys and values, and the identifiers and literals of its CESQL
// expressions.
func vocabulary(s *brokerSpec) (names, values []string) {
	seenNames, seenValues := map[string]bool{}, map[string]bool{}
	addMap := func(m map[string]string) {
		for k, v := range m {
			seenNames[strings.ToLower(k)] = true
			seenValues[v] = true
		}
	}
	var walk func(list []eventingv1.SubscriptionsAPIFilter)
	walk = func(list []eventingv1.SubscriptionsAPIFilter) {
		for _, f := range list {
			addMap(f.Exact)
			addMap(f.Prefix)
			addMap(f.Suffix)
			walk(f.All)
			walk(f.Any)
			if f.Not != nil {
				walk([]eventingv1.SubscriptionsAPIFilter{*f.Not})
			}
			for _, name := range tokenIdentifiers(f.CESQL) {
				seenNames[name] = true
			}
			for _, lit := range literals(f.CESQL) {
				seenValues[lit] = true
			}
		}
	}
	walk(s.Filters)
	if s.Filter != nil {
		addMap(s.Filter.Attributes)
	}
	for _, name := range openNames {
		seenNames[name] = true
	}
	return slices.Sorted(maps.Keys(seenNames)), slices.Sorted(maps.Keys(seenValues))
}

// literals returns the string and integer literals of a CESQL expression.
func literals(expr string) []string {
	if expr == "" {
		return nil
	}
	lexer := gen.NewCESQLParserLexer(parser.NewCaseChangingStream(antlr.NewInputStream(expr), true))
	lexer.RemoveErrorListeners()
	var lits []string
	for _, tok := range lexer.GetAllTokens() {
		text := tok.GetText()
		switch tok.GetTokenType() {
		case gen.CESQLParserLexerDQUOTED_STRING_LITERAL, gen.CESQLParserLexerSQUOTED_STRING_LITERAL:
			if len(text) >= 2 {
				lits = append(lits, text[1:len(text)-1])
			}
		case gen.CESQLParserLexerINTEGER_LITERAL:
			lits = append(lits, text)
		}
	}
	return lits
}

// consistentEvent returns an event with the pinned attributes, set as the
// SDK's protocol bindings set them, and values drawn with rng from values
// for the other names, and the attributes it set. A pinned attribute the
// SDK refuses is left open, as CouldMatch leaves it unknown. ok is false if
// the event is not valid (the broker never sees it).
func consistentEvent(pinned map[string]string, names, values []string, rng *rand.Rand) (ev cloudevents.Event, set map[string]string, ok bool) {
	ev = cloudevents.NewEvent()
	set = map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(pinned)) {
		if spec.V1.SetAttribute(ev.Context, name, pinned[name]) == nil {
			set[name] = pinned[name]
		}
	}
	for _, name := range names {
		if _, ok := set[name]; ok || rng.IntN(3) == 0 {
			continue // pinned, or left absent
		}
		v := values[rng.IntN(len(values))]
		switch rng.IntN(4) {
		case 0:
			v += "x"
		case 1:
			v = "x" + v
		}
		if spec.V1.SetAttribute(ev.Context, name, v) == nil {
			set[name] = v
		}
	}
	if ev.ID() == "" {
		ev.SetID("id1")
		set["id"] = "id1"
	}
	if ev.Source() == "" {
		ev.SetSource("/src")
		set["source"] = "/src"
	}
	if ev.Type() == "" {
		ev.SetType("t")
		set["type"] = "t"
	}
	return ev, set, ev.Validate() == nil
}

// checkBroker checks f, compiled from s, against the broker on n events
// consistent with pinned, generated from seed.
func checkBroker(t *testing.T, s *brokerSpec, f *Filter, pinned map[string]string, seed uint64, n int) {
	t.Helper()
	names, filterValues := vocabulary(s)
	values := slices.Concat(fixedValues, filterValues, slices.Sorted(maps.Values(pinned)))
	rng := rand.New(rand.NewPCG(seed, 1))
	got := f.eval(pinned)
	for range n {
		ev, set, ok := consistentEvent(pinned, names, values, rng)
		if !ok {
			continue
		}
		delivers, panicked := brokerDelivers(s, ev)
		if delivers && got == triFalse {
			t.Fatalf("eval(%v) = False, but the broker delivers %v", pinned, ev)
		}
		if !delivers && !panicked && got == triTrue {
			t.Fatalf("eval(%v) = True, but the broker does not deliver %v", pinned, ev)
		}
		full := f.eval(set)
		if delivers && full == triFalse || !delivers && !panicked && full == triTrue {
			t.Fatalf("eval(%v) = %v, but the broker delivers = %v", set, full, delivers)
		}
		if delivers && !f.CouldMatch(nil) {
			t.Fatalf("CouldMatch(nil) = false, but the broker delivers %v", ev)
		}
	}
}

// parseSpec decodes a Trigger spec and pinned attributes given as
// name=value lines.
func parseSpec(specJSON, pinnedLines string) (*brokerSpec, map[string]string, error) {
	var s brokerSpec
	if err := json.Unmarshal([]byte(specJSON), &s); err != nil {
		return nil, nil, err
	}
	pinned := map[string]string{}
	for line := range strings.Lines(pinnedLines) {
		name, value, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		pinned[name] = value
	}
	return &s, pinned, nil
}

func FuzzBroker(f *testing.F) {
	for _, seed := range []struct{ spec, pinned string }{
		{`{"filter":{"attributes":{"type":"a","source":""}}}`, "type=a"},
		{`{"filters":[{"exact":{"type":"a"},"prefix":{"type":"b"}}]}`, "type=a"},
		{`{"filters":[{"not":{}},{"any":[{"exact":{"type":"b"}},{"all":[{}]}]}]}`, "type=a"},
		{`{"filters":[{"not":{"all":[{"exact":{"type":"a"}},{"not":{"exact":{"ext":""}}}]}}]}`, "type=a"},
		{`{"filters":[{"cesql":"subject LIKE 'a%' OR ext = 'x'"},{"suffix":{"time":"Z"}}]}`, "type=a\nsource=/src"},
	} {
		f.Add(seed.spec, seed.pinned, uint64(1))
	}
	f.Fuzz(func(t *testing.T, specJSON, pinnedLines string, seed uint64) {
		if len(specJSON) > 1000 || len(pinnedLines) > 200 {
			return // keep each run short
		}
		s, pinned, err := parseSpec(specJSON, pinnedLines)
		if err != nil {
			return
		}
		c, err := Compile(s.trigger())
		if err != nil {
			return // an invalid CESQL expression: the webhook rejects the Trigger
		}
		checkBroker(t, s, c, pinned, seed, 16)
	})
}

// TestBroker checks the cases where the broker differs from a plain reading
// of the filters.
func TestBroker(t *testing.T) {
	tests := []struct {
		name, spec, pinned string
		want               tri
	}{
		{"several dialects: the first counts", `{"filters":[{"exact":{"type":"a"},"prefix":{"type":"b"}}]}`, "type=a", triTrue},
		{"several dialects: cesql comes last", `{"filters":[{"cesql":"type = 'b'","not":{"exact":{"type":"b"}}}]}`, "type=a", triTrue},
		{"several dialects: an invalid later one is ignored", `{"filters":[{"exact":{"type":"a"},"cesql":"type = ="}]}`, "type=a", triTrue},
		{"empty entry", `{"filters":[{}]}`, "type=a", triTrue},
		{"not of an empty entry abstains", `{"filters":[{"not":{}}]}`, "type=a", triTrue},
		{"exact with an empty value is left out", `{"filters":[{"exact":{"type":""}}]}`, "type=a", triTrue},
		{"not of a left-out entry abstains", `{"filters":[{"not":{"prefix":{"type":""}}}]}`, "type=a", triTrue},
		{"empty list abstains under not", `{"filters":[{"not":{"all":[{}]}}]}`, "type=a", triTrue},
		// The broker's any and all give the result of their last entry, in
		// an order that changes as the broker runs, so these are Unknown.
		{"any of a failing and an abstaining entry", `{"filters":[{"any":[{"exact":{"type":"b"}},{"not":{}}]}]}`, "type=a", triUnknown},
		{"not of all of a passing and an abstaining entry", `{"filters":[{"not":{"all":[{"exact":{"type":"a"}},{"not":{}}]}}]}`, "type=a", triUnknown},
		{"not of all, failing", `{"filters":[{"not":{"all":[{"exact":{"type":"b"}},{"not":{}}]}}]}`, "type=a", triTrue},
		{"any of failing entries still fails", `{"filters":[{"any":[{"exact":{"type":"b"}},{"exact":{"type":"c"}}]}]}`, "type=a", triFalse},
		// An entry on an attribute the EventType does not pin down could
		// pass or fail: undecidable. It decides neither any nor all, nor
		// its own not.
		{"any of an undecidable and a failing entry", `{"filters":[{"any":[{"exact":{"ext":"x"}},{"exact":{"type":"b"}}]}]}`, "type=a", triUnknown},
		{"any of a failing and an undecidable entry", `{"filters":[{"any":[{"exact":{"type":"b"}},{"prefix":{"subject":"x"}}]}]}`, "type=a", triUnknown},
		{"any of an undecidable and a passing entry", `{"filters":[{"any":[{"exact":{"ext":"x"}},{"exact":{"type":"a"}}]}]}`, "type=a", triTrue},
		{"all of an undecidable and a passing entry", `{"filters":[{"all":[{"exact":{"ext":"x"}},{"exact":{"type":"a"}}]}]}`, "type=a", triUnknown},
		{"all of a passing and an undecidable entry", `{"filters":[{"all":[{"exact":{"type":"a"}},{"suffix":{"subject":"x"}}]}]}`, "type=a", triUnknown},
		{"all of an undecidable and a failing entry", `{"filters":[{"all":[{"exact":{"ext":"x"}},{"exact":{"type":"b"}}]}]}`, "type=a", triFalse},
		{"not of an undecidable entry", `{"filters":[{"not":{"exact":{"ext":"x"}}}]}`, "type=a", triUnknown},
		{"not of any of an undecidable and a failing entry", `{"filters":[{"not":{"any":[{"exact":{"ext":"x"}},{"exact":{"type":"b"}}]}}]}`, "type=a", triUnknown},
		{"undecidable cesql under any", `{"filters":[{"any":[{"cesql":"ext = 'x'"},{"exact":{"type":"b"}}]}]}`, "type=a", triUnknown},
		{"top-level undecidable and failing entries", `{"filters":[{"exact":{"ext":"x"}},{"exact":{"type":"b"}}]}`, "type=a", triFalse},
		{"filters override the legacy filter", `{"filter":{"attributes":{"type":"b"}},"filters":[{}]}`, "type=a", triTrue},
		{"legacy filter", `{"filter":{"attributes":{"type":"b"}}}`, "type=a", triFalse},
		{"legacy any value", `{"filter":{"attributes":{"ext":""}}}`, "type=a\next=v", triTrue},
		{"legacy time in canonical form", `{"filter":{"attributes":{"time":"2024-01-02T03:04:05Z"}}}`, "type=a\ntime=2024-01-02T03:04:05.000Z", triTrue},
		{"the broker's time is never empty", `{"filter":{"attributes":{"time":""}}}`, "type=a", triUnknown},
		{"schemaurl is dataschema", `{"filters":[{"exact":{"schemaurl":"http://s"}}]}`, "type=a\ndataschema=http://s", triTrue},
		{"datamediatype", `{"filters":[{"exact":{"datamediatype":"application/json"}}]}`, "type=a\ndatacontenttype=application/json; charset=utf-8", triTrue},
		{"type is trimmed", `{"filters":[{"exact":{"type":"a"}}]}`, "type= a ", triTrue},
		{"source is a URI reference", `{"filters":[{"exact":{"source":"a%20b"}}]}`, "type=a\nsource=a b", triTrue},
		{"unknown source", `{"filters":[{"exact":{"source":"a%20b"}}]}`, "type=a", triUnknown},
		{"id as pinned", `{"filters":[{"exact":{"id":"x"}}]}`, "type=a\nid=x", triTrue},
		{"id other than pinned", `{"filters":[{"exact":{"id":"x"}}]}`, "type=a\nid=y", triFalse},
		{"an empty id is unknown: the SDK refuses it", `{"filters":[{"exact":{"id":"x"}}]}`, "type=a\nid=", triUnknown},
		{"an empty type is known", `{"filters":[{"exact":{"type":"x"}}]}`, "type=", triFalse},
		// The ends of the ranges of an extension name's characters.
		{"extension name of a, z, 0 and 9", `{"filters":[{"exact":{"az09":"v"}}]}`, "type=a\naz09=v", triTrue},
		{"extension name of a, z, 0 and 9, other value", `{"filters":[{"exact":{"az09":"v"}}]}`, "type=a\naz09=w", triFalse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, pinned, err := parseSpec(tt.spec, tt.pinned)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Compile(s.trigger())
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got := f.eval(pinned); got != tt.want {
				t.Errorf("eval(%v) = %v, want %v", pinned, got, tt.want)
			}
			checkBroker(t, s, f, pinned, 1, 64)
		})
	}
}
