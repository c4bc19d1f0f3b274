// This file holds the plan: plain data with JSON tags, built without
// touching the cluster, that views render (plan_view.go for people,
// encoding/json for machines).

package runner

import (
	"fmt"
	"maps"

	"github.com/etcdplay/etcdplay/runner/events/redact"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// Plan is what a run will do, phase by phase.
type Plan struct {
	Playbook PlaybookRef    `json:"playbook"`
	Cluster  string         `json:"cluster"`
	API      string         `json:"api"`
	Offline  bool           `json:"offline"`
	Order    string         `json:"order"`
	Members  []string       `json:"members"` // in upgrade order
	Vars     map[string]any `json:"vars,omitempty"`
	Phases   []PhasePlan    `json:"phases"`
	// Warnings are what a reviewer must know before a run: a cluster
	// whose voters cannot spare one (see QuorumWarning), a learner.
	Warnings []string `json:"warnings,omitempty"`
	// AllowQuorumLoss records plan --allow-quorum-loss: the run this plan
	// reviews is allowed to take the cluster below quorum.
	AllowQuorumLoss bool `json:"allowQuorumLoss,omitempty"`
	// Digests and Live are set by PlanLive only.
	Digests *Digests  `json:"digests,omitempty"`
	Live    *LiveView `json:"live,omitempty"`
	// Ready is what plan proved about each member still to upgrade
	// (ProveReady), live plans only.
	Ready []HostReady `json:"ready,omitempty"`
}

// PlaybookRef names the playbook a plan comes from.
type PlaybookRef struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	From  string `json:"from"`
	To    string `json:"to"`
	Guide string `json:"guide,omitempty"`
	// Downgrade: to is one minor below from; its rollback is for the
	// whole cluster (docs/downgrades.md).
	Downgrade bool `json:"downgrade,omitempty"`
}

// rollbackTitle says what the plan's rollback phase does.
func (p PlaybookRef) rollbackTitle() string {
	if p.Downgrade {
		return "rollback (cancel the downgrade once, then every member not on " + p.From + " back to it, one at a time)"
	}
	return "rollback (one member back to the old binary while the cluster is still mixed)"
}

// PhasePlan is one phase. Whole-cluster phases (preflight, finish) have
// Steps; the members phase has one entry per member in Members; rollback
// has Steps written for "the member" that failed, since which one is known
// only at run time.
type PhasePlan struct {
	Phase   string       `json:"phase"`
	Steps   []StepPlan   `json:"steps,omitempty"`
	Members []MemberPlan `json:"members,omitempty"`
}

// MemberPlan is the members phase for one member.
type MemberPlan struct {
	Member string     `json:"member"`
	Done   string     `json:"done,omitempty"` // live plans: why the member is skipped
	Steps  []StepPlan `json:"steps"`
}

// StepPlan is one step with its arguments resolved against the inventory.
type StepPlan struct {
	Index  int               `json:"index"` // 1-based within its phase
	Name   string            `json:"name,omitempty"`
	Action string            `json:"action"`
	Text   string            `json:"text"`
	Args   map[string]string `json:"args,omitempty"`
	When   string            `json:"when,omitempty"`
	Guard  string            `json:"guard,omitempty"` // the guard's outcome; offline: "evaluated at run time"
	// Check is a check step's outcome in a live plan ("holds as of plan
	// time", or what the run would do); its facts join Facts.
	Check string         `json:"check,omitempty"`
	Facts map[string]any `json:"facts,omitempty"` // live plans: the facts the guard read
	// Timeout bounds each attempt, exactly as the run applies it
	// (schema.Step.Bound: the step's timeout, else the action's own); ""
	// when only the run bounds the step. Retries is how many more
	// attempts follow one that fails or times out.
	Timeout string `json:"timeout,omitempty"`
	Retries int    `json:"retries,omitempty"`
	Source  string `json:"source"` // file:line:col of the step
}

// GuardOffline is what an offline plan says about every guard.
const GuardOffline = "evaluated at run time"

