package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/etcdplay/etcdplay/schema"
)

// RefuseOptions stops the run when a member's etcd runs with an option
// the target version removed: etcd would not start with it (a removed
// flag aborts startup, whatever its value) or would silently drop it (an
// env variable only warns, a config-file key is ignored;
// docs/etcd-behaviour.md). A dropped setting whose value changes nothing
// (`enable-v2: false` in a config file) is harmless, so a removed
// NAME=VALUE narrows only the variable and the key to that value; a flag
// is refused with any value. Values the target refuses of an option it
// keeps (`--logger=capnslog`) are refused from every source. In
// preflight it checks every member, so the run is refused before any
// member stops; in the members phase, the member being upgraded. The
// options are the member.options facts (steps/options.go).
type RefuseOptions struct {
	Removed []string          `yaml:"removed" json:"removed,omitempty" doc:"options the target removed: NAME, NAME=VALUE (as a flag any value, since etcd exits on the unknown flag; as a variable or config-file key only that value, the only one whose loss matters; a boolean matches any spelling of it), or PREFIX* (every option starting with PREFIX)"`
	Values  []string          `yaml:"values" json:"values,omitempty" doc:"NAME=VALUE settings the target refuses although it keeps the option (logger=capnslog): refused from every source"`
	Instead map[string]string `yaml:"instead" json:"instead,omitempty" doc:"what to set instead, by removed option NAME: NEW (the same value under the new name) or NEW=VALUE, where {value} stands for the member's value; the refusal writes it the way the old one was set (flag, variable or config-file key)"`
	Message string            `yaml:"message" json:"message" jsonschema:"required" doc:"what to do about it: shown after the member, option and where it was set"`
	Unknown string            `yaml:"unknown" json:"unknown,omitempty" jsonschema:"enum=warn|fail" doc:"a member whose options cannot all be read: warn (default) reports and continues; fail stops the run"`
}

func (*RefuseOptions) Kind() string { return "refuse-options" }

func (r *RefuseOptions) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	set := map[string]bool{}
	var insteadPos *yaml.Node
	if !d.Fields(n, "refuse-options", r, func(key string, v *yaml.Node) {
		set[key] = true
		switch key {
		case "removed":
			r.Removed = d.StringList(v, "refuse-options.removed")
			for i, s := range r.Removed {
				name, _, _ := strings.Cut(s, "=")
				if strings.TrimSuffix(name, "*") == "" || strings.HasPrefix(name, "-") || strings.Contains(strings.TrimSuffix(name, "*"), "*") {
					d.Hintf(schema.Resolve(v).Content[i], `e.g. enable-v2=true, experimental-enable-v2v3, "proxy*"`,
						"refuse-options.removed: %q is not an option name (no dashes; one * at the end at most)", s)
				}
			}
		case "values":
			r.Values = d.StringList(v, "refuse-options.values")
			for i, s := range r.Values {
				name, val, ok := strings.Cut(s, "=")
				if !ok || name == "" || val == "" || strings.HasPrefix(name, "-") || strings.Contains(name, "*") {
					d.Hintf(schema.Resolve(v).Content[i], `e.g. logger=capnslog`,
						"refuse-options.values: %q is not NAME=VALUE (an option name without dashes, and its value)", s)
				}
			}
		case "instead":
			r.Instead = d.StringMap(v, "refuse-options.instead")
			insteadPos = v
		case "message":
			r.Message = d.NonEmpty(v, "refuse-options.message")
		case "unknown":
			r.Unknown = d.Enum(v, "refuse-options.unknown", "warn", "fail")
		}
	}) {
		return
	}
	if schema.IsNull(n) {
		d.Hintf(n, `e.g. refuse-options: {removed: [enable-v2=true], message: "..."}`, "refuse-options needs removed: and message:")
		return
	}
	d.Require(schema.Resolve(n), "refuse-options", set, "message")
	if !set["removed"] && !set["values"] {
		d.Hintf(n, `e.g. removed: [enable-v2=true] or values: [logger=capnslog]`, "refuse-options needs removed: or values:")
	}
	for _, old := range sortedKeys(r.Instead) {
		if !r.names(old) {
			d.Hintf(insteadPos, "instead: takes the names in removed: or values:",
				"refuse-options.instead: %q is not an option this step refuses", old)
		}
		if nw, _, _ := strings.Cut(r.Instead[old], "="); nw == "" || strings.HasPrefix(nw, "-") {
			d.Hintf(insteadPos, `e.g. instead: {experimental-corrupt-check-time: corrupt-check-time}`,
				"refuse-options.instead: %q for %s is not NEW or NEW=VALUE (an option name without dashes)", r.Instead[old], old)
		}
	}
	if r.Unknown == "" {
		r.Unknown = "warn"
	}
}

