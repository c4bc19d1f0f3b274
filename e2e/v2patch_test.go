//go:build e2e

package e2e

import (
	"testing"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/testbed"
)

// v20Keys is what the 2.0 patch test writes first: 2.0.0 commits about
// one v2 write every 20 ms, so a few hundred keys keep the test well
// under a minute while a lost or damaged key still shows.
const v20Keys = 300

// TestPatch_2_0 patch-upgrades a 2.0.0 cluster, below the 2.0.3 floor
// the 2.1 guide asks for, to the bed's newest 2.0 release in the rolling
// way of that guide: each member stopped, backed up with etcdctl backup,
// given 2.0.8 and started, leader last, with the writer running. The
// cluster stays 2.0, every member ends on exactly 2.0.8, every key is
// there, and the finish proves the 2.0.3 floor of 2.0-to-2.1 is met.
func TestPatch_2_0(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	target := release(t, "2.0")
	c := startBed(ctx, t, "2.0-below-floor", v20Keys)
	o := newOperator(t, c)

	t.Logf("a writer puts a v2 key every %v through all endpoints while the playbook runs", testbed.WriterInterval)
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)
	res := o.etcdplay(ctx, "run", "2.0-patch")
	st := w.Stop()
	res.want(t, exitOK)

	rep := o.report()
	if rep.Result != "succeeded" {
		t.Errorf("report says %s", rep.Result)
	}
	for _, m := range rep.Members {
		if m.State != "upgraded" || m.VersionBefore != c.Version || m.VersionAfter != target {
			t.Errorf("report: %s %s, %s -> %s; want upgraded from %s to %s", m.Name, m.State, m.VersionBefore, m.VersionAfter, c.Version, target)
		}
	}
	finished := 0
	for _, e := range res.steps(events.StepDone, "", "assert-version") {
		if e.Phase == schema.PhaseFinish {
			finished++
		}
	}
	if got := finished; got != 2 {
		t.Errorf("%d finish version checks passed, want both (the cluster stayed 2.0; every member at 2.0.3 or newer)", got)
	}
	if got := len(res.steps(events.StepDone, "", "ssh-stop")); got != len(c.Hosts) {
		t.Errorf("%d members stopped, want each of the %d once", got, len(c.Hosts))
	}
	// 2.0's /version has no cluster version: the server version is the
	// whole answer.
	requireVersions(ctx, t, c, target, "")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	o.requireV2Backups(ctx)
	printSummary(t, "2.0-patch", rep, st, c.Keys())
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res))

}
