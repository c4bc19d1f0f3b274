package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// Rollback puts one member back on the old binary with the playbook's
// rollback steps, while the cluster version is still the old one. member
// "" means the member the journal's last run failed (or was interrupted)
// on. Once the cluster version has moved to `to`, every member speaks the
// new version and an old binary refuses to start: Rollback refuses (exit
// 5) and names the ways back that remain. It runs under the same lock,
// journal (the same run id, so a later resume sees the member rolled back)
// and gates as a run: every other member healthy before the member is
// stopped, the member healthy, caught up and on `from` after.
func Rollback(ctx context.Context, o Options, member string) (*Result, error) {
	var st *journal.State
	if recs, _, err := journal.Read(o.StateDir); err == nil {
		st = journal.Reconcile(recs)
	}
	if member == "" {
		member = failedMember(st)
		// A downgrade's rollback puts back every member, whichever failed.
		if member == "" && !o.Playbook.IsDowngrade() {
			return nil, exit.New(exit.Usage, errors.New("rollback: the journal names no failed member"), "name one with --member NAME")
		}
	}
	if member != "" && o.Inventory.Member(member) == nil {
		return nil, exit.New(exit.Usage, fmt.Errorf("rollback: %s is not a member of the inventory", member), "")
	}
	if len(o.Playbook.Rollback) == 0 {
		return nil, exit.New(exit.Refused, fmt.Errorf("rollback: playbook %s has no rollback steps", o.Playbook.Name), "")
	}
	if st != nil && o.RunID == "" {
		o.RunID = st.RunID
		if st.Hop > 0 && o.route == nil {
			// The member is put back within the route's hop it stopped
			// in, so resume (which folds that hop) sees it rolled back.
			o.route = &routeRun{hop: st.Hop}
		}
	}
	r, err := newRun(o, modeRollback)
	if err != nil {
		return nil, err
	}
	r.rollbackMember = member
	r.journalState = st
	return r.execute(ctx)
}

// failedMember is the member the journal's run stopped on.
func failedMember(st *journal.State) string {
	if st == nil {
		return ""
	}
	for _, n := range st.Order {
		ms := st.Member(n)
		if !ms.Done && !ms.RolledBack && (ms.Failed != nil || ms.InFlight != nil || ms.LastStep > 0) {
			return n
		}
	}
	return ""
}

func (r *run) rollbackBody(ctx context.Context) error {
	name := r.rollbackMember
	c, err := r.probe(ctx)
	if err != nil {
		return err
	}
	for _, n := range r.names {
		if m := c.MemberByName(n); m != nil {
			r.members[n].Before = m.Server
		}
	}
	if r.pb.IsDowngrade() {
		return r.rollbackDowngrade(ctx)
	}
	if !r.pb.IsPatch() && matchMinor(r.pb.To, c.Version) {
		return refused(fmt.Errorf("cluster version is %s: every member already speaks %s and a %s binary will refuse to start", c.Version, r.pb.To, r.pb.From),
			r.waysBack())
	}
	if err := r.clusterStillOld(c); err != nil {
		return err
	}
	if m := c.MemberByName(name); m != nil && m.Reachable && m.Healthy && r.isSource(m.Server) {
		msg := fmt.Sprintf("already on %s and healthy: nothing to roll back", m.Server)
		return r.memberDone(schema.PhaseRollback, name, msg, "")
	}
	r.failedMember = name
	r.emit(events.Event{Kind: events.MemberStart, Phase: schema.PhaseRollback, Member: name, Steps: len(r.pb.Rollback),
		Message: fmt.Sprintf("rolling %s back to %s (cluster version %s)", name, r.pb.From, cmp.Or(c.Version, "-"))})
	return r.runMember(ctx, name, r.rollbackPass())
}

// clusterStillOld fails closed when the cluster version cannot be read:
// the rollback goes on only if a reachable member still runs the `from`
// minor, which proves the cluster version has not moved to `to` (it moves
// only once every member runs `to`). Without that proof an old binary
// might refuse to start and leave the member down (docs/safety.md).
func (r *run) clusterStillOld(c *steps.ClusterStatus) error {
	if _, err := schema.ParseVersion(c.Version); err == nil {
		return nil
	}
	for _, m := range c.Members {
		if m.Reachable && matchMinor(r.pb.From, m.Server) {
			return nil
		}
	}
	return refused(fmt.Errorf("the cluster version cannot be read and no reachable member runs %s, so nothing proves a %s binary would be let back in", r.pb.From, r.pb.From),
		"`etcdplay status -i INV` shows each member's version; "+r.waysBack())
}

// waysBack explains what remains once the cluster version moved.
func (r *run) waysBack() string {
	msg := "ways back: restore the snapshot taken before the upgrade (etcdutl snapshot restore, then restart every member on " + r.pb.From.String() + ")"
	if n := len(r.backups); n > 0 {
		msg = "ways back: restore the snapshot in " + r.backups[n-1].File + " (etcdutl snapshot restore, then restart every member on " + r.pb.From.String() + ")"
	}
	if r.pb.To.Major > 3 || (r.pb.To.Major == 3 && r.pb.To.Minor >= 6) {
		msg += ", or use the downgrade API (etcdctl downgrade validate " + r.pb.From.String() + ", then etcdctl downgrade enable " + r.pb.From.String() + ")"
	} else {
		msg += "; the downgrade API exists only from 3.6 on"
	}
	return msg
}