// PlanOffline builds a plan without any connection: members in inventory
// order (leader-last is applied at run time, when the leader is known), and
// guards shown as expressions. Every problem found while resolving steps
// against the inventory is returned as a schema.ErrorList.
func PlanOffline(pb *schema.Playbook, inv *schema.Inventory) (*Plan, error) {
	var errs schema.ErrorList
	fail := func(p schema.Pos, hint, format string, args ...any) {
		errs = append(errs, &schema.Error{File: pb.File, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...), Hint: hint})
	}
	p := &Plan{
		Playbook: PlaybookRef{Name: pb.Name, File: pb.File, From: pb.From.String(), To: pb.To.String(), Guide: pb.Guide, Downgrade: pb.IsDowngrade()},
		Cluster:  inv.Cluster,
		API:      inv.API,
		Offline:  true,
		Order:    pb.Members.Order,
		Vars:     mergeVars(pb.Vars, inv.Vars),
	}
	redact.KnownFrom(p.Vars)
	if want := apiFor(pb.From); want != inv.API {
		fail(pb.Pos, fmt.Sprintf("use an inventory with api: %s for etcd %s", want, pb.From),
			"playbook upgrades etcd %s, which speaks the %s API, but inventory %s says api: %s", pb.From, want, inv.File, inv.API)
	}
	for _, m := range inv.Members {
		p.Members = append(p.Members, m.Name)
	}
	if w := QuorumWarning(len(inv.Members), 0); w != "" {
		p.Warnings = append(p.Warnings, w)
	}
	c := &steps.PlanContext{Playbook: pb, Inventory: inv}
	planSteps := func(list []*schema.Step) []StepPlan {
		var out []StepPlan
		for i, s := range list {
			sp, err := planStep(c, s, i+1)
			if err != nil {
				fail(s.ActionPos, "", "%v", err)
			}
			sp.Source = fmt.Sprintf("%s:%d:%d", pb.File, s.Pos.Line, s.Pos.Col)
			out = append(out, sp)
		}
		return out
	}
	for _, ph := range pb.Phases() {
		pp := PhasePlan{Phase: string(ph.Phase)}
		c.Phase = ph.Phase
		switch ph.Phase {
		case schema.PhaseMembers:
			for _, m := range inv.Members {
				cfg := inv.Resolve(m)
				c.Member = &cfg
				pp.Members = append(pp.Members, MemberPlan{Member: m.Name, Steps: planSteps(ph.Steps)})
			}
			c.Member = nil
		default:
			if len(ph.Steps) == 0 {
				continue
			}
			pp.Steps = planSteps(ph.Steps)
		}
		p.Phases = append(p.Phases, pp)
	}
	errs.Sort()
	return p, errs.Err()
}

func planStep(c *steps.PlanContext, s *schema.Step, index int) (StepPlan, error) {
	sp := StepPlan{Index: index, Name: s.Name, Action: s.Action, Timeout: s.Bound.String(), Retries: s.Retries}
	if s.When != nil {
		sp.When = s.When.Source
		sp.Guard = GuardOffline
	}
	a, ok := s.Args.(steps.Action)
	if !ok {
		return sp, fmt.Errorf("step %q: action has no plan", s.Action)
	}
	rp, err := a.Plan(c)
	if err != nil {
		return sp, err
	}
	sp.Text, sp.Args = rp.Text, rp.Args
	return sp, nil
}

// apiFor is the API a cluster on minor m speaks: 2.x clusters only have v2.
func apiFor(m schema.Minor) string {
	if m.Major < 3 {
		return "v2"
	}
	return "v3"
}

// mergeVars lays the inventory's vars over the playbook's.
func mergeVars(pb, inv map[string]any) map[string]any {
	if len(pb) == 0 && len(inv) == 0 {
		return nil
	}
	out := maps.Clone(pb)
	if out == nil {
		out = map[string]any{}
	}
	maps.Copy(out, inv)
	return out
}

// QuorumWarning says, for a cluster of that many voters (learners apart),
// whether a run needs --allow-quorum-loss; "" when one voter can stop and
// the others keep quorum.
func QuorumWarning(voters, learners int) string {
	q := quorum{voters: voters}
	if q.canSpareOne() {
		return ""
	}
	w := fmt.Sprintf("%s: stopping any voter loses quorum, and the cluster takes no writes while each member is stopped; a run refuses this unless given --allow-quorum-loss", q)
	if learners > 0 {
		w += fmt.Sprintf(" (%d learner(s) do not count)", learners)
	}
	return w
}
