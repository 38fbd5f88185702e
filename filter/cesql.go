package filter

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/antlr/antlr4/runtime/Go/antlr"
	cesql "github.com/cloudevents/sdk-go/sql/v2"
	"github.com/cloudevents/sdk-go/sql/v2/gen"
	"github.com/cloudevents/sdk-go/sql/v2/parser"
	"github.com/cloudevents/sdk-go/sql/v2/utils"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding/spec"
)

// A CESQL expression is evaluated like this: the boolean structure (AND, OR,
// XOR, NOT, parentheses) is walked here, and every other subtree is a leaf
// that the SDK evaluates once all the attributes it references are known.
//
// Inside the expression a value is not just True or False: the SDK fails the
// whole expression on an error (a missing attribute, a bad cast, a division by
// zero), and a failure is not False under NOT. So the walk tracks the set of
// outcomes an expression can have, and follows the SDK's left-to-right,
// short-circuit evaluation. Only at the filter boundary does a failure count
// as False, since the broker then drops the event.

// outcome is the set of results a CESQL (sub)expression can have.
type outcome uint8

const (
	canTrue  outcome = 1 << iota // evaluates to true
	canFalse                     // evaluates to false
	canFail                      // fails: the broker drops the event

	anything = canTrue | canFalse | canFail
)

// negate swaps true and false and keeps failures.
func (o outcome) negate() outcome {
	return o&canFail | (o&canTrue)<<1 | (o&canFalse)>>1
}

// sqlExpr is a compiled CESQL expression.
type sqlExpr interface {
	eval(in *input) outcome
}

// cesqlCondition is the cesql dialect.
type cesqlCondition struct{ expr sqlExpr }

func (c cesqlCondition) eval(in *input) result {
	switch o := c.expr.eval(in); {
	case o&canTrue == 0:
		return fails
	case o == canTrue:
		return passes
	}
	return passes | fails
}

// sqlAnd is the SDK's AND: if the left side is false the right side is not
// evaluated, so its failures do not count.
type sqlAnd struct{ left, right sqlExpr }

func (e sqlAnd) eval(in *input) outcome {
	l := e.left.eval(in)
	o := l &^ canTrue
	if l&canTrue != 0 {
		o |= e.right.eval(in)
	}
	return o
}

// sqlOr is the SDK's OR: if the left side is true the right side is not
// evaluated.
type sqlOr struct{ left, right sqlExpr }

func (e sqlOr) eval(in *input) outcome {
	l := e.left.eval(in)
	o := l &^ canFalse
	if l&canFalse != 0 {
		o |= e.right.eval(in)
	}
	return o
}

// sqlXor is the SDK's XOR: both sides are evaluated unless the left one fails.
type sqlXor struct{ left, right sqlExpr }

func (e sqlXor) eval(in *input) outcome {
	l := e.left.eval(in)
	o := l & canFail
	if l == canFail {
		return o
	}
	r := e.right.eval(in)
	o |= r & canFail
	if l&canTrue != 0 {
		o |= r.negate() &^ canFail
	}
	if l&canFalse != 0 {
		o |= r &^ canFail
	}
	return o
}

// sqlNot is the SDK's NOT.
type sqlNot struct{ expr sqlExpr }

func (e sqlNot) eval(in *input) outcome { return e.expr.eval(in).negate() }

// sqlLeaf is any other subtree, evaluated by the SDK.
type sqlLeaf struct {
	expr   cesql.Expression
	idents []string // attributes the leaf reads, lower-cased as by the SDK
	top    bool     // the leaf is the whole expression: its value is not cast
}

func (l *sqlLeaf) eval(in *input) outcome {
	for _, name := range l.idents {
		if !in.known(name) {
			return anything
		}
	}
	return l.run(in.event())
}

// run evaluates the leaf with the SDK. Inside AND, OR, XOR and NOT the SDK
// casts a value to boolean (the string "true", a non-zero integer); at the top
// the value is used as is, and Knative's broker drops the event unless it is
// the boolean true. A panic in the SDK (SUBSTRING with a negative length
// panics) also drops the event, so it is a failure.
func (l *sqlLeaf) run(event cloudevents.Event) (o outcome) {
	defer func() {
		if recover() != nil {
			o = canFail
		}
	}()
	v, err := l.expr.Evaluate(event)
	if err != nil {
		return canFail
	}
	if !l.top {
		if v, err = utils.Cast(v, cesql.BooleanType); err != nil {
			return canFail
		}
	}
	switch b, ok := v.(bool); {
	case !ok:
		return canFail
	case b:
		return canTrue
	}
	return canFalse
}

