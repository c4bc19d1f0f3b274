package runner

import (
	"context"
	"fmt"
	"sync"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// A pass is one member going through a step list between the two safety
// gates. An upgrade and a rollback are the same loop (runMember) over
// different steps: members.steps ending on the playbook's `to`, or the
// rollback steps ending on its `from` (postGate picks the version by
// mode).
type pass struct {
	phase schema.Phase
	steps []*schema.Step
	// prefix starts every state the loop leaves the member in ("rollback "
	// makes "rollback failed at step 2 (swap)").
	prefix string
	// offset is how many steps of the phase come before steps (a
	// downgrade's rollback runs its leading cluster steps once, apart), so
	// step numbers stay those of the playbook.
	offset int
	// running is the member's state while the pass runs; done is its state
	// after, and doneMsg the member-done message ("" is done).
	running, done, doneMsg string
	// backupGate: no critical step after the pass's last backup step runs
	// before the run holds a verified backup (backupgate.go). An upgrade
	// has it; a rollback repairs a member the run already changed.
	backupGate bool
}

func (r *run) upgradePass() pass {
	done := "upgraded"
	if r.pb.IsDowngrade() {
		done = "downgraded"
	}
	return pass{phase: schema.PhaseMembers, steps: r.pb.Members.Steps, running: "in progress", done: done, backupGate: true}
}

func (r *run) rollbackPass() pass {
	return pass{phase: schema.PhaseRollback, steps: r.pb.Rollback, prefix: "rollback ",
		running: "rolling back", done: "rolled back", doneMsg: "rolled back to " + r.pb.From.String()}
}

// runMember runs p for one member between the gates: before its first
// critical step every other member must be healthy (the stop gate, and
// the lock's stream leaves the member) and, for an upgrade, the run must
// hold a verified backup; after its steps it must be
// healthy, caught up and on the expected version (the post gate) before
// anything else is touched. A failure or a Ctrl-C stops it where it is and
// leaves the member's state saying so.
func (r *run) runMember(ctx context.Context, name string, p pass) error {
	cfg := r.inv.Resolve(r.inv.Member(name))
	state := func(format string, a ...any) { r.members[name].State = p.prefix + fmt.Sprintf(format, a...) }
	r.members[name].State = p.running
	r.ahead = &steps.Ahead{} // nothing read before another member's stop
	defer func() { r.ahead = nil }()
	gated := false
	// A member no critical step has touched runs its old binary as it
	// did: whatever stops the pass before its first stop, it is not the
	// member to roll back (a Ctrl-C during move-leader must not offer
	// `rollback --member` of a member never stopped).
	defer func() {
		if !gated && r.failedMember == name && p.phase == schema.PhaseMembers {
			r.failedMember = ""
		}
	}()
	// The backup gate stands before the first critical step after the
	// pass's last backup step: before the stop, or, in a playbook that
	// backs up the stopped member (the 2.x guides), before the swap.
	backupAt := -1
	for i, s := range p.steps {
		if s.Action == "backup" {
			backupAt = i
		}
	}
	for i, s := range p.steps {
		if ctx.Err() != nil {
			state("interrupted before step %d (%s)", p.offset+i+1, s.Action)
			if i == 0 && p.phase == schema.PhaseMembers {
				// Interrupted between members: this one was never
				// touched, so it is not the one to roll back.
				r.members[name].State = "untouched"
			}
			return ctx.Err()
		}
		// From its first step on, this is the member a failure leaves
		// mid-way: the one the summary offers to roll back.
		r.failedMember = name
		if p.backupGate && isCritical(s) && i > backupAt {
			if err := r.backupGate(ctx); err != nil {
				state("refused at step %d (%s)", p.offset+i+1, s.Action)
				if !gated {
					r.members[name].State = "untouched"
					r.failedMember = "" // nothing to roll back
				}
				return err
			}
		}
		if isCritical(s) && !gated {
			if err := r.stopGateAndPrefetch(ctx, name, p, &cfg, i); err != nil {
				state("refused at step %d (%s)", p.offset+i+1, s.Action)
				return err
			}
			gated = true
		}
		if err := r.step(ctx, p.phase, &cfg, s, p.offset+i+1, p.offset+len(p.steps)); err != nil {
			if isInterrupted(ctx, err) {
				state("interrupted at step %d (%s)", p.offset+i+1, s.Action)
			} else {
				state("failed at step %d (%s)", p.offset+i+1, s.Action)
			}
			return err
		}
		if ctx.Err() != nil { // a critical step finished after Ctrl-C
			state("interrupted after step %d (%s)", p.offset+i+1, s.Action)
			return ctx.Err()
		}
	}
	if err := r.postGate(ctx, name); err != nil {
		state("failed the post-member gate")
		if isInterrupted(ctx, err) {
			state("interrupted in the post-member gate")
		}
		return err
	}
	if r.quorumLostBy == name {
		r.quorumLostBy = "" // it is back: quorum is too
	}
	if gated {
		r.rejoinAndProbe(ctx, p.phase, name)
		// It restarted: what it runs with now is what later guards read,
		// read when one first asks (facts), not between members: a
		// playbook whose later steps read no facts pays nothing for it
		// (docs/performance.md).
		r.staleOptions = append(r.staleOptions, name)
	}
	if err := r.memberDone(p.phase, name, p.done, p.doneMsg); err != nil {
		return err
	}
	r.failedMember = ""
	return nil
}

// stopGateAndPrefetch runs the stop gate and, side by side with it, what
// only reads or moves etcdplay's own streams (docs/performance.md): the
// lock's keep-alive leaves the member (leave), and every step from the
// first critical one on that reads ahead (steps.Prefetcher; swap: the
// host's facts and the binaries' versions) does, so that the member's
// downtime holds only what must happen while it is down. When the gate
// refuses, the run ends there: the keep-alive off a member that stays up
// costs nothing, and what was read ahead is dropped with the pass.
func (r *run) stopGateAndPrefetch(ctx context.Context, name string, p pass, cfg *schema.MemberConfig, from int) error {
	var wg sync.WaitGroup
	for j := from; j < len(p.steps); j++ {
		pf, ok := p.steps[j].Args.(steps.Prefetcher)
		if !ok {
			continue
		}
		env := r.env(p.phase, cfg, p.offset+j+1)
		wg.Go(func() { pf.Prefetch(ctx, env) })
	}
	var left func()
	wg.Go(func() { left = r.leave(ctx, p.phase, name) })
	err := r.stopGate(ctx, name)
	wg.Wait()
	left()
	return err
}

// rejoinAndProbe puts the lock's keep-alive back on every member and,
// beside it, probes the cluster for the member loop's next decision
// (boundaryProbe), so the two round trips cost one. A failed probe is
// left for the loop to make again and report.
func (r *run) rejoinAndProbe(ctx context.Context, ph schema.Phase, name string) {
	var c *steps.ClusterStatus
	var wg sync.WaitGroup
	wg.Go(func() { c, _ = r.o.Cluster.Cluster(ctx) })
	back := r.rejoin(ctx, ph, name)
	wg.Wait()
	back()
	r.boundary = c
}
