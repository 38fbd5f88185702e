package filter

import (
	"strings"
	"sync"
	"testing"

	"github.com/knative-eventmesh/function/objects"
)

type sf = objects.Filter

// filters returns a trigger spec with the given Filters.
func filters(fs ...sf) *objects.Trigger {
	return &objects.Trigger{Filters: fs}
}

// attributes returns a trigger spec with the legacy attributes filter.
func attributes(attrs map[string]string) *objects.Trigger {
	return &objects.Trigger{Attributes: attrs}
}

// sql returns a trigger spec with one CESQL filter.
func sql(expr string) *objects.Trigger {
	return filters(sf{CESQL: expr})
}

func exact(kv ...string) sf  { return sf{Exact: pairs(kv)} }
func prefix(kv ...string) sf { return sf{Prefix: pairs(kv)} }
func suffix(kv ...string) sf { return sf{Suffix: pairs(kv)} }

func pairs(kv []string) map[string]string {
	m := make(map[string]string)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// typ returns the attributes of an EventType that pins down type and the
// given other attributes.
func typ(t string, kv ...string) map[string]string {
	m := pairs(kv)
	m["type"] = t
	return m
}

type matchTest struct {
	name  string
	spec  *objects.Trigger
	attrs map[string]string
	want  tri
}

func runMatchTests(t *testing.T, tests []matchTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile(tt.spec)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got := f.eval(tt.attrs); got != tt.want {
				t.Errorf("eval(%v) = %v, want %v", tt.attrs, got, tt.want)
			}
			if got, want := f.CouldMatch(tt.attrs), tt.want != triFalse; got != want {
				t.Errorf("CouldMatch(%v) = %v, want %v", tt.attrs, got, want)
			}
		})
	}
}

func TestNoFilter(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"empty spec", &objects.Trigger{}, typ("a"), triTrue},
		{"nil attributes", attributes(nil), typ("a"), triTrue},
		{"empty attributes", attributes(map[string]string{}), typ("a"), triTrue},
		{"empty filters list", &objects.Trigger{Filters: []sf{}}, typ("a"), triTrue},
		{"empty filters list keeps filter", &objects.Trigger{
			Filters:    []sf{},
			Attributes: typ("b"),
		}, typ("a"), triFalse},
		{"empty entry", filters(sf{}), typ("a"), triTrue},
		{"nil attrs", &objects.Trigger{}, nil, triTrue},
	})
	var f *Filter
	if !f.CouldMatch(typ("a")) {
		t.Error("nil *Filter: CouldMatch = false, want true")
	}
}

func TestAttributes(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"type matches", attributes(typ("a")), typ("a"), triTrue},
		{"type differs", attributes(typ("a")), typ("b"), triFalse},
		{"type is case-sensitive", attributes(typ("a")), typ("A"), triFalse},
		{"empty type matches any", attributes(typ("")), typ("a"), triTrue},
		{"empty value needs a non-empty one", attributes(typ("")), typ(""), triFalse},
		{"unknown attribute", attributes(typ("a", "source", "x")), typ("a"), triUnknown},
		{"unknown attribute, type differs", attributes(typ("a", "source", "x")), typ("b"), triFalse},
		{"pinned source matches", attributes(typ("a", "source", "x")), typ("a", "source", "x"), triTrue},
		{"pinned source differs", attributes(typ("a", "source", "x")), typ("a", "source", "y"), triFalse},
		{"any source, unknown", attributes(pairs([]string{"source", ""})), typ("a"), triUnknown},
		{"any source, pinned", attributes(pairs([]string{"source", ""})), typ("a", "source", "y"), triTrue},
		{"extension", attributes(pairs([]string{"myext", "v"})), typ("a", "myext", "v"), triTrue},
	})
}

