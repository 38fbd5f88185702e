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
// that the broker would use is invalid (the webhook rejects such a Trigger).
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
		c, err := cp.compileList(t.Filters, "filters", false)
		if err != nil {
			return nil, err
		}
		return &Filter{root: c}, nil
	}
	if t.Attributes != nil {
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

// eval returns the three-valued result of the filter: True when the broker
// delivers every event with the attributes attrs, False when it delivers
// none.
func (f *Filter) eval(attrs map[string]string) tri {
	if f == nil || f.root == nil {
		return triTrue
	}
	switch r := f.root.eval(&input{attrs: attrs}); {
	case r&fails == 0:
		return triTrue
	case r == fails:
		return triFalse
	}
	return triUnknown
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

// result is the set of results the broker's filter can give an event with
// the known attributes. As Knative's eventfilter.FilterResult, a filter
// passes, fails or abstains (NoFilter), and the broker delivers an event
// unless the filter fails. A test on attributes is True ({passes}), False
// ({fails}) or Unknown (both).
type result uint8

const (
	passes result = 1 << iota
	fails
	abstains
)

func resultOf(t tri) result {
	switch t {
	case triTrue:
		return passes
	case triFalse:
		return fails
	}
	return passes | fails
}

// condition is a compiled filter expression.
type condition interface {
	eval(in *input) result
}

// compileList compiles a list of SubscriptionsAPIFilter entries into their
// all (allOf), or their any (anyOf) if isAny is set; path names the list in
// error messages. As Knative's broker, it leaves out the entries it cannot use;
// a list left empty abstains, and a list of one is that entry.
func (cp *Compiler) compileList(list []objects.Filter, path string, isAny bool) (condition, error) {
	var cs []condition
	for i, entry := range list {
		c, err := cp.compileEntry(entry, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		if c != nil {
			cs = append(cs, c)
		}
	}
	switch len(cs) {
	case 0:
		return abstain{}, nil
	case 1:
		return cs[0], nil
	}
	if isAny {
		return anyOf(cs), nil
	}
	return allOf(cs), nil
}

// compileEntry compiles one SubscriptionsAPIFilter as Knative's broker
// does: of several dialects only the first in the order exact, prefix,
// suffix, all, any, not, cesql counts (the webhook allows only one). It
// returns nil for an entry the broker leaves out: one without a dialect, or
// with an empty name or value in exact, prefix or suffix.
func (cp *Compiler) compileEntry(entry objects.Filter, path string) (condition, error) {
	switch {
	case len(entry.Exact) > 0:
		return newMatch(entry.Exact, equal), nil
	case len(entry.Prefix) > 0:
		return newMatch(entry.Prefix, strings.HasPrefix), nil
	case len(entry.Suffix) > 0:
		return newMatch(entry.Suffix, strings.HasSuffix), nil
	case len(entry.All) > 0:
		return cp.compileList(entry.All, path+".all", false)
	case len(entry.Any) > 0:
		return cp.compileList(entry.Any, path+".any", true)
	case entry.Not != nil:
		c, err := cp.compileEntry(*entry.Not, path+".not")
		if c == nil || err != nil {
			return abstain{}, err
		}
		return negation{c}, nil
	case entry.CESQL != "":
		c, err := cp.compileCESQL(entry.CESQL)
		if err != nil {
			return nil, fmt.Errorf("%s.cesql: %w", path, err)
		}
		return c, nil
	}
	return nil, nil
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

func (c attributesCondition) eval(in *input) result {
	t := triTrue
	for _, p := range c {
		value, ok := in.lookup(p.name)
		switch {
		case !ok:
			t = triUnknown
		case p.value == anyValue && value == "",
			p.value != anyValue && p.value != value:
			return fails
		}
	}
	return resultOf(t)
}

// matchCondition is the exact, prefix or suffix dialect: match(value, want)
// must hold for every pair.
type matchCondition struct {
	pairs []pair
	match func(value, want string) bool
}

// newMatch returns the matchCondition of m, or nil if a name or value is
// empty: Knative's broker leaves such an entry out.
func newMatch(m map[string]string, match func(value, want string) bool) condition {
	for name, value := range m {
		if name == "" || value == "" {
			return nil
		}
	}
	return matchCondition{pairs: sortedPairs(m), match: match}
}

func (c matchCondition) eval(in *input) result {
	t := triTrue
	for _, p := range c.pairs {
		value, ok := in.lookup(p.name)
		switch {
		case !ok:
			t = triUnknown
		case !c.match(value, p.value):
			return fails
		}
	}
	return resultOf(t)
}

func equal(a, b string) bool { return a == b }

// allOf is Knative's all filter: it fails if one of its conditions fails,
// and otherwise gives the result of its last condition. The broker reorders
// the conditions as it runs, so that can be any of them.
type allOf []condition

func (cs allOf) eval(in *input) result {
	var r result
	for _, c := range cs {
		cr := c.eval(in)
		if cr == fails {
			return fails
		}
		r |= cr
	}
	return r
}

// anyOf is Knative's any filter: it passes if one of its conditions passes,
// and otherwise gives the result of its last condition, which can be any of
// them.
type anyOf []condition

func (cs anyOf) eval(in *input) result {
	var r result
	for _, c := range cs {
		cr := c.eval(in)
		if cr == passes {
			return passes
		}
		r |= cr
	}
	return r
}

// negation is Knative's not filter: it swaps passing and failing, and
// abstains when its condition abstains.
type negation struct{ c condition }

func (n negation) eval(in *input) result {
	r := n.c.eval(in)
	return r&abstains | (r&passes)<<1 | (r&fails)>>1
}

// abstain is an empty list, or the not of an entry the broker leaves out:
// it lets every event through, and so does its negation.
type abstain struct{}

func (abstain) eval(*input) result { return abstains }
