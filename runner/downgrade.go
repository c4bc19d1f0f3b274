package runner

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
)

// rollbackDowngrade is what a rollback means for a downgrade playbook
// (docs/downgrades.md): the guide's "cancel the downgrade, then restart
// the downgraded members on the newer binary". It differs from an
// upgrade's rollback in two ways. Going back is always allowed by etcd:
// a newer binary joins a cluster whose version is lower, so there is no
// "still mixed" condition to check. And it is for the whole cluster: until
// every member runs `from` again the cluster version stays at `to` (and
// stays there, even with every member on `from`, until the downgrade is
// cancelled), so every member found off `from` goes back, the one the
// journal names first, then leader-last, each under the same gates as a
// run. The playbook's leading rollback steps that act on the cluster (the
// `downgrade: {action: cancel}`) run once, before any member; the rest
// run per member. It ends once the cluster version is `from` again.
func (r *run) rollbackDowngrade(ctx context.Context) error {
	lead, per := splitRollback(r.pb.Rollback)
	total := len(r.pb.Rollback)
	if len(lead) > 0 {
		r.emit(events.Event{Kind: events.PhaseStart, Phase: schema.PhaseRollback, Steps: len(lead),
			Message: fmt.Sprintf("cancelling the downgrade to %s before any member goes back to %s", r.pb.To, r.pb.From)})
	}
	for i, s := range lead {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := r.step(ctx, schema.PhaseRollback, nil, s, i+1, total); err != nil {
			return err
		}
	}
	p := r.rollbackPass()
	p.steps, p.offset = per, len(lead)
	done := map[string]bool{}
	r.boundary = nil
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c, err := r.boundaryProbe(ctx)
		if err != nil {
			return err
		}
		var back []string
		for _, n := range r.names {
			m := c.MemberByName(n)
			if done[n] || (m != nil && m.Reachable && m.Healthy && matchMinor(r.pb.From, m.Server)) {
				continue
			}
			back = append(back, n)
		}
		if len(back) == 0 {
			break
		}
		next := pickNext(schema.OrderLeaderLast, back, c)
		if slices.Contains(back, r.rollbackMember) {
			next = r.rollbackMember
		}
		r.failedMember = next
		r.emit(events.Event{Kind: events.MemberStart, Phase: schema.PhaseRollback, Member: next, Steps: len(per),
			Message: fmt.Sprintf("putting %s back on %s (%s; cluster version %s)", next, r.pb.From,
				cmp.Or(memberServer(c, next), "down"), cmp.Or(c.Version, "-"))})
		if err := r.runMember(ctx, next, p); err != nil {
			return err
		}
		done[next] = true
	}
	return r.awaitClusterVersion(ctx, r.pb.From)
}

// splitRollback parts a rollback list into its leading steps that act on
// the cluster (neither member-scoped nor critical: a downgrade cancel)
// and the rest, which run for each member.
func splitRollback(list []*schema.Step) (lead, per []*schema.Step) {
	i := 0
	for ; i < len(list); i++ {
		s := list[i]
		if ms, ok := s.Args.(schema.MemberScoped); ok && ms.NeedsMember() {
			break
		}
		if isCritical(s) {
			break
		}
	}
	return list[:i], list[i:]
}

// awaitClusterVersion waits, within the gate timeout, until the cluster
// version is on want: once every member runs it again and no downgrade is
// enabled, the leader raises it by itself.
func (r *run) awaitClusterVersion(ctx context.Context, want schema.Minor) error {
	start := r.o.now()
	gctx, cancel := context.WithTimeout(ctx, r.o.gateTimeout())
	defer cancel()
	var seen string
	for {
		c, err := r.o.Cluster.Cluster(gctx)
		switch {
		case err != nil:
			seen = err.Error()
		case matchMinor(want, c.Version):
			r.emit(events.Event{Kind: events.Gate, Phase: schema.PhaseRollback,
				Message:  fmt.Sprintf("safety gate: cluster version back on %s", c.Version),
				Duration: r.o.now().Sub(start), Spent: events.SpentCheck})
			return nil
		default:
			seen = "cluster version " + cmp.Or(c.Version, "-")
		}
		t := time.NewTimer(r.o.poll())
		select {
		case <-gctx.Done():
			t.Stop()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return r.gateFailed(&GateError{Gate: "after the rollback", Observed: seen + " after " + r.o.gateTimeout().String(),
				Expected: fmt.Sprintf("cluster version %s once every member runs it and the downgrade is cancelled (etcdctl downgrade cancel)", want)})
		case <-t.C:
		}
	}
}