// names: old is the name of one of the step's rules (not a PREFIX*).
func (r *RefuseOptions) names(old string) bool {
	for _, rule := range slices.Concat(r.Removed, r.Values) {
		if n, _, _ := strings.Cut(rule, "="); n == old {
			return true
		}
	}
	return false
}

// Bound: one probe; the options were read before the step.
func (*RefuseOptions) Bound() time.Duration { return 30 * time.Second }

func (r *RefuseOptions) Plan(*PlanContext) (Plan, error) {
	refused := strings.Join(slices.Concat(r.Removed, r.Values), ", ")
	args := map[string]string{"message": r.Message, "unknown": r.Unknown}
	if len(r.Removed) > 0 {
		args["removed"] = strings.Join(r.Removed, ", ")
	}
	if len(r.Values) > 0 {
		args["values"] = strings.Join(r.Values, ", ")
	}
	if len(r.Instead) > 0 {
		var b []string
		for _, old := range sortedKeys(r.Instead) {
			b = append(b, old+" -> "+r.Instead[old])
		}
		args["instead"] = strings.Join(b, ", ")
	}
	return Plan{
		Text: fmt.Sprintf("refuse a member whose etcd options include %s (options that cannot be read: %s)", refused, r.Unknown),
		Args: args,
	}, nil
}

// optionHit is one removed option a member runs with.
type optionHit struct {
	member, option, value, source, where string
	instead                              string // the setting to use instead, written as the old one was; "" when none
}

func (h optionHit) String() string {
	s := fmt.Sprintf("member %s runs with %s=%s, set %s", h.member, h.option, h.value, h.where)
	if h.instead != "" {
		s += " (use " + h.instead + " instead)"
	}
	return s
}

// find returns the removed options each member in scope runs with, and
// the members whose options are unknown.
func (r *RefuseOptions) find(f schema.Facts) (hits []optionHit, unknown []string) {
	scope := f.Cluster.Members
	if f.Member.Name != "" {
		scope = []schema.MemberFacts{f.Member}
	}
	for _, m := range scope {
		if m.OptionsUnknown != "" {
			unknown = append(unknown, fmt.Sprintf("member %s: %s", m.Name, m.OptionsUnknown))
		}
		for _, name := range sortedKeys(m.Options) {
			v, src := m.Options[name], m.OptionSources[name]
			if r.refuses(name, v, src) {
				hits = append(hits, optionHit{member: m.Name, option: name, value: v, source: src, where: whereSet(name, m),
					instead: r.insteadOf(name, v, src)})
			}
		}
	}
	return hits, unknown
}

// refuses: option name, set to v from src, is one the step refuses. A
// removed option set as a flag is refused whatever its value: etcd exits
// on a flag it does not define. Rules naming the option exactly decide
// for it, so a PREFIX* catch-all does not override their harmless values.
func (r *RefuseOptions) refuses(name, v, src string) bool {
	exact := func(rule string) bool { n, _, _ := strings.Cut(rule, "="); return n == name }
	named := slices.ContainsFunc(r.Removed, exact) || slices.ContainsFunc(r.Values, exact)
	for _, rule := range r.Removed {
		if (!named || exact(rule)) && removedMatch(rule, name, v, src == SourceFlag) {
			return true
		}
	}
	for _, rule := range r.Values {
		if (!named || exact(rule)) && removedMatch(rule, name, v, false) {
			return true
		}
	}
	return false
}

