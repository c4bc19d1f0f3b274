package steps

import (
	"context"
	"fmt"
	"time"

	"github.com/etcdplay/etcdplay/etcdprobe"
)

// After MoveLeader returns, the new leader leads but the cluster has not
// settled: followers may still name the old leader for a heartbeat, and the
// old leader may hold requests it accepted as leader that are committed but
// not yet applied (a client waits for the apply). Stopping it at that moment
// cost clients a failed write or a stall of a whole request timeout. So the
// hand-off waits, bounded, until
//
//  1. every reachable voter names the new leader,
//  2. the old leader has applied every entry committed when (1) first held,
//  3. and then handoffGrace more, for requests in flight to it to finish.
//
// A cluster that does not settle within handoffBound is still safe to stop
// a member of (quorum was checked); the step says so and goes on.
const (
	handoffBound = 5 * time.Second
	handoffPoll  = 50 * time.Millisecond
	handoffGrace = 200 * time.Millisecond
)

// settleHandoff waits as above; it returns what it observed, for the log.
func settleHandoff(ctx context.Context, env *Env, oldName, newName string) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, handoffBound)
	defer cancel()
	start := time.Now()
	var mark uint64 // the old leader's commit index when the others agreed
	var last string
	err := poll(ctx, handoffPoll, func(ctx context.Context) (bool, error) {
		c, err := env.Cluster.Cluster(ctx)
		if err != nil {
			note(ctx, &last, err.Error())
			return false, nil
		}
		newL := c.MemberByName(newName)
		old := c.MemberByName(oldName)
		if newL == nil || old == nil || !old.Reachable {
			note(ctx, &last, "the old or the new leader does not answer")
			return false, nil
		}
		if who := notFollowing(c, newL.ID); who != "" {
			note(ctx, &last, who+" does not name "+newName+" as leader yet")
			return false, nil
		}
		if mark == 0 {
			mark = old.RaftIndex
		}
		if old.RaftAppliedIndex < mark {
			note(ctx, &last, fmt.Sprintf("%s applied %d of %d", oldName, old.RaftAppliedIndex, mark))
			return false, nil
		}
		note(ctx, &last, fmt.Sprintf("every member follows %s, %s applied %d >= %d", newName, oldName, old.RaftAppliedIndex, mark))
		return true, nil
	})
	if err != nil {
		return fmt.Sprintf("not settled after %s: %s", since(start), last), false
	}
	t := time.NewTimer(handoffGrace)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return last + ", took " + since(start), true
}

// notFollowing names a reachable voter that does not report leader as its
// leader; "" when all do.
func notFollowing(c *etcdprobe.Cluster, leader etcdprobe.ID) string {
	for _, m := range c.Members {
		if m.Reachable && !m.IsLearner && m.LeaderID != leader {
			return m.DisplayName()
		}
	}
	return ""
}