func TestDialects(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"exact matches", filters(exact("type", "a")), typ("a"), triTrue},
		{"exact differs", filters(exact("type", "a")), typ("b"), triFalse},
		{"exact is case-sensitive", filters(exact("type", "a")), typ("A"), triFalse},
		{"exact unknown", filters(exact("source", "x")), typ("a"), triUnknown},
		{"exact all keys", filters(exact("type", "a", "source", "x")), typ("a", "source", "y"), triFalse},
		{"exact all keys, one unknown", filters(exact("type", "a", "source", "x")), typ("a"), triUnknown},
		{"prefix matches", filters(prefix("type", "com.")), typ("com.example"), triTrue},
		{"prefix differs", filters(prefix("type", "com.")), typ("org.example"), triFalse},
		{"prefix is case-sensitive", filters(prefix("type", "com.")), typ("COM.example"), triFalse},
		{"prefix unknown", filters(prefix("source", "/orders")), typ("a"), triUnknown},
		{"suffix matches", filters(suffix("type", ".created")), typ("order.created"), triTrue},
		{"suffix differs", filters(suffix("type", ".created")), typ("order.deleted"), triFalse},
		{"suffix unknown", filters(suffix("subject", ".json")), typ("a"), triUnknown},
		{"several dialects in one entry: the first counts, as in the broker", filters(sf{
			Exact:  pairs([]string{"type", "a"}),
			Prefix: pairs([]string{"type", "b"}),
		}), typ("a"), triTrue},
		{"list is AND", filters(exact("type", "a"), prefix("source", "/x")), typ("a", "source", "/y"), triFalse},
		{"list is AND, unknown", filters(exact("type", "a"), prefix("source", "/x")), typ("a"), triUnknown},
		{"list is AND, false wins over unknown", filters(prefix("source", "/x"), exact("type", "a")), typ("b"), triFalse},
	})
}

func TestAllAnyNot(t *testing.T) {
	notSF := func(f sf) sf { return sf{Not: &f} }
	runMatchTests(t, []matchTest{
		{"all true", filters(sf{All: []sf{prefix("type", "com."), suffix("type", ".created")}}), typ("com.x.created"), triTrue},
		{"all false", filters(sf{All: []sf{prefix("type", "com."), suffix("type", ".created")}}), typ("com.x.deleted"), triFalse},
		{"all unknown", filters(sf{All: []sf{prefix("type", "com."), exact("source", "x")}}), typ("com.x"), triUnknown},
		{"all false and unknown", filters(sf{All: []sf{exact("source", "x"), prefix("type", "org.")}}), typ("com.x"), triFalse},
		{"any true", filters(sf{Any: []sf{exact("type", "b"), exact("type", "a")}}), typ("a"), triTrue},
		{"any false", filters(sf{Any: []sf{exact("type", "b"), exact("type", "c")}}), typ("a"), triFalse},
		{"any unknown", filters(sf{Any: []sf{exact("type", "b"), exact("source", "x")}}), typ("a"), triUnknown},
		{"any true and unknown", filters(sf{Any: []sf{exact("source", "x"), exact("type", "a")}}), typ("a"), triTrue},
		{"not true", filters(notSF(exact("type", "a"))), typ("a"), triFalse},
		{"not false", filters(notSF(exact("type", "a"))), typ("b"), triTrue},
		{"not unknown", filters(notSF(exact("source", "x"))), typ("a"), triUnknown},
		{"not empty entry abstains, as in the broker", filters(notSF(sf{})), typ("a"), triTrue},
		{"nested, unknown propagates", filters(sf{All: []sf{
			{Any: []sf{exact("subject", "s"), exact("type", "b")}},
			notSF(sf{Any: []sf{exact("type", "z")}}),
		}}), typ("a"), triUnknown},
		{"nested, unknown resolved", filters(sf{All: []sf{
			{Any: []sf{exact("subject", "s"), exact("type", "b")}},
			notSF(sf{Any: []sf{exact("type", "z")}}),
		}}), typ("a", "subject", "s"), triTrue},
		{"nested not of unknown any", filters(notSF(sf{Any: []sf{exact("subject", "s"), exact("type", "b")}})), typ("a"), triUnknown},
		{"double not", filters(notSF(notSF(exact("type", "a")))), typ("a"), triTrue},
	})
}

func TestFiltersOverrideFilter(t *testing.T) {
	spec := &objects.Trigger{
		Attributes: typ("b"),
		Filters:    []sf{exact("type", "a")},
	}
	runMatchTests(t, []matchTest{
		{"filters decide", spec, typ("a"), triTrue},
		{"filter ignored", spec, typ("b"), triFalse},
	})
}

