package steps

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"gopkg.in/yaml.v3"
)

// Check holds when an expression over the facts is true; a guide's "if your
// data is larger than 100MB, contact us" becomes one. fail stops the run,
// warn reports and goes on.
type Check struct {
	That     *schema.Guard `yaml:"that" json:"that" jsonschema:"required" doc:"expression that must hold"`
	Severity string        `yaml:"severity" json:"severity,omitempty" jsonschema:"enum=fail|warn" doc:"fail (default) stops the run; warn reports and continues"`
	Message  string        `yaml:"message" json:"message" jsonschema:"required" doc:"what it means when the expression does not hold"`
}

func (*Check) Kind() string { return "check" }

func (c *Check) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	set := map[string]bool{}
	if !d.Fields(n, "check", c, func(key string, v *yaml.Node) {
		set[key] = true
		switch key {
		case "that":
			c.That = d.Guard(v, "check.that")
		case "severity":
			c.Severity = d.Enum(v, "check.severity", "fail", "warn")
		case "message":
			c.Message = d.NonEmpty(v, "check.message")
		}
	}) {
		return
	}
	if schema.IsNull(n) {
		d.Hintf(n, `e.g. check: {that: "cluster.dbSize < 100 * MB", message: "..."}`, "check needs that: and message:")
		return
	}
	d.Require(schema.Resolve(n), "check", set, "that", "message")
	if c.Severity == "" {
		c.Severity = "fail"
	}
}

// Bound: one probe of the cluster for the facts.
func (*Check) Bound() time.Duration { return 30 * time.Second }

func (c *Check) Plan(*PlanContext) (Plan, error) {
	return Plan{
		Text: "check " + c.That.String() + " (" + c.Severity + ": " + c.Message + ")",
		Args: map[string]string{"that": c.That.String(), "severity": c.Severity, "message": c.Message},
	}, nil
}

// PlanCheck evaluates the expression with the facts of plan time, so a
// live plan shows each check's outcome, not only its text.
func (c *Check) PlanCheck(f schema.Facts) PlanCheck {
	ok, err := c.That.Eval(f)
	return PlanCheck{Expr: c.That.String(), Holds: ok && err == nil, Severity: c.Severity, Message: c.Message, Err: err}
}

// Run evaluates the guard against facts probed now. warn reports and
// succeeds; fail stops the run with the playbook's message and the facts
// the expression read.
func (c *Check) Run(ctx context.Context, env *Env) error {
	if env.Facts == nil {
		return errors.New("check: no facts to evaluate against")
	}
	f, err := env.Facts(ctx)
	if err != nil {
		return fmt.Errorf("check %s: %w", c.That, err)
	}
	ok, err := c.That.Eval(f)
	if err != nil {
		return fmt.Errorf("check %s: %w", c.That, err)
	}
	if ok {
		env.info("check holds", "that", c.That.String())
		return nil
	}
	seen := factValues(c.That.String(), f)
	if c.Severity == "warn" {
		env.warn(c.Message, "that", c.That.String(), "values", seen)
		return nil
	}
	if seen != "" {
		return fmt.Errorf("%s (%s is false with %s)", c.Message, c.That, seen)
	}
	return fmt.Errorf("%s (%s is false)", c.Message, c.That)
}

var factRefRe = regexp.MustCompile(`\b(cluster|member|playbook|vars)\.([A-Za-z_][A-Za-z0-9_]*)`)

// factValues shows the value of every fact the expression names, e.g.
// "cluster.dbSize=134217728", so a failed check says what decided it.
func factValues(expr string, f schema.Facts) string {
	var out []string
	seen := map[string]bool{}
	for _, m := range factRefRe.FindAllStringSubmatch(expr, -1) {
		name := m[0]
		if seen[name] {
			continue
		}
		seen[name] = true
		if v, ok := factValue(f, m[1], m[2]); ok {
			out = append(out, fmt.Sprintf("%s=%v", name, v))
		}
	}
	return strings.Join(out, ", ")
}

// factValue reads one fact by its expr name through the struct tags, so
// it never drifts from schema.Facts.
func factValue(f schema.Facts, group, field string) (any, bool) {
	var v reflect.Value
	switch group {
	case "cluster":
		v = reflect.ValueOf(f.Cluster)
	case "member":
		v = reflect.ValueOf(f.Member)
	case "playbook":
		v = reflect.ValueOf(f.Playbook)
	case "vars":
		x, ok := f.Vars[field]
		return x, ok
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("expr") == field {
			fv := v.Field(i)
			if fv.Kind() == reflect.Slice {
				return fmt.Sprintf("[%d items]", fv.Len()), true
			}
			return fv.Interface(), true
		}
	}
	return nil, false
}
