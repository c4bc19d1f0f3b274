package schema

import (
	"fmt"

	"github.com/Masterminds/semver/v3"
	"github.com/expr-lang/expr"
)

// Semver is what the guard helper semver(s) returns. Guards compare two of
// them with < <= > >= == !=; expr cannot compare structs by itself, so the
// operators are overloaded below.
type Semver struct {
	v *semver.Version
}

func (s Semver) String() string {
	if s.v == nil {
		return ""
	}
	return s.v.String()
}

func parseSemver(s string) (Semver, error) {
	v, err := semver.NewVersion(s)
	if err != nil {
		return Semver{}, fmt.Errorf("semver(%q): not a version", s)
	}
	return Semver{v}, nil
}

func cmpSemver(p []any) (int, error) {
	a, ok1 := p[0].(Semver)
	b, ok2 := p[1].(Semver)
	if !ok1 || !ok2 || a.v == nil || b.v == nil {
		return 0, fmt.Errorf("semver comparison needs two semver() values")
	}
	return a.v.Compare(b.v), nil
}

// semverOptions registers semver() and the comparison operators on it.
func semverOptions() []expr.Option {
	opts := []expr.Option{
		expr.Function("semver", func(p ...any) (any, error) {
			s, _ := p[0].(string)
			return parseSemver(s)
		}, new(func(string) Semver)),
	}
	ops := []struct {
		op, fn string
		ok     func(int) bool
	}{
		{"<", "semverLT", func(c int) bool { return c < 0 }},
		{"<=", "semverLE", func(c int) bool { return c <= 0 }},
		{">", "semverGT", func(c int) bool { return c > 0 }},
		{">=", "semverGE", func(c int) bool { return c >= 0 }},
		{"==", "semverEQ", func(c int) bool { return c == 0 }},
		{"!=", "semverNE", func(c int) bool { return c != 0 }},
	}
	for _, o := range ops {
		ok := o.ok
		opts = append(opts,
			expr.Function(o.fn, func(p ...any) (any, error) {
				c, err := cmpSemver(p)
				if err != nil {
					return nil, err
				}
				return ok(c), nil
			}, new(func(Semver, Semver) bool)),
			expr.Operator(o.op, o.fn))
	}
	return opts
}
