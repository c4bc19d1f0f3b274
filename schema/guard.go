package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"
)

// Guard is a boolean expression over Facts, compiled once when the file
// loads. Source is the expression as written; Pos is where it starts.
type Guard struct {
	Source  string
	Pos     Pos
	program *vm.Program
}

// compiles counts compilations so a test can prove Eval never compiles.
var compiles atomic.Int64

// CompileGuard compiles src as a boolean guard. Errors carry the rune offset
// into src where expr found the problem (or -1) and a hint.
func CompileGuard(src string) (*Guard, *GuardError) {
	compiles.Add(1)
	if strings.TrimSpace(src) == "" {
		return nil, &GuardError{Offset: -1, Msg: "guard is empty"}
	}
	program, err := compileSafe(src)
	if err != nil {
		return nil, explain(err)
	}
	return &Guard{Source: src, program: program}, nil
}

func compileSafe(src string) (p *vm.Program, err error) {
	// expr is third-party code fed with user text; a panic in it must be a
	// load error, not a crash of validate.
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("cannot compile: %v", r)
		}
	}()
	opts := append([]expr.Option{expr.Env(env{}), expr.AsBool()}, semverOptions()...)
	return expr.Compile(src, opts...)
}

// Eval runs the guard against facts. It never compiles.
func (g *Guard) Eval(f Facts) (ok bool, err error) {
	if g == nil || g.program == nil {
		return false, errors.New("guard was not compiled")
	}
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("guard %q: %v", g.Source, r)
		}
	}()
	out, err := expr.Run(g.program, env{Facts: f, MB: MB, GB: GB})
	if err != nil {
		return false, fmt.Errorf("guard %q: %w", g.Source, err)
	}
	b, isBool := out.(bool)
	if !isBool {
		return false, fmt.Errorf("guard %q: result is %T, not a boolean", g.Source, out)
	}
	return b, nil
}

func (g *Guard) String() string {
	if g == nil {
		return ""
	}
	return g.Source
}

// MarshalJSON writes the guard as its source text.
func (g *Guard) MarshalJSON() ([]byte, error) { return json.Marshal(g.String()) }

// JSONSchema describes a guard: an expr-lang expression in a string.
func (Guard) JSONSchema() map[string]any {
	return map[string]any{"type": "string", "minLength": 1,
		"description": "expr-lang boolean expression over cluster.*, member.*, vars.*, playbook.*, semver(), MB, GB"}
}

// GuardError is a guard that does not compile.
type GuardError struct {
	Offset int // rune offset into the expression, -1 when unknown
	Msg    string
	Hint   string
}

func (e *GuardError) Error() string { return e.Msg }

var (
	noFieldRe  = regexp.MustCompile(`^type (\S+) has no field (\S+)`)
	unknownRe  = regexp.MustCompile(`^unknown name (\S+)`)
	expectedRe = regexp.MustCompile(`^expected bool, but got (\S+)`)
)

// explain turns expr's error into our words, with a "did you mean" over the
// real fact names when a name is misspelled.
func explain(err error) *GuardError {
	var fe *file.Error
	if !errors.As(err, &fe) {
		msg := err.Error()
		if m := expectedRe.FindStringSubmatch(msg); m != nil {
			return &GuardError{Offset: -1, Msg: fmt.Sprintf("guard must be a boolean expression, this one gives %s", m[1]),
				Hint: `compare the value, e.g. cluster.version == "3.4.0"`}
		}
		return &GuardError{Offset: -1, Msg: "guard: " + msg}
	}
	g := &GuardError{Offset: fe.From, Msg: "guard: " + strings.TrimSpace(fe.Message)}
	if m := noFieldRe.FindStringSubmatch(fe.Message); m != nil {
		prefix, names := factsOf(m[1])
		g.Msg = fmt.Sprintf("guard: %s has no fact %q", prefix, m[2])
		g.Hint = didYouMean(m[2], names)
		if g.Hint == "" && len(names) > 0 {
			g.Hint = prefix + " facts: " + strings.Join(names, ", ")
		}
	} else if m := unknownRe.FindStringSubmatch(fe.Message); m != nil {
		top := append(exprNames(reflect.TypeOf(env{})), "semver")
		g.Msg = fmt.Sprintf("guard: unknown name %q", m[1])
		g.Hint = didYouMean(m[1], top)
		if g.Hint == "" {
			g.Hint = "guards read " + strings.Join(top, ", ")
		}
	}
	return g
}

// factsOf maps an expr type name from an error message to the name guards
// use for it and the facts it holds.
func factsOf(typeName string) (string, []string) {
	for _, t := range []struct {
		name string
		typ  reflect.Type
	}{
		{"cluster", reflect.TypeOf(ClusterFacts{})},
		{"member", reflect.TypeOf(MemberFacts{})},
		{"playbook", reflect.TypeOf(PlaybookFacts{})},
	} {
		if strings.HasSuffix(typeName, "."+t.typ.Name()) {
			return t.name, exprNames(t.typ)
		}
	}
	return typeName, nil
}

// exprNames lists the expr names of a struct's fields, following embedded
// structs the way expr does.
func exprNames(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			out = append(out, exprNames(f.Type)...)
			continue
		}
		if n := f.Tag.Get("expr"); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Guard decodes a scalar as a guard and compiles it. A compile error points
// at the exact line and column inside the YAML scalar.
func (d *Decoder) Guard(n *yaml.Node, what string) *Guard {
	s, ok := d.scalar(n, what)
	if !ok {
		return nil
	}
	if s.Tag != "!!str" && s.Tag != "!!bool" {
		d.Errorf(s, "%s must be an expression in a string, got %s", what, kindName(s))
		return nil
	}
	g, gerr := CompileGuard(s.Value)
	if gerr != nil {
		p := d.Pos(s)
		if gerr.Offset >= 0 {
			p = d.scalarPos(s, gerr.Offset)
		}
		d.ErrorAt(p, gerr.Hint, "%s: %s", what, strings.TrimPrefix(gerr.Msg, "guard: "))
		return nil
	}
	g.Pos = d.Pos(s)
	return g
}
