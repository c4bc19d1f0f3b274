package steps

import (
	"fmt"
	"strings"

	"github.com/etcdplay/etcdplay/schema"
	"gopkg.in/yaml.v3"
)

// Swap puts the target version's etcd binary in place of the member's,
// atomically, keeping the old one beside it for a rollback, and confirms
// `etcd --version` over SSH. The playbook names the minor ("3.5"); the
// inventory's releases supply the exact release, so one playbook serves
// every fleet.
type Swap struct {
	To schema.Minor `yaml:"to" json:"to" jsonschema:"required" doc:"target minor, e.g. \"3.5\"; the inventory's newest release on it is installed"`

	toPos schema.Pos
}

func (*Swap) Kind() string { return "swap" }

// DecodeArgs accepts `swap: {to: "3.5"}` and the short form `swap: "3.5"`.
func (s *Swap) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	if schema.IsScalar(n) {
		s.toPos = d.Pos(schema.Resolve(n))
		s.To = d.Minor(n, "swap")
		return
	}
	set := map[string]bool{}
	if !d.Fields(n, "swap", s, func(key string, v *yaml.Node) {
		set[key] = true
		if key == "to" {
			s.toPos = d.Pos(schema.Resolve(v))
			s.To = d.Minor(v, "swap.to")
		}
	}) {
		return
	}
	if !set["to"] {
		d.Hintf(n, `e.g. swap: {to: "3.5"}`, "swap: missing required key \"to\"")
	}
}

func (*Swap) NeedsMember() bool { return true }

// JSONSchemaShortForm: `swap: "3.5"`.
func (*Swap) JSONSchemaShortForm() map[string]any {
	return schema.Minor{}.JSONSchema()
}

// CheckContext: in members.steps a swap installs the playbook's target; in
// rollback it puts back the version the playbook came from. Anything else
// is a typo that would skip or repeat a minor.
func (s *Swap) CheckContext(d *schema.Decoder, c schema.StepContext) {
	if s.To.IsZero() {
		return
	}
	p := c.Playbook
	switch c.Phase {
	case schema.PhaseMembers:
		if !p.To.IsZero() && s.To != p.To {
			d.ErrorAt(s.toPos, fmt.Sprintf("write swap: {to: %q}", p.To.String()),
				"swap installs %s, but the playbook upgrades to %s", s.To, p.To)
		}
	case schema.PhaseRollback:
		if !p.From.IsZero() && s.To != p.From {
			d.ErrorAt(s.toPos, fmt.Sprintf("write swap: {to: %q}", p.From.String()),
				"rollback swaps to %s, but the playbook comes from %s", s.To, p.From)
		}
	}
}

func (s *Swap) Plan(c *PlanContext) (Plan, error) {
	if c.Inventory == nil {
		return Plan{Text: fmt.Sprintf("put the inventory's newest %s.x release in place", s.To),
			Args: map[string]string{"to": s.To.String()}}, nil
	}
	r := c.Inventory.ReleaseFor(s.To)
	if r == nil {
		var have []string
		for _, r := range c.Inventory.SortedReleases() {
			have = append(have, r.Version.String())
		}
		listed := "none"
		if len(have) > 0 {
			listed = strings.Join(have, ", ")
		}
		return Plan{}, fmt.Errorf("swap to %s: the inventory lists no %s.x release (releases: %s)", s.To, s.To, listed)
	}
	args := map[string]string{"to": s.To.String(), "version": r.Version.String()}
	src := "copy of " + r.Remote + " on the member"
	if r.Remote != "" {
		args["remote"] = r.Remote
	} else {
		args["upload"] = r.Upload
		src = "upload of " + r.Upload
		if r.SHA256 != "" {
			args["sha256"] = r.SHA256
			src += ", sha256 " + r.SHA256[:12] + "..."
		}
	}
	bin := "the member's binary"
	if c.Member != nil {
		bin = c.Member.Binary
		args["binary"] = bin
	}
	return Plan{Text: fmt.Sprintf("put etcd %s at %s (%s), keep the old binary, confirm etcd --version", r.Version, bin, src),
		Args: args}, nil
}