// constant is a leaf whose outcome does not depend on the event.
type constant outcome

func (c constant) eval(*input) outcome { return outcome(c) }

// compileCESQL compiles expr, or returns what it compiled to before.
func (cp *Compiler) compileCESQL(expr string) (condition, error) {
	if r, ok := cp.cesql.Get(expr); ok {
		r := r.(compiledCESQL)
		return r.c, r.err
	}
	c, err := compileCESQL(expr)
	cp.cesql.Add(expr, compiledCESQL{c, err})
	return c, err
}

// compileCESQL parses expr and compiles it.
func compileCESQL(expr string) (condition, error) {
	var c condition
	err := recovered(func() error {
		tree, text, err := parse(expr)
		if err != nil {
			return err
		}
		// Validate with the SDK, which also checks LIKE patterns and integer
		// literals. It gets the tokens rather than expr: the SDK's lexer prints
		// the characters it cannot tokenize to stderr, then skips them.
		if _, err := parser.Parse(text); err != nil {
			return err
		}
		e, err := compileTree(tree.Expression(), true)
		c = cesqlCondition{e}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("parsing cesql %q: %w", expr, err)
	}
	return c, nil
}

// recovered calls f and turns a panic into an error. The SDK's parser panics
// on some invalid input (its error listener dereferences a nil exception).
func recovered(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cesql parser panicked: %v", r)
		}
	}()
	return f()
}

// parse parses expr with the SDK's generated parser, set up as in
// parser.Parse. It returns the parse tree and the text of its tokens,
// separated by spaces.
func parse(expr string) (*gen.CesqlContext, string, error) {
	lexer := gen.NewCESQLParserLexer(parser.NewCaseChangingStream(antlr.NewInputStream(expr), true))
	lexer.RemoveErrorListeners() // as the SDK, skip what cannot be tokenized
	stream := antlr.NewCommonTokenStream(lexer, antlr.TokenDefaultChannel)
	p := gen.NewCESQLParserParser(stream)
	p.RemoveErrorListeners()
	var errs syntaxErrors
	p.AddErrorListener(&errs)
	tree, ok := p.Cesql().(*gen.CesqlContext)
	if errs.err != nil {
		return nil, "", errs.err
	}
	if !ok || tree == nil {
		return nil, "", errors.New("no expression")
	}
	var text []string
	for _, t := range stream.GetAllTokens() {
		if t.GetTokenType() != antlr.TokenEOF {
			text = append(text, t.GetText())
		}
	}
	return tree, strings.Join(text, " "), nil
}

// syntaxErrors keeps the first syntax error of a parse.
type syntaxErrors struct {
	antlr.DefaultErrorListener
	err error
}

func (s *syntaxErrors) SyntaxError(_ antlr.Recognizer, _ any, line, column int, msg string, _ antlr.RecognitionException) {
	if s.err == nil {
		s.err = fmt.Errorf("syntax error at %d:%d: %s", line, column, msg)
	}
}

// compileTree compiles the boolean structure of an expression; top is set
// for the whole expression.
func compileTree(tree gen.IExpressionContext, top bool) (sqlExpr, error) {
	switch t := tree.(type) {
	case nil:
		return nil, errors.New("missing expression")
	case *gen.SubExpressionContext:
		return compileTree(t.Expression(), top)
	case *gen.UnaryLogicExpressionContext:
		e, err := compileTree(t.Expression(), false)
		return sqlNot{e}, err
	case *gen.BinaryLogicExpressionContext:
		l, err := compileTree(t.Expression(0), false)
		if err != nil {
			return nil, err
		}
		r, err := compileTree(t.Expression(1), false)
		switch {
		case t.AND() != nil:
			return sqlAnd{l, r}, err
		case t.OR() != nil:
			return sqlOr{l, r}, err
		}
		return sqlXor{l, r}, err
	}
	return compileLeaf(tree, top)
}

