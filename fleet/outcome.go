package fleet

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/schema"
)

// FromRun judges one cluster's run (or resume) by the runner's result and
// error. A lock held by another run is a skip, not a failure: that run is
// doing this cluster's work.
func FromRun(res *runner.Result, err error) Outcome {
	o := Outcome{Status: Succeeded, Code: exit.Code(err)}
	if res != nil {
		o.RunID, o.Report, o.Resume, o.Rollback, o.Members = res.RunID, res.Report, res.Resume, res.Rollback, res.Members
	}
	switch {
	case errors.Is(err, runner.ErrNothingToResume):
		o.Status, o.Code, o.Reason = Skipped, 0, fmt.Sprintf("run %s finished: nothing to resume", o.RunID)
	case err == nil:
		if why, ok := nothingUpgraded(o.Members); ok {
			o.Status, o.Reason = Skipped, why
		}
	case o.Code == exit.Locked || (res != nil && res.Outcome == runner.OutcomeLocked):
		// the holder, not the single run's advice (wait, --break-lock)
		why, _, _ := strings.Cut(firstLine(err), "; ")
		o.Status, o.Code, o.Reason = Skipped, 0, why
	case o.Code == exit.Interrupted || (res != nil && res.Outcome == runner.OutcomeInterrupted):
		o.Status, o.Reason = Interrupted, firstLine(err)
	default:
		o.Status, o.Reason = Failed, firstLine(err)
	}
	return o
}

// nothingUpgraded says a run that succeeded found every member already on
// the target: another run (a second operator's) upgraded the cluster
// between the fleet's first look and this run's start. That reads as a
// skip, so the fleet's summary credits the upgrade to the run that made it.
func nothingUpgraded(ms []runner.MemberResult) (string, bool) {
	if len(ms) == 0 {
		return "", false
	}
	for _, m := range ms {
		if !strings.HasPrefix(m.State, "already on ") {
			return "", false
		}
	}
	return "every member was already on the target when this run reached it: nothing to upgrade", true
}

// Failure is the outcome of a cluster whose run never began (an inventory
// that cannot be opened, a probe that failed).
func Failure(err error) Outcome {
	return Outcome{Status: Failed, Code: exit.Code(err), Reason: firstLine(err)}
}

// OnTarget says whether a cluster needs nothing from a playbook that goes
// to `to`: every member answers with a server on that minor, and so does
// the cluster version (so the playbook's finish phase has nothing left to
// wait for). The reason reads "already on 3.6 (servers 3.6.5)".
func OnTarget(c *etcdprobe.Cluster, to schema.Minor) (string, bool) {
	p, err := schema.ParsePattern(to.String())
	if c == nil || err != nil || len(c.Members) == 0 || !p.Match(c.Version) {
		return "", false
	}
	var servers []string
	for _, m := range c.Members {
		if !m.Reachable || !p.Match(m.Server) {
			return "", false
		}
		if !slices.Contains(servers, m.Server) {
			servers = append(servers, m.Server)
		}
	}
	return fmt.Sprintf("already on %s (servers %s)", to, strings.Join(servers, ", ")), true
}

func firstLine(err error) string {
	if err == nil {
		return ""
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	return first
}