// insteadOf is the setting to use in place of name=v, written the way
// the old one was set: a flag, a variable or a config-file key.
func (r *RefuseOptions) insteadOf(name, v, src string) string {
	nw, ok := r.Instead[name]
	if !ok {
		return ""
	}
	nn, nv, hasValue := strings.Cut(nw, "=")
	if !hasValue {
		nv = v
	}
	nv = strings.ReplaceAll(nv, "{value}", v)
	switch src {
	case SourceEnv:
		return envName(nn) + "=" + nv
	case SourceConfigFile:
		return fmt.Sprintf("the key %q: %s", nn, nv)
	}
	return "--" + nn + "=" + nv
}

// envName is the ETCD_* variable etcd reads for option name.
func envName(name string) string {
	return "ETCD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// removedMatch: option name with value v is what rule names; anyValue
// ignores the rule's VALUE (a flag the target no longer defines).
func removedMatch(rule, name, v string, anyValue bool) bool {
	rn, rv, hasValue := strings.Cut(rule, "=")
	if p, ok := strings.CutSuffix(rn, "*"); ok {
		if !strings.HasPrefix(name, p) {
			return false
		}
	} else if rn != name {
		return false
	}
	if !hasValue || anyValue {
		return true
	}
	// etcd parses booleans with strconv.ParseBool: "1", "t", "TRUE" are true.
	if want, err := strconv.ParseBool(rv); err == nil {
		got, err := strconv.ParseBool(v)
		return err == nil && got == want
	}
	return strings.EqualFold(rv, v)
}

// whereSet says where a member's option was set, as the operator would
// find it: the flag, the variable or the key in the config file.
func whereSet(name string, m schema.MemberFacts) string {
	switch m.OptionSources[name] {
	case SourceFlag:
		return "by the flag --" + name
	case SourceEnv:
		return "by the environment variable " + envName(name)
	case SourceConfigFile:
		return fmt.Sprintf("by the key %q in the config file %s", name, m.Options["config-file"])
	}
	return "(source unknown)"
}

func (r *RefuseOptions) refusal(hits []optionHit) error {
	lines := make([]string, len(hits))
	for i, h := range hits {
		lines[i] = h.String()
	}
	return fmt.Errorf("%s: %s", strings.Join(lines, "; "), r.Message)
}

// PlanCheck says now what the run's step would find.
func (r *RefuseOptions) PlanCheck(f schema.Facts) PlanCheck {
	hits, unknown := r.find(f)
	pc := PlanCheck{Holds: len(hits) == 0, Severity: "fail"}
	switch {
	case len(hits) > 0:
		pc.Message = r.refusal(hits).Error()
	case len(unknown) > 0:
		pc.Holds, pc.Severity = false, r.Unknown
		pc.Message = "options unknown: " + strings.Join(unknown, "; ")
	}
	return pc
}

// Run refuses the members whose options include a removed one, naming
// each member, option and where it was set; a member whose options are
// unknown warns or fails as unknown: says.
func (r *RefuseOptions) Run(ctx context.Context, env *Env) error {
	if env.Facts == nil {
		return errors.New("refuse-options: no facts to evaluate against")
	}
	f, err := env.Facts(ctx)
	if err != nil {
		return fmt.Errorf("refuse-options: %w", err)
	}
	hits, unknown := r.find(f)
	if len(hits) > 0 {
		return r.refusal(hits)
	}
	if len(unknown) > 0 {
		msg := "etcd options not fully read, so removed options cannot be ruled out: " + strings.Join(unknown, "; ")
		if r.Unknown == "fail" {
			return errors.New(msg)
		}
		env.warn(msg, "removed", strings.Join(slices.Concat(r.Removed, r.Values), ", "))
		return nil
	}
	env.info("no removed option set", "removed", strings.Join(slices.Concat(r.Removed, r.Values), ", "))
	return nil
}

func sortedKeys(m map[string]string) []string { return MemberOptions{Options: m}.Names() }
