package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// Digests name the exact files a plan was made from (journal.Digest of
// their bytes). `run --plan` refuses a plan whose files have changed.
type Digests struct {
	Playbook  string `json:"playbook"`
	Inventory string `json:"inventory"`
}

// LiveView is what the probe saw when a live plan was made.
type LiveView struct {
	ClusterVersion string       `json:"cluster_version"`
	Leader         string       `json:"leader"`
	Healthy        bool         `json:"healthy"`
	Members        []LiveMember `json:"members"`
}

// LiveMember is one member as probed.
type LiveMember struct {
	Name    string `json:"name"`
	Server  string `json:"server"`
	Healthy bool   `json:"healthy"`
	Leader  bool   `json:"leader,omitempty"`
	// Done says why the member will be skipped ("already on 3.5.35").
	Done string `json:"done,omitempty"`
	// Options are the member's etcd options as read over SSH, with where
	// each was set (flag, env, config-file) and what could not be read.
	Options        map[string]string `json:"options,omitempty"`
	OptionSources  map[string]string `json:"option_sources,omitempty"`
	OptionsUnknown string            `json:"options_unknown,omitempty"`
}

// Guard outcomes in a live plan.
const (
	GuardTrue  = "true as of plan time"
	GuardFalse = "false as of plan time: skipped"
)

// PlanLive builds the plan a run would follow now: the offline plan's
// steps, the member order from a fresh probe (leader-last: followers in
// inventory order, then the leader), each guard evaluated with the facts
// of now (for per-member steps, that member's facts) and the facts that
// decided it. With hosts (nil: none), every member's etcd options are read
// over SSH, as a run's preflight reads them, for the guards and the plan's
// live view. Per-member guards are re-evaluated at run time, just before
// their step, so they are marked "as of plan time".
func PlanLive(ctx context.Context, pb *schema.Playbook, inv *schema.Inventory, cluster steps.Cluster, hosts steps.Hosts, d Digests) (*Plan, error) {
	p, err := PlanOffline(pb, inv)
	if err != nil {
		return p, err
	}
	c, err := cluster.Cluster(ctx)
	if err != nil {
		return nil, exit.New(exit.Unreachable, fmt.Errorf("probe cluster %s: %w", inv.Cluster, err), "plan --offline works without the cluster")
	}
	p.Offline = false
	p.Digests = &d
	vars := mergeVars(pb.Vars, inv.Vars)
	live := &LiveView{ClusterVersion: c.Version, Leader: c.Leader, Healthy: c.Healthy}
	var opts map[string]steps.MemberOptions
	if hosts != nil {
		opts = map[string]steps.MemberOptions{}
		got, _ := readAllOptions(ctx, hosts, inv, p.Members) // unknown says why
		for i, n := range p.Members {
			opts[n] = got[i]
		}
	}
	var todo, done []string
	for _, n := range p.Members {
		lm := LiveMember{Name: n}
		if o, ok := opts[n]; ok {
			lm.Options, lm.OptionSources, lm.OptionsUnknown = o.Options, o.Sources, o.Unknown
		}
		if m := c.MemberByName(n); m != nil {
			lm.Server, lm.Healthy, lm.Leader = m.Server, m.Healthy, m.IsLeader
			if m.Reachable && onTarget(pb, inv, m.Server) {
				lm.Done = "already on " + m.Server
			}
		}
		if lm.Done != "" {
			done = append(done, n)
		} else {
			todo = append(todo, n)
		}
		live.Members = append(live.Members, lm)
	}
	p.Live = live
	// The probe knows the voters: it replaces the inventory's count.
	p.Warnings = slices.DeleteFunc(p.Warnings, func(w string) bool { return w == QuorumWarning(len(inv.Members), 0) })
	q, learners := quorumOf(c), 0
	for _, m := range c.Members {
		if m.IsLearner {
			learners++
		}
	}
	if w := QuorumWarning(q.voters, learners); w != "" {
		p.Warnings = append(p.Warnings, w)
	}
	if learners > 0 && pb.Members.Learners != schema.LearnersAllow {
		p.Warnings = append(p.Warnings, fmt.Sprintf("%d learner(s) mid-promotion: a run refuses to start until they are promoted or removed (or the playbook sets members.learners: allow)", learners))
	}
	// The order a run takes if leadership does not move: members to do,
	// leader-last puts the current leader at the end; done members last.
	var order []string
	rest := append([]string(nil), todo...)
	for len(rest) > 0 {
		next := pickNext(pb.Members.Order, rest, c)
		order = append(order, next)
		rest = without(rest, next)
	}
	p.Members = append(order, done...)

	for i := range p.Phases {
		ph := &p.Phases[i]
		switch ph.Phase {
		case string(schema.PhaseMembers):
			byName := map[string]MemberPlan{}
			for _, mp := range ph.Members {
				byName[mp.Member] = mp
			}
			ph.Members = ph.Members[:0]
			for _, n := range p.Members {
				mp := byName[n]
				for _, lm := range live.Members {
					if lm.Name == n {
						mp.Done = lm.Done
					}
				}
				evalGuards(mp.Steps, pb.Members.Steps, steps.FactsFrom(c, n, pb, vars, opts))
				ph.Members = append(ph.Members, mp)
			}
		case string(schema.PhaseRollback):
			// Which member rolls back is known only after a failure.
		case string(schema.PhasePreflight):
			evalGuards(ph.Steps, pb.Preflight, steps.FactsFrom(c, "", pb, vars, opts))
		case string(schema.PhaseFinish):
			evalGuards(ph.Steps, pb.Finish, steps.FactsFrom(c, "", pb, vars, opts))
		}
	}
	return p, nil
}

