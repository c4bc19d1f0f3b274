package schema

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Playbook is one upgrade guide as code.
type Playbook struct {
	File      string         `yaml:"-" json:"file"`
	Name      string         `yaml:"playbook" json:"playbook" jsonschema:"required" doc:"a human name, e.g. etcd 3.4 to 3.5"`
	From      Minor          `yaml:"from" json:"from" jsonschema:"required" doc:"the minor every member runs before, quoted: \"3.4\""`
	To        Minor          `yaml:"to" json:"to" jsonschema:"required" doc:"the minor every member runs after: one above from, or from itself for a patch upgrade (every member onto the inventory's newest release of that minor)"`
	Guide     string         `yaml:"guide" json:"guide,omitempty" doc:"the upgrade guide this playbook encodes"`
	Vars      map[string]any `yaml:"vars" json:"vars,omitempty" doc:"values guards read as vars.NAME; the inventory's vars override them"`
	Preflight []*Step        `yaml:"preflight" json:"preflight,omitempty" doc:"read-only checks and the backup, before anything changes"`
	Members   Members        `yaml:"members" json:"members" jsonschema:"required" doc:"the rolling part, one member at a time"`
	Finish    []*Step        `yaml:"finish" json:"finish,omitempty" doc:"checks once every member runs the new version"`
	Rollback  []*Step        `yaml:"rollback" json:"rollback,omitempty" doc:"steps that put one member back on the old binary while the cluster is still mixed"`

	Pos   Pos `yaml:"-" json:"-"`
	ToPos Pos `yaml:"-" json:"-"`
}

// Members is the per-member phase.
type Members struct {
	Order string  `yaml:"order" json:"order" jsonschema:"enum=leader-last|as-listed" doc:"leader-last (default) upgrades the leader last; as-listed keeps inventory order"`
	Steps []*Step `yaml:"steps" json:"steps" jsonschema:"required,minItems=1" doc:"steps run for each member in turn"`
	// Learners says what a run does when the cluster has a learner: a
	// learner is a member being added, mid-promotion, and a rollout on top
	// of a membership change is one change too many unless the author
	// says so (docs/safety.md).
	Learners string `yaml:"learners" json:"learners,omitempty" jsonschema:"enum=refuse|allow" doc:"refuse (default): no run while the cluster has a learner (promote or remove it first); allow: upgrade learners too (a learner never counts for quorum)"`
}

// Member orders.
const (
	OrderLeaderLast = "leader-last"
	OrderAsListed   = "as-listed"
)

// What a run does with learners (Members.Learners).
const (
	LearnersRefuse = "refuse"
	LearnersAllow  = "allow"
)

// Phases returns the playbook's phases with their steps, in run order.
func (p *Playbook) Phases() []struct {
	Phase Phase
	Steps []*Step
} {
	return []struct {
		Phase Phase
		Steps []*Step
	}{
		{PhasePreflight, p.Preflight},
		{PhaseMembers, p.Members.Steps},
		{PhaseFinish, p.Finish},
		{PhaseRollback, p.Rollback},
	}
}

func (d *Decoder) decodePlaybook(n *yaml.Node) *Playbook {
	p := &Playbook{File: d.file, Pos: d.Pos(n)}
	set := map[string]bool{}
	if !d.Fields(n, "playbook", p, func(key string, v *yaml.Node) {
		set[key] = true
		switch key {
		case "playbook":
			p.Name = d.NonEmpty(v, "playbook")
		case "from":
			p.From = d.Minor(v, "from")
		case "to":
			p.To = d.Minor(v, "to")
			p.ToPos = d.Pos(resolve(v))
		case "guide":
			p.Guide = d.String(v, "guide")
		case "vars":
			p.Vars = d.Vars(v)
		case "preflight":
			p.Preflight = d.decodeSteps(v, "preflight")
		case "members":
			p.Members = d.decodeMembers(v)
		case "finish":
			p.Finish = d.decodeSteps(v, "finish")
		case "rollback":
			p.Rollback = d.decodeSteps(v, "rollback")
		}
	}) {
		return nil
	}
	d.Require(n, "playbook", set, "playbook", "from", "to", "members")
	d.checkUpgradePath(p)
	for _, ph := range p.Phases() {
		d.checkSteps(p, ph.Phase, ph.Steps)
	}
	return p
}

func (d *Decoder) decodeMembers(n *yaml.Node) Members {
	m := Members{Order: OrderLeaderLast, Learners: LearnersRefuse}
	set := map[string]bool{}
	d.Fields(n, "members", &m, func(key string, v *yaml.Node) {
		set[key] = true
		switch key {
		case "order":
			m.Order = d.Enum(v, "members.order", OrderLeaderLast, OrderAsListed)
		case "learners":
			m.Learners = d.Enum(v, "members.learners", LearnersRefuse, LearnersAllow)
		case "steps":
			m.Steps = d.decodeSteps(v, "members.steps")
			if len(resolve(v).Content) == 0 && !d.lastWasAt(v) {
				d.Errorf(v, "members.steps is empty: a playbook must change its members")
			}
		}
	})
	if n = resolve(n); n != nil && n.Kind == yaml.MappingNode {
		d.Require(n, "members", set, "steps")
	}
	return m
}

// IsPatch: the playbook moves every member to another patch release of
// the same minor (from == to); the target is the exact release the
// inventory lists for it, and the cluster version does not change.
func (p *Playbook) IsPatch() bool { return !p.From.IsZero() && p.From == p.To }

// checkUpgradePath refuses paths etcd does not support: one minor at a
// time up, 2.3 to 3.0 across the major, a patch upgrade within a minor,
// or one minor down (a downgrade, docs/downgrades.md). A downgrade of more
// than one minor is refused here, by construction: etcd's downgrade API
// takes only the minor below the cluster version.
func (d *Decoder) checkUpgradePath(p *Playbook) {
	if p.From.IsZero() || p.To.IsZero() {
		return
	}
	f, t := p.From, p.To
	if t.Major == f.Major && t.Minor < f.Minor {
		if t.Minor != f.Minor-1 {
			prev := Minor{f.Major, f.Minor - 1}
			d.ErrorAt(p.ToPos, fmt.Sprintf("etcd downgrades one minor at a time: from %q go to %q first", f, prev),
				"playbook downgrades from %s to %s, which etcd does not support", f, t)
		}
		return
	}
	next := Minor{f.Major, f.Minor + 1}
	ok := t == next || t == f || (f == Minor{2, 3} && t == Minor{3, 0})
	if !ok {
		d.ErrorAt(p.ToPos, fmt.Sprintf("etcd supports one minor at a time: from %q go to %q first", f, next),
			"playbook goes from %s to %s, which etcd does not support", f, t)
	}
}

// IsDowngrade reports whether the playbook takes the cluster one minor
// down (to is below from). Its rollback goes back up: see docs/downgrades.md.
func (p *Playbook) IsDowngrade() bool {
	return !p.From.IsZero() && !p.To.IsZero() && (p.To.Major < p.From.Major ||
		(p.To.Major == p.From.Major && p.To.Minor < p.From.Minor))
}
