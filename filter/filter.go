package filter

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/utils/lru"

	"github.com/knative-eventmesh/function/objects"
)

// Filter is the compiled filter of a trigger. The zero value and a nil
// *Filter let every event through.
type Filter struct {
	root condition // nil: no filter
}

// Compile prepares the filters of a trigger: Filters (the
// SubscriptionsAPIFilter list), when non-empty, overrides the legacy
// Attributes, as in Knative. Compile returns an error if a CESQL expression
// is invalid.
func Compile(t *objects.Trigger) (*Filter, error) {
	return NewCompiler(1).Compile(t)
}

// DefaultCacheSize is the number of CESQL expressions a Compiler keeps
// compiled by default.
const DefaultCacheSize = 4096

// Compiler compiles the filters of many triggers, keeping the most
// recently used CESQL expressions compiled: parsing CESQL is by far the
// costliest part of compiling, and the Triggers of a mesh repeat their
// expressions from one build to the next. One Compiler serves every build
// of a process; it is safe for concurrent use, and so are the Filters it
// returns.
type Compiler struct {
	cesql *lru.Cache // expression → compiledCESQL
}

type compiledCESQL struct {
	c   condition
	err error
}

// NewCompiler returns a Compiler that keeps up to size CESQL expressions
// compiled (DefaultCacheSize when size < 1).
func NewCompiler(size int) *Compiler {
	if size < 1 {
		size = DefaultCacheSize
	}
	return &Compiler{cesql: lru.New(size)}
}

// Compile is like the package's Compile.
func (cp *Compiler) Compile(t *objects.Trigger) (*Filter, error) {
	if len(t.Filters) > 0 {
		c, err := cp.compileList(t.Filters, "filters")
		if err != nil {
			return nil, err
		}
		return &Filter{root: conjunction(c)}, nil
	}
	if len(t.Attributes) > 0 {
		return &Filter{root: attributesCondition(sortedPairs(t.Attributes))}, nil
	}
	return &Filter{}, nil
}

// CouldMatch reports whether an event with the given known attribute values
// could pass the filter. attrs maps CloudEvents attribute names (lower case,
// as in the spec) to the values the EventType pins down; it normally holds
// "type". Attributes missing from attrs may have any value, or be absent.
func (f *Filter) CouldMatch(attrs map[string]string) bool {
	return f.eval(attrs) != triFalse
}

// eval returns the three-valued result of the filter.
func (f *Filter) eval(attrs map[string]string) tri {
	if f == nil || f.root == nil {
		return triTrue
	}
	return f.root.eval(&input{attrs: attrs})
}

// tri is a truth value of Kleene's three-valued logic. The order
// False < Unknown < True makes AND the minimum and OR the maximum.
type tri int8

const (
	triFalse   tri = iota // certainly false
	triUnknown            // depends on attributes that are not known
	triTrue               // certainly true
)

func (t tri) String() string {
	switch t {
	case triFalse:
		return "False"
	case triTrue:
		return "True"
	}
	return "Unknown"
}

func (t tri) not() tri { return triTrue - t }

// condition is a compiled filter expression.
type condition interface {
	eval(in *input) tri
}

// compileList compiles a list of SubscriptionsAPIFilter entries; path names
// the list in error messages.
func (cp *Compiler) compileList(list []objects.Filter, path string) ([]condition, error) {
	cs := make([]condition, 0, len(list))
	for i, entry := range list {
		c, err := cp.compileEntry(entry, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// compileEntry compiles one SubscriptionsAPIFilter. Knative's webhook allows
// one dialect per entry; should there be several, all of them must hold. An
// entry without any dialect is True.
func (cp *Compiler) compileEntry(entry objects.Filter, path string) (condition, error) {
	var cs []condition
	if len(entry.Exact) > 0 {
		cs = append(cs, matchCondition{pairs: sortedPairs(entry.Exact), match: equal})
	}
	if len(entry.Prefix) > 0 {
		cs = append(cs, matchCondition{pairs: sortedPairs(entry.Prefix), match: strings.HasPrefix})
	}
	if len(entry.Suffix) > 0 {
		cs = append(cs, matchCondition{pairs: sortedPairs(entry.Suffix), match: strings.HasSuffix})
	}
	if len(entry.All) > 0 {
		sub, err := cp.compileList(entry.All, path+".all")
		if err != nil {
			return nil, err
		}
		cs = append(cs, conjunction(sub))
	}
	if len(entry.Any) > 0 {
		sub, err := cp.compileList(entry.Any, path+".any")
		if err != nil {
			return nil, err
		}
		cs = append(cs, anyOf(sub))
	}
	if entry.Not != nil {
		sub, err := cp.compileEntry(*entry.Not, path+".not")
		if err != nil {
			return nil, err
		}
		cs = append(cs, negation{sub})
	}
	if entry.CESQL != "" {
		c, err := cp.compileCESQL(entry.CESQL)
		if err != nil {
			return nil, fmt.Errorf("%s.cesql: %w", path, err)
		}
		cs = append(cs, c)
	}
	return conjunction(cs), nil
}

// pair is an attribute name and the value a filter compares it with.
type pair struct{ name, value string }

// sortedPairs returns the entries of m ordered by name, so that evaluation
// order does not depend on map iteration.
func sortedPairs(m map[string]string) []pair {
	ps := make([]pair, 0, len(m))
	for _, name := range slices.Sorted(maps.Keys(m)) {
		ps = append(ps, pair{name, m[name]})
	}
	return ps
}

// anyValue, as the value of a legacy filter attribute, accepts any
// non-empty value (Knative's TriggerAnyFilter).
const anyValue = ""

// attributesCondition is the legacy filter.attributes: every attribute must
// equal its value, and the value "" (anyValue) accepts any non-empty value,
// as in Knative.
type attributesCondition []pair

func (c attributesCondition) eval(in *input) tri {
	result := triTrue
	for _, p := range c {
		value, ok := in.attrs[p.name]
		switch {
		case !ok:
			result = triUnknown
		case p.value == anyValue && value == "",
			p.value != anyValue && p.value != value:
			return triFalse
		}
	}
	return result
}

// matchCondition is the exact, prefix or suffix dialect: match(value, want)
// must hold for every pair.
type matchCondition struct {
	pairs []pair
	match func(value, want string) bool
}

func (c matchCondition) eval(in *input) tri {
	result := triTrue
	for _, p := range c.pairs {
		value, ok := in.attrs[p.name]
		switch {
		case !ok:
			result = triUnknown
		case !c.match(value, p.value):
			return triFalse
		}
	}
	return result
}

func equal(a, b string) bool { return a == b }

// conjunction returns the AND of cs.
func conjunction(cs []condition) condition {
	if len(cs) == 1 {
		return cs[0]
	}
	return allOf(cs)
}

// allOf is the conjunction of its conditions; it is True when empty.
type allOf []condition

func (cs allOf) eval(in *input) tri {
	result := triTrue
	for _, c := range cs {
		result = min(result, c.eval(in))
		if result == triFalse {
			break
		}
	}
	return result
}

// anyOf is the disjunction of its conditions; it is False when empty.
type anyOf []condition

func (cs anyOf) eval(in *input) tri {
	result := triFalse
	for _, c := range cs {
		result = max(result, c.eval(in))
		if result == triTrue {
			break
		}
	}
	return result
}

// negation negates a condition.
type negation struct{ c condition }

func (n negation) eval(in *input) tri { return n.c.eval(in).not() }
