package steps

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/etcdplay/etcdplay/schema"
)

// RefuseOptions stops the run when a member's etcd runs with an option
// the target version removed: etcd would not start with it (a removed
// flag aborts startup) or would silently drop it (an env variable or a
// config-file key; docs/etcd-behaviour.md). In preflight it checks every
// member, so the run is refused before any member stops; in the members
// phase, the member being upgraded. The options are the member.options
// facts (steps/options.go).
type RefuseOptions struct {
	Removed []string `yaml:"removed" json:"removed" jsonschema:"required" doc:"options the target removed: NAME (any value), NAME=VALUE (only that value; a boolean matches any spelling of it), or PREFIX* (every option starting with PREFIX)"`
	Message string   `yaml:"message" json:"message" jsonschema:"required" doc:"what to do about it: shown after the member, option and where it was set"`
	Unknown string   `yaml:"unknown" json:"unknown,omitempty" jsonschema:"enum=warn|fail" doc:"a member whose options cannot all be read: warn (default) reports and continues; fail stops the run"`
}

func (*RefuseOptions) Kind() string { return "refuse-options" }

func (r *RefuseOptions) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	set := map[string]bool{}
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
	d.Require(schema.Resolve(n), "refuse-options", set, "removed", "message")
	if r.Unknown == "" {
		r.Unknown = "warn"
	}
}

// Bound: one probe; the options were read before the step.
func (*RefuseOptions) Bound() time.Duration { return 30 * time.Second }

func (r *RefuseOptions) Plan(*PlanContext) (Plan, error) {
	removed := strings.Join(r.Removed, ", ")
	return Plan{
		Text: fmt.Sprintf("refuse a member whose etcd options include %s (options that cannot be read: %s)", removed, r.Unknown),
		Args: map[string]string{"removed": removed, "message": r.Message, "unknown": r.Unknown},
	}, nil
}

// optionHit is one removed option a member runs with.
type optionHit struct {
	member, option, value, source, where string
}

func (h optionHit) String() string {
	return fmt.Sprintf("member %s runs with %s=%s, set %s", h.member, h.option, h.value, h.where)
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
			v := m.Options[name]
			for _, rule := range r.Removed {
				if removedMatch(rule, name, v) {
					hits = append(hits, optionHit{member: m.Name, option: name, value: v, source: m.OptionSources[name], where: whereSet(name, m)})
					break
				}
			}
		}
	}
	return hits, unknown
}

// removedMatch: option name with value v is what rule names.
func removedMatch(rule, name, v string) bool {
	rn, rv, hasValue := strings.Cut(rule, "=")
	if p, ok := strings.CutSuffix(rn, "*"); ok {
		if !strings.HasPrefix(name, p) {
			return false
		}
	} else if rn != name {
		return false
	}
	if !hasValue {
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
		return "by the environment variable ETCD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
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
		env.warn(msg, "removed", strings.Join(r.Removed, ", "))
		return nil
	}
	env.info("no removed option set", "removed", strings.Join(r.Removed, ", "))
	return nil
}

func sortedKeys(m map[string]string) []string { return MemberOptions{Options: m}.Names() }
