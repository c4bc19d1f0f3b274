package runner

import (
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// spentOn says what a step's time counts as in the report: etcd's own work,
// waiting for the cluster, moving bytes, or the checks the playbook asks
// for. An action not named here counts as the runner's own time, which errs
// towards overstating overhead; TestEveryActionIsClassified keeps every
// action of steps.Kinds named.
func spentOn(s *schema.Step) events.Spent {
	switch s.Action {
	case "ssh-stop":
		return events.SpentEtcdStop
	case "ssh-start":
		return events.SpentEtcdStart
	case "move-leader":
		return events.SpentLeader
	case "swap":
		return events.SpentSwap
	case "backup":
		return events.SpentBackup
	case "confirm":
		return events.SpentHuman
	case "health", "assert-version", "check", "ssh-run", "refuse-options", "check-v2store", "check-v2-wal":
		return events.SpentCheck
	case "downgrade":
		// enable and cancel wait for the cluster to take them.
		return events.SpentCatchUp
	case "wait":
		if w, ok := s.Args.(*steps.Wait); ok && w.For == "" {
			return events.SpentWait
		}
		return events.SpentCatchUp
	}
	return ""
}

// spentPreflight is what the members steps' preflight checks count as:
// staging when a swap stages and verifies the release on the hosts (the
// bulk of their time), checks otherwise.
func spentPreflight(ss []*schema.Step) events.Spent {
	for _, s := range ss {
		if s.Action == "swap" {
			return events.SpentStaging
		}
	}
	return events.SpentCheck
}