func TestCESQL(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"equal", sql("type = 'a'"), typ("a"), triTrue},
		{"not equal", sql("type = 'a'"), typ("b"), triFalse},
		{"double quotes", sql(`type = "a"`), typ("a"), triTrue},
		{"like", sql("type LIKE 'com.%'"), typ("com.example"), triTrue},
		{"like differs", sql("type LIKE 'com.%'"), typ("org.example"), triFalse},
		{"not like", sql("type NOT LIKE 'com.%'"), typ("com.example"), triFalse},
		{"in", sql("type IN ('a','b')"), typ("b"), triTrue},
		{"in differs", sql("type IN ('a','b')"), typ("c"), triFalse},
		{"not in", sql("type NOT IN ('a','b')"), typ("c"), triTrue},
		{"and, source unknown, type matches", sql("source = 'x' AND type = 'a'"), typ("a"), triUnknown},
		{"and, source unknown, type differs", sql("source = 'x' AND type = 'a'"), typ("b"), triFalse},
		{"and, source pinned", sql("source = 'x' AND type = 'a'"), typ("a", "source", "x"), triTrue},
		{"and, source differs", sql("source = 'x' AND type = 'a'"), typ("a", "source", "y"), triFalse},
		{"not", sql("NOT (type = 'a')"), typ("a"), triFalse},
		{"not differs", sql("NOT (type = 'a')"), typ("b"), triTrue},
		{"not unknown", sql("NOT (subject = 's')"), typ("a"), triUnknown},
		{"exists unknown", sql("EXISTS subject"), typ("a"), triUnknown},
		{"exists pinned", sql("EXISTS subject"), typ("a", "subject", "s"), triTrue},
		{"not exists unknown", sql("NOT EXISTS subject"), typ("a"), triUnknown},
		{"exists required attribute", sql("EXISTS source"), typ("a"), triTrue},
		{"not exists required attribute", sql("NOT EXISTS id"), typ("a"), triFalse},
		{"or, type matches", sql("type = 'a' OR subject = 's'"), typ("a"), triTrue},
		{"or, type differs", sql("type = 'a' OR subject = 's'"), typ("b"), triUnknown},
		{"or, subject differs", sql("type = 'a' OR subject = 's'"), typ("b", "subject", "t"), triFalse},
		{"xor", sql("type = 'a' XOR type = 'b'"), typ("a"), triTrue},
		{"xor false", sql("type = 'a' XOR type LIKE 'a%'"), typ("a"), triFalse},
		{"xor unknown", sql("type = 'a' XOR subject = 's'"), typ("a"), triUnknown},
		{"upper", sql("UPPER(type) = 'A'"), typ("a"), triTrue},
		{"upper differs", sql("UPPER(type) = 'A'"), typ("b"), triFalse},
		{"function of unknown", sql("LOWER(source) = 'x'"), typ("a"), triUnknown},
		{"concat", sql("CONCAT(type, '.', subject) = 'a.s'"), typ("a", "subject", "s"), triTrue},
		{"lower-case keywords", sql("type like 'a%' and not (type = 'ab')"), typ("abc"), triTrue},
		{"mixed-case keywords", sql("type In ('a') Or type Like 'b%'"), typ("bc"), triTrue},
		{"identifiers are case-insensitive", sql("TYPE = 'a' AND Subject = 's'"), typ("a", "subject", "s"), triTrue},
		{"string values are case-sensitive", sql("type = 'A'"), typ("a"), triFalse},
		{"extension", sql("myext = 'v'"), typ("a", "myext", "v"), triTrue},
		{"extension unknown", sql("myext = 'v'"), typ("a"), triUnknown},
		{"integer extension", sql("num + 1 = 43"), typ("a", "num", "42"), triTrue},
		{"time", sql("time = '2024-01-02T03:04:05Z'"), typ("a", "time", "2024-01-02T03:04:05Z"), triTrue},
		{"time is compared as an integer, which fails", sql("time > '2020'"), typ("a", "time", "2024-01-02T03:04:05Z"), triFalse},
		{"malformed time is unknown", sql("EXISTS time"), typ("a", "time", "yesterday"), triUnknown},
		{"specversion unknown", sql("specversion = '1.0'"), typ("a"), triUnknown},
		{"specversion pinned", sql("specversion = '1.0'"), typ("a", "specversion", "1.0"), triTrue},
		{"specversion not 1.0 is unknown", sql("specversion = '1.0'"), typ("a", "specversion", "0.3"), triUnknown},
		{"empty optional attribute is absent", sql("EXISTS subject"), typ("a", "subject", ""), triFalse},
		{"constant true", sql("TRUE"), typ("a"), triTrue},
		{"constant false", sql("1 = 2"), typ("a"), triFalse},
		{"nested parentheses", sql("((type = 'a') AND ((subject = 's')))"), typ("a"), triUnknown},
		{"skipped characters, as in the SDK", sql("type = 'a' §"), typ("a"), triTrue},
	})
}

