package runner

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// GateError is a safety gate of docs/safety.md refusing to go on, whatever the
// playbook says: which gate, about which member, what was observed and
// what was expected.
type GateError struct {
	Gate     string // "preflight", "before stopping", "after upgrading"
	Member   string // the member the gate protects or checks; "" for the cluster
	Observed string
	Expected string
}

func (e *GateError) Error() string {
	who := "cluster"
	if e.Member != "" {
		who = "member " + e.Member
	}
	return fmt.Sprintf("%s, safety gate %s: observed %s; expected %s", who, e.Gate, e.Observed, e.Expected)
}

// preflightGate is the runner's own check before anything runs: every
// member reachable and healthy, a leader, and every server on the
// playbook's `from` minor or already on `to`. On resume the member that was
// mid-upgrade may be down or between versions.
func (r *run) preflightGate(c *steps.ClusterStatus) error {
	var bad, versions []string
	for _, n := range r.names {
		m := c.MemberByName(n)
		if r.tolerate[n] && (m == nil || !m.Reachable || !m.Healthy) {
			continue
		}
		switch {
		case m == nil:
			bad = append(bad, n+" is not in the cluster's member list")
		case m.Unhealthy() != "":
			bad = append(bad, n+" "+m.Unhealthy())
		}
		if m != nil && m.Reachable && !r.isSource(m.Server) && !r.isTarget(m.Server) {
			versions = append(versions, fmt.Sprintf("%s runs %s", n, cmp.Or(m.Server, "-")))
		}
	}
	var strangers []string
	for _, m := range c.Members {
		if m.Endpoint == "" {
			strangers = append(strangers, fmt.Sprintf("%s (id %s)", cmp.Or(m.Name, "-"), m.ID))
		}
	}
	if len(strangers) > 0 {
		return refused(&GateError{Gate: "preflight", Observed: "the cluster has members the inventory does not list: " + strings.Join(strangers, ", "),
			Expected: "every member of the cluster in the inventory, so that every one is upgraded and counted for quorum"},
			"add them to the inventory (name, host, client)")
	}
	if len(versions) > 0 {
		return refused(&GateError{Gate: "preflight", Observed: strings.Join(versions, ", "),
			Expected: r.sourceExpected()},
			r.sourceHint())
	}
	if len(bad) > 0 {
		return refused(&GateError{Gate: "preflight", Observed: strings.Join(bad, ", "),
			Expected: "every member reachable and healthy before the upgrade starts"},
			"`etcdplay status -i INV` shows every member; bring them back before upgrading")
	}
	if c.Leader == "" {
		return refused(&GateError{Gate: "preflight", Observed: "no leader", Expected: "a leader (the cluster has quorum)"}, "")
	}
	if err := r.learnerGate(c); err != nil {
		return err
	}
	if q := quorumOf(c); !q.canSpareOne() && !r.o.AllowQuorumLoss {
		return refused(&GateError{Gate: "preflight", Observed: q.String() + ": stopping any voter loses quorum, and writes stop until it is back",
			Expected: "at least 3 voters, so that one can stop while the others keep quorum"},
			"to upgrade anyway, accepting that the cluster takes no writes while each member is stopped, run again with --allow-quorum-loss")
	}
	return nil
}

// learnerGate refuses a cluster with a learner unless the playbook says
// members.learners: allow. A learner is a member being added: etcd
// promotes it only once it has caught up, and a rolling restart on top of
// that is a second membership-affecting change at once.
func (r *run) learnerGate(c *steps.ClusterStatus) error {
	var learners []string
	for _, m := range c.Members {
		if m.IsLearner {
			learners = append(learners, m.Name)
		}
	}
	if len(learners) == 0 || r.pb.Members.Learners == schema.LearnersAllow {
		return nil
	}
	return refused(&GateError{Gate: "preflight", Observed: "learner(s) mid-promotion: " + strings.Join(learners, ", "),
		Expected: "no learner (a learner is a member still being added; it does not count for quorum)"},
		"promote it (etcdctl member promote ID) or remove it first, or set members.learners: allow in the playbook to upgrade it like any member")
}

// quorum is the voting side of one probe: learners never vote, so they
// are never counted.
type quorum struct {
	voters  int
	healthy int // voters reachable and healthy
}

func quorumOf(c *steps.ClusterStatus) quorum {
	var q quorum
	for _, m := range c.Members {
		if m.IsLearner {
			continue
		}
		q.voters++
		if m.Reachable && m.Healthy {
			q.healthy++
		}
	}
	return q
}