// compileLeaf converts a subtree with the SDK's own visitor, the one
// parser.Parse uses. A leaf that reads no attribute is evaluated now.
func compileLeaf(tree gen.IExpressionContext, top bool) (sqlExpr, error) {
	expr, ok := parser.NewExpressionVisitor().Visit(tree).(cesql.Expression)
	if !ok {
		return nil, fmt.Errorf("cannot convert %q", tree.GetText())
	}
	leaf := &sqlLeaf{expr: expr, idents: identifiers(tree, nil), top: top}
	if len(leaf.idents) == 0 {
		return constant(leaf.run(cloudevents.NewEvent())), nil
	}
	return leaf, nil
}

// identifiers appends to names the attributes that tree reads, lower-cased
// as by the SDK. "EXISTS id" (or source, specversion, type) reads nothing:
// the SDK answers true for these required attributes.
func identifiers(tree antlr.Tree, names []string) []string {
	switch t := tree.(type) {
	case *gen.IdentifierContext:
		name := strings.ToLower(t.GetText())
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		return names
	case *gen.ExistsExpressionContext:
		if t.Identifier() != nil && isRequired(strings.ToLower(t.Identifier().GetText())) {
			return names
		}
	}
	for _, child := range tree.GetChildren() {
		names = identifiers(child, names)
	}
	return names
}

// isRequired reports whether name is an attribute that every event has
// according to the SDK's utils.ContainsAttribute.
func isRequired(name string) bool {
	switch name {
	case "specversion", "id", "source", "type":
		return true
	}
	return false
}

// input is what CouldMatch knows about an event.
type input struct {
	attrs map[string]string

	ev    *cloudevents.Event // attrs as an SDK event, built on first use
	unset []string           // names in attrs that could not be set on ev
}

// known reports whether the value of attribute name is known. A value that
// the SDK does not accept (a malformed time, say) is not known.
func (in *input) known(name string) bool {
	if _, ok := in.attrs[name]; !ok {
		return false
	}
	in.event()
	return !slices.Contains(in.unset, name)
}

// event returns the known attributes as an SDK event. Values are set as the
// SDK's protocol bindings set them, so "time" is parsed and an empty optional
// attribute is absent. The event may lack required attributes: a leaf reads
// only known ones, and the SDK's EXISTS does not look at required ones.
func (in *input) event() cloudevents.Event {
	if in.ev != nil {
		return *in.ev
	}
	ev := cloudevents.NewEvent()
	for name, value := range in.attrs {
		if !settable(name, value) || spec.V1.SetAttribute(ev.Context, name, value) != nil {
			in.unset = append(in.unset, name)
		}
	}
	in.ev = &ev
	return ev
}

// lookup returns the value of attribute name as Knative's broker reads it
// for the legacy filter and the exact, prefix and suffix dialects
// (eventfilter/attributes.LookupAttribute): from the SDK event, so that time
// is in its canonical form, "schemaurl" is dataschema and "datamediatype"
// the media type of datacontenttype. It returns "" for an absent attribute,
// which no filter value matches, and false when the value is not known.
func (in *input) lookup(name string) (string, bool) {
	from := name
	switch name {
	case "schemaurl":
		from = "dataschema"
	case "datamediatype":
		from = "datacontenttype"
	case "datacontentencoding":
		return "", false
	case "type", "subject", "id":
		// What the SDK does, without building the event: it trims these
		// values, and refuses an empty id.
		v, ok := in.attrs[name]
		v = strings.TrimSpace(v)
		return v, ok && (v != "" || name != "id")
	case "source":
		// The SDK parses source as a URI reference.
		v, ok := in.attrs[name]
		u, err := url.Parse(v)
		if !ok || err != nil {
			return "", false
		}
		return u.String(), true
	}
	if !in.known(from) {
		return "", false
	}
	ev := in.event()
	switch name {
	case "specversion":
		return ev.SpecVersion(), true
	case "time":
		b, err := ev.Time().MarshalText()
		if err != nil {
			return "", true
		}
		return string(b), true
	case "dataschema", "schemaurl":
		return ev.DataSchema(), true
	case "datacontenttype":
		return ev.DataContentType(), true
	case "datamediatype":
		return ev.DataMediaType(), true
	}
	v, _ := ev.Extensions()[name].(string)
	return v, true
}

// settable reports whether name=value can be set on a CloudEvents 1.0 event.
// Names must be lower case: the SDK would lower-case them, and two names
// could collide. The SDK silently ignores a specversion other than 1.0.
func settable(name, value string) bool {
	if name == "" || strings.ContainsFunc(name, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9')
	}) {
		return false
	}
	return name != "specversion" || value == cloudevents.VersionV1
}