// TestCESQLErrors checks that a failure fails the whole expression, as in the
// SDK, instead of counting as false (which NOT would turn into true).
func TestCESQLErrors(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"division by zero", sql("1 / 0 = 0"), typ("a"), triFalse},
		{"not of a failure", sql("NOT (1 / 0 = 0)"), typ("a"), triFalse},
		{"not of a failure, from the event", sql("NOT (INT(type) = 1)"), typ("abc"), triFalse},
		{"and, failure after false is skipped", sql("type = 'b' AND 1 / 0 = 0"), typ("a"), triFalse},
		{"or, failure after true is skipped", sql("NOT (type = 'a' OR 1 / 0 = 0)"), typ("a"), triFalse},
		{"or, failure after false", sql("NOT (type = 'b' OR 1 / 0 = 0)"), typ("a"), triFalse},
		{"and, unknown then failure", sql("subject = 's' AND 1 / 0 = 0"), typ("a"), triFalse},
		{"or, unknown then true", sql("NOT (subject = 's' OR type = 'a')"), typ("a"), triFalse},
		// Without a subject the SDK fails, so NOT does not make this True.
		{"not of unknown and false", sql("NOT (subject = 's' AND type = 'b')"), typ("a"), triUnknown},
		{"missing attribute fails", sql("NOT (subject = 's')"), typ("a", "subject", ""), triFalse},
		{"unknown function fails", sql("NOSUCH(type) = 1"), typ("a"), triFalse},
		{"SDK panic fails", sql("SUBSTRING(type, 1, -1) = ''"), typ("abc"), triFalse},
		{"not of SDK panic fails", sql("NOT (SUBSTRING(type, 1, -1) = '')"), typ("abc"), triFalse},
		{"not of a failure in a filter is true", filters(sf{Not: &sf{CESQL: "1 / 0 = 0"}}), typ("a"), triTrue},
	})
}