// need is the number of voters that make a quorum.
func (q quorum) need() int { return q.voters/2 + 1 }

// canSpareOne: with every voter healthy, one may stop and the rest still
// hold quorum.
func (q quorum) canSpareOne() bool { return q.voters-1 >= q.need() }

func (q quorum) String() string {
	return fmt.Sprintf("%d voter(s), quorum %d", q.voters, q.need())
}

// stopGate is invariant 1 of docs/safety.md, checked from a fresh probe right before the
// member's first critical step: every other voter healthy, and the healthy
// voters left once this member stops still a quorum. Learners are not
// voters: they neither count towards quorum nor stand in for a voter. A
// learner may always stop (it never holds quorum). Without
// --allow-quorum-loss a stop that costs quorum is refused.
func (r *run) stopGate(ctx context.Context, name string) error {
	start := r.o.now()
	c, err := r.probe(ctx)
	if err != nil {
		return err
	}
	self := c.MemberByName(name)
	var bad []string
	voters, left := 0, 0
	for i := range c.Members {
		m := &c.Members[i]
		if m.IsLearner {
			continue
		}
		voters++
		if m == self {
			continue
		}
		if why := m.Unhealthy(); why != "" {
			bad = append(bad, m.Name+" "+why)
		} else {
			left++
		}
	}
	for _, n := range r.names {
		if c.MemberByName(n) == nil {
			bad = append(bad, n+" missing from the member list")
		}
	}
	if self != nil && self.IsLearner {
		r.emit(events.Event{Kind: events.Gate, Phase: r.memberPhase(), Member: name,
			Message: fmt.Sprintf("safety gate: %s is a learner (not a voter), stopping it cannot cost quorum", name)})
		return nil
	}
	if len(bad) > 0 {
		return r.gateFailed(&GateError{Gate: "before stopping " + name, Member: name,
			Observed: strings.Join(bad, ", "), Expected: "every other voter healthy, so that stopping " + name + " does not cost quorum"})
	}
	if quorum := voters/2 + 1; left < quorum {
		msg := fmt.Sprintf("with %s stopped, %d of %d voters are left and quorum is %d: writes stop until it is back", name, left, voters, quorum)
		if !r.o.AllowQuorumLoss {
			return r.gateFailed(&GateError{Gate: "before stopping " + name, Member: name, Observed: msg,
				Expected: "the voters left after the stop hold quorum (or --allow-quorum-loss)"})
		}
		r.emit(events.Event{Kind: events.Warn, Phase: r.memberPhase(), Member: name, Message: msg + " (allowed by --allow-quorum-loss)"})
		r.quorumLostBy = name
		return nil
	}
	r.emit(events.Event{Kind: events.Gate, Phase: r.memberPhase(), Member: name,
		Message:  fmt.Sprintf("safety gate: the %d other voters are healthy (quorum %d of %d), %s may stop", left, voters/2+1, voters, name),
		Duration: r.o.now().Sub(start), Spent: events.SpentCheck})
	return nil
}

