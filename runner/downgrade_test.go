package runner

import (
	"context"
	"slices"
	"testing"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
)

// fakeDowngrade goes one minor down; its rollback starts with a step on
// the cluster (a downgrade cancel in the shipped playbooks).
const fakeDowngrade = `playbook: fake 3.5 to 3.4
from: "3.5"
to: "3.4"
preflight:
  - backup: {}
members:
  steps:
    - stop: {}
    - swap: {to: "3.4"}
    - start: {}
rollback:
  - name: cancel
    noop: {}
  - stop: {}
  - swap: {to: "3.5"}
  - start: {}
`

// TestRollbackOfADowngradePutsEveryMemberBack: half-way through a
// downgrade (two members on 3.4, the cluster version already 3.4), a
// rollback naming no member runs the leading cluster step once, puts both
// downgraded members back on 3.5 (the leader last) and leaves the member
// never downgraded alone; it ends with the cluster version back on 3.5.
func TestRollbackOfADowngradePutsEveryMemberBack(t *testing.T) {
	fc := newFakeCluster("3.5.1", "infra0", "infra1", "infra2")
	for _, n := range []string{"infra0", "infra2"} {
		m := fc.m(n)
		m.version, m.binary = "3.4.1", "3.4.1"
	}
	h := newHarness(t, fakeDowngrade, fc)
	res, err := Rollback(context.Background(), h.o, "")
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if res.Outcome != OutcomeSucceeded {
		t.Errorf("outcome %s", res.Outcome)
	}
	var cancels int
	for _, e := range h.rec.Events() {
		if e.Kind == events.StepDone && e.Action == "noop" {
			cancels++
			if e.Member != "" || e.Phase != schema.PhaseRollback || e.StepIndex != 1 {
				t.Errorf("the cancel ran as %s step %d for %q; want rollback step 1 for the cluster", e.Phase, e.StepIndex, e.Member)
			}
		}
		if e.Kind == events.StepDone && e.Action == "stop" && e.StepIndex != 2 {
			t.Errorf("stop numbered %d; want 2, its place in the playbook", e.StepIndex)
		}
	}
	if cancels != 1 {
		t.Errorf("cancel ran %d times; want once", cancels)
	}
	// infra0 led: it goes back last.
	if got := fc.stopped(); !slices.Equal(got, []string{"infra2", "infra0"}) {
		t.Errorf("stopped %v; want infra2 then infra0 (the leader last), infra1 untouched", got)
	}
	if v := fc.clusterVersion(); v != "3.5.0" {
		t.Errorf("cluster version %s after the rollback; want 3.5.0", v)
	}
	for n, v := range fc.versions() {
		if v != "3.5.1" {
			t.Errorf("%s runs %s; want 3.5.1", n, v)
		}
	}
}