// TestCESQLValues checks non-boolean values: the SDK casts them inside AND,
// OR, XOR and NOT, and Knative drops the event when the whole expression is
// not a boolean.
func TestCESQLValues(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"string at the top", sql("'true'"), typ("a"), triFalse},
		{"attribute at the top", sql("type"), typ("true"), triFalse},
		{"integer at the top", sql("(1)"), typ("a"), triFalse},
		{"string under NOT", sql("NOT 'false'"), typ("a"), triTrue},
		{"string under AND", sql("'true' AND type = 'a'"), typ("a"), triTrue},
		{"integer under OR", sql("0 OR type = 'a'"), typ("b"), triFalse},
		{"attribute under AND", sql("type AND TRUE"), typ("TRUE"), triTrue},
		{"uncastable string under NOT", sql("NOT type"), typ("a"), triFalse},
		{"uncastable string under NOT, unknown", sql("NOT subject"), typ("a"), triUnknown},
	})
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		spec *objects.Trigger
		want string // in the error message
	}{
		{"incomplete", sql("type ="), `filters[0].cesql: parsing cesql "type ="`},
		{"unbalanced", sql("(type = 'a'"), "syntax error"},
		{"extra parenthesis", sql("type = 'a')"), "syntax error"},
		{"dot", sql("a.b = 'c'"), "syntax error"},
		{"double equals", sql("type == 'a'"), "syntax error"},
		{"integer overflow", sql("type = 99999999999"), "parsing cesql"},
		{"only skipped characters", sql("§"), "syntax error"},
		{"nested", filters(exact("type", "a"), sf{Any: []sf{{Not: &sf{CESQL: "AND"}}}}), `filters[1].any[0].not.cesql: parsing cesql "AND"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile(tt.spec)
			if err == nil {
				t.Fatalf("Compile = %v, want an error", f)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Compile error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	spec := filters(
		exact("type", "a"),
		sf{CESQL: "source LIKE '/x%' AND NOT (subject = 's' OR myext = 'v')"},
	)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			f, err := Compile(spec)
			if err != nil {
				t.Error(err)
				return
			}
			for _, tt := range []struct {
				attrs map[string]string
				want  tri
			}{
				{typ("a"), triUnknown},
				{typ("b"), triFalse},
				{typ("a", "source", "/y"), triFalse},
				{typ("a", "source", "/x", "subject", "t", "myext", "w"), triTrue},
			} {
				if got := f.eval(tt.attrs); got != tt.want {
					t.Errorf("eval(%v) = %v, want %v", tt.attrs, got, tt.want)
				}
			}
		})
	}
	wg.Wait()
}

func TestTriLogic(t *testing.T) {
	for _, tt := range []struct {
		in, want tri
	}{{triFalse, triTrue}, {triUnknown, triUnknown}, {triTrue, triFalse}} {
		if got := tt.in.not(); got != tt.want {
			t.Errorf("NOT %v = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func BenchmarkCouldMatch(b *testing.B) {
	benchmarks := []struct {
		name string
		spec *objects.Trigger
	}{
		{"attributes", attributes(typ("com.example.order.created", "source", "/orders"))},
		{"exact", filters(exact("type", "com.example.order.created"), prefix("source", "/orders"))},
		{"cesql", sql("type LIKE 'com.example.order.%' AND source = '/orders' AND subject LIKE 'eu-%'")},
	}
	attrs := typ("com.example.order.created", "source", "/orders")
	for _, bm := range benchmarks {
		f, err := Compile(bm.spec)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				if !f.CouldMatch(attrs) {
					b.Fatal("CouldMatch = false")
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	spec := sql("type LIKE 'com.example.order.%' AND source = '/orders' AND subject LIKE 'eu-%'")
	for b.Loop() {
		if _, err := Compile(spec); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCompilerReusesCESQL(t *testing.T) {
	cp := NewCompiler(0)
	spec := func(expr string) *objects.Trigger {
		return &objects.Trigger{Filters: []objects.Filter{{CESQL: expr}}}
	}
	for range 3 {
		f, err := cp.Compile(spec("type = 'a'"))
		if err != nil {
			t.Fatal(err)
		}
		if !f.CouldMatch(map[string]string{"type": "a"}) || f.CouldMatch(map[string]string{"type": "b"}) {
			t.Error("a reused expression evaluates differently")
		}
		if _, err := cp.Compile(spec("type = = 'a'")); err == nil {
			t.Error("an invalid expression compiled the second time")
		}
	}
	if n := cp.cesql.Len(); n != 2 {
		t.Errorf("%d expressions compiled, want 2", n)
	}
}

func TestCompilerIsBounded(t *testing.T) {
	for _, size := range []int{1, 2} {
		cp := NewCompiler(size)
		for _, expr := range []string{"type = 'a'", "type = 'b'", "type = 'c'"} {
			if _, err := cp.Compile(sql(expr)); err != nil {
				t.Fatal(err)
			}
		}
		if n := cp.cesql.Len(); n != size {
			t.Errorf("NewCompiler(%d): %d expressions kept, want the bound, %d", size, n, size)
		}
	}
}

func TestCompilerConcurrentUse(t *testing.T) {
	cp := NewCompiler(4)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				want := string(rune('a' + (i+j)%6))
				f, err := cp.Compile(sql("type = '" + want + "'"))
				if err != nil {
					t.Error(err)
					return
				}
				if !f.CouldMatch(typ(want)) || f.CouldMatch(typ("z")) {
					t.Errorf("type = '%s' evaluates wrongly under concurrent use", want)
					return
				}
			}
		})
	}
	wg.Wait()
}