// postGate is invariant 2 of docs/safety.md, independent of the playbook: the member is
// healthy, on the target version, and caught up to the leader's commit
// index sampled once the member is back, within GateTimeout.
func (r *run) postGate(ctx context.Context, name string) error {
	want, onWant := r.targetName(), r.isTarget
	if r.mode == modeRollback {
		want, onWant = r.pb.From.String(), r.isSource
	}
	start := r.o.now()
	gctx, cancel := context.WithTimeout(ctx, r.o.gateTimeout())
	defer cancel()
	var target uint64
	var observed string
	for {
		m, err := r.o.Cluster.Member(gctx, name)
		switch {
		case err != nil:
			observed = err.Error()
		case !m.Reachable:
			observed = m.Unhealthy()
		case !m.Healthy:
			observed = "server " + cmp.Or(m.Server, "-") + ", " + m.Unhealthy()
		case !onWant(m.Server):
			observed = fmt.Sprintf("server %s, healthy", cmp.Or(m.Server, "-"))
		case target == 0:
			// Sample the leader's commit index once the member is back,
			// then read the member again at once.
			_, idx, lerr := r.o.Cluster.LeaderCommitted(gctx)
			if lerr == nil && idx > 0 {
				target = idx
				continue
			}
			observed = "leader's commit index unknown"
			if lerr != nil {
				observed += ": " + lerr.Error()
			}
		default:
			if target > 0 {
				if m.RaftAppliedIndex >= target {
					r.emit(events.Event{Kind: events.Gate, Phase: r.memberPhase(), Member: name,
						Message:  fmt.Sprintf("safety gate: healthy, on %s, applied index %d >= leader's %d", m.Server, m.RaftAppliedIndex, target),
						Fields:   map[string]any{"server": m.Server},
						Duration: r.o.now().Sub(start), Spent: events.SpentCatchUp})
					return nil
				}
				observed = fmt.Sprintf("server %s, healthy, applied index %d (leader committed %d)", m.Server, m.RaftAppliedIndex, target)
			}
		}
		t := time.NewTimer(r.o.poll())
		select {
		case <-gctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			expected := fmt.Sprintf("healthy, server on %s, applied index caught up with the leader", want)
			if target > 0 {
				expected = fmt.Sprintf("healthy, server on %s, applied index >= %d", want, target)
			}
			return r.gateFailed(&GateError{Gate: "after " + map[bool]string{true: "rolling back", false: "upgrading"}[r.mode == modeRollback] + " " + name,
				Member: name, Observed: observed + " after " + r.o.gateTimeout().String(), Expected: expected})
		case <-t.C:
		}
	}
}

// gateFailed journals and emits a gate's refusal as a failed step of the
// member's phase, in one transition.
func (r *run) gateFailed(g *GateError) error {
	jerr := r.happen(transition{kind: events.StepFailed, phase: r.memberPhase(), member: g.Member,
		step: &stepRef{action: "safety-gate", name: g.Gate}, message: g.Error()})
	return exit.New(exit.StepFailed, alsoJournal(g, jerr), "")
}

// memberPhase is the phase a member's steps and gates belong to: rollback
// in a rollback, members otherwise.
func (r *run) memberPhase() schema.Phase {
	if r.mode == modeRollback {
		return schema.PhaseRollback
	}
	return schema.PhaseMembers
}

// reconcile is resume's look at reality before anything runs: for each
// member the journal left mid-upgrade, say what the probe finds and what
// happens next. The rule, the same for every member: a member on the
// target version is verified by the post-member gate and never stopped
// again; any other member runs its steps again from the first, under the
// same gates (stopping a stopped member and swapping in the binary already
// in place are no-ops that re-verify).
func (r *run) reconcile(c *steps.ClusterStatus) {
	st := r.journalState
	if st == nil {
		return
	}
	for _, n := range st.Order {
		ms := st.Member(n)
		if ms.Done || (ms.InFlight == nil && ms.Failed == nil && ms.LastStep == 0) {
			continue
		}
		m := c.MemberByName(n)
		var what string
		switch {
		case m != nil && m.Reachable && r.isTarget(m.Server):
			what = fmt.Sprintf("found on %s: upgraded, it is verified and not stopped again", m.Server)
		case m == nil || !m.Reachable:
			what = "found down: its steps run again from the first (the stop is a no-op on a stopped member)"
		default:
			what = fmt.Sprintf("found on %s: its steps run again from the first", m.Server)
		}
		if ms.InFlight != nil {
			what = fmt.Sprintf("step %d (%s) was in flight; %s", ms.InFlight.StepIndex, ms.InFlight.Action, what)
		}
		r.emit(events.Event{Kind: events.Reconcile, Phase: schema.PhaseMembers, Member: n, Message: what})
	}
}

// sourceExpected and sourceHint word the preflight gate's version refusal:
// a patch playbook takes members of its minor up to one exact release and
// never down (a member above the release would be downgraded).
func (r *run) sourceExpected() string {
	if t := steps.PatchTarget(r.pb, r.inv); !t.IsZero() {
		return fmt.Sprintf("every member on %s at or below %s (the inventory's newest %s release)", r.pb.From, t, r.pb.From)
	}
	return fmt.Sprintf("every member on %s (the playbook's from) or already on %s", r.pb.From, r.pb.To)
}

func (r *run) sourceHint() string {
	if r.pb.IsPatch() {
		return "this playbook moves every " + r.pb.From.String() + " member to " + r.targetName() + "; list a newer release in the inventory, or `etcdplay list` for the minor upgrades"
	}
	return "this playbook upgrades " + r.pb.From.String() + " to " + r.pb.To.String() + "; `etcdplay list` shows the playbooks"
}