func evalGuards(plans []StepPlan, list []*schema.Step, f schema.Facts) {
	for i := range plans {
		if i >= len(list) {
			continue
		}
		if w := list[i].When; w != nil {
			ok, err := w.Eval(f)
			switch {
			case err != nil:
				plans[i].Guard = "error as of plan time: " + err.Error()
			case ok:
				plans[i].Guard = GuardTrue
			default:
				plans[i].Guard = GuardFalse
			}
			plans[i].Facts = decidingFacts(w.Source, f)
		}
		if plans[i].Guard != GuardFalse { // a skipped step's check does not matter
			evalCheck(&plans[i], list[i], f)
		}
	}
}

// Check outcomes in a live plan.
const (
	CheckHolds = "holds as of plan time"
)

// evalCheck gives a check step its outcome as of plan time: what the run
// would find if the cluster stays as it is.
func evalCheck(sp *StepPlan, s *schema.Step, f schema.Facts) {
	pc, ok := s.Args.(steps.PlanChecker)
	if !ok {
		return
	}
	v := pc.PlanCheck(f)
	switch {
	case v.Err != nil:
		sp.Check = "error as of plan time: " + v.Err.Error()
	case v.Holds:
		sp.Check = CheckHolds
	case v.Severity == "warn":
		sp.Check = "fails as of plan time: the run would warn: " + v.Message
	default:
		sp.Check = "fails as of plan time: the run would stop here: " + v.Message
	}
	facts := decidingFacts(v.Expr, f)
	if facts == nil {
		facts = map[string]any{}
	}
	maps.Copy(facts, sp.Facts)
	sp.Facts = facts
}

func without(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

var factRefRe = regexp.MustCompile(`\b(cluster|member|vars|playbook)\.([A-Za-z_][A-Za-z0-9_]*)`)

// decidingFacts are the facts a guard's expression names, with their
// values: what a reviewer needs to see why a guard came out as it did.
func decidingFacts(src string, f schema.Facts) map[string]any {
	out := map[string]any{}
	for _, m := range factRefRe.FindAllStringSubmatch(src, -1) {
		key := m[1] + "." + m[2]
		var v any
		var ok bool
		switch m[1] {
		case "vars":
			v, ok = f.Vars[m[2]]
			if !ok {
				v, ok = nil, true
			}
		case "cluster":
			v, ok = exprField(f.Cluster, m[2])
		case "member":
			v, ok = exprField(f.Member, m[2])
		case "playbook":
			v, ok = exprField(f.Playbook, m[2])
		}
		if ok {
			out[key] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// exprField reads the field whose expr tag is name.
func exprField(s any, name string) (any, bool) {
	v := reflect.ValueOf(s)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("expr") == name {
			fv := v.Field(i).Interface()
			if ms, isList := fv.([]schema.MemberFacts); isList {
				// a list of members reads better as name: server
				short := map[string]string{}
				for _, m := range ms {
					short[m.Name] = m.Server
				}
				return short, true
			}
			return fv, true
		}
	}
	return nil, false
}

// ReadPlan reads a plan written by WritePlanJSON.
func ReadPlan(r io.Reader) (*Plan, error) {
	var p Plan
	if err := json.NewDecoder(r).Decode(&p); err != nil {
		return nil, exit.New(exit.Invalid, fmt.Errorf("read plan: %w", err), "write a plan with `etcdplay plan PLAYBOOK -i INV -o json > plan.json`")
	}
	return &p, nil
}

// CheckPlan refuses a saved plan that was not made from exactly these
// files: what was reviewed must be what runs. An offline plan names no
// digests, so it cannot vouch for anything and is refused too.
func CheckPlan(p *Plan, now Digests) error {
	hint := "make the plan again (etcdplay plan PLAYBOOK -i INV -o json > plan.json), review it, then run it"
	if p.Offline || p.Digests == nil {
		return exit.New(exit.Invalid, errors.New("the plan is an offline plan: it records no digests of the files it came from"), hint)
	}
	if p.Digests.Playbook != now.Playbook {
		return exit.New(exit.Invalid, fmt.Errorf("the playbook changed since the plan was made (plan %s, now %s)", p.Digests.Playbook, now.Playbook), hint)
	}
	if p.Digests.Inventory != now.Inventory {
		return exit.New(exit.Invalid, fmt.Errorf("the inventory changed since the plan was made (plan %s, now %s)", p.Digests.Inventory, now.Inventory), hint)
	}
	return nil
}

// onTarget is run.isTarget for a plan, which has no run.
func onTarget(pb *schema.Playbook, inv *schema.Inventory, server string) bool {
	if pb.IsPatch() {
		return steps.OnTarget(pb, inv, server)
	}
	return matchMinor(pb.To, server)
}
