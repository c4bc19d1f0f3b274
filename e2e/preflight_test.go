//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/testbed"
)

// Preflight refusals: the cluster is not in a state the playbook accepts,
// so the run stops before anything changes. Each test proves "nothing
// changed" the hard way: every member still runs the very process it ran
// before (same pid), on the same version, and no member step started.

// requireNothingStopped fails unless the run started no member step, the
// journal holds no ssh-stop, and every running member kept its process.
func requireNothingStopped(t *testing.T, o *operator, res *result, before []int) {
	t.Helper()
	if m := res.membersTouched(); len(m) > 0 {
		t.Errorf("member steps started on %v; want none after a refusal", m)
	}
	// A preflight check of the ssh-stop step may be journalled (phase
	// preflight); an ssh-stop that ran is journalled in phase members.
	for _, line := range strings.Split(o.journalText(), "\n") {
		var e struct{ Kind, Phase, Action, Member string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Phase == string(schema.PhaseMembers) && e.Action == "ssh-stop" {
			t.Errorf("the journal records an ssh-stop of %s (%s)", e.Member, e.Kind)
		}
	}
	var running []int
	for _, p := range before {
		if p != 0 {
			running = append(running, p)
		}
	}
	after := pids(o.c)
	for i, p := range before {
		if p != 0 && after[i] != p {
			t.Errorf("%s: etcd pid %d before, %d after; want the same process", o.c.Hosts[i].Name, p, after[i])
		}
	}
	t.Logf("nothing was stopped: no member step ran, pids %v unchanged", running)
}

// TestPreflight_MemberDown_3_4_to_3_5 is fault (c): one member is already
// down when the operator starts the upgrade. Stopping another would cost
// quorum, so preflight refuses (exit 5) naming the member, and no member
// is stopped.
func TestPreflight_MemberDown_3_4_to_3_5(t *testing.T) {
	t.Parallel()
	scenario(t, "(c) member-down-before-run")
	ctx := testContext(t)
	c := startBed(ctx, t, "3.4", faultKeys)
	o := newOperator(t, c)

	t.Log("host2 is down before the run (a crashed machine nobody noticed)")
	if err := c.StopMember(ctx, 1); err != nil {
		t.Fatal(err)
	}
	before := pids(c)
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)
	res := o.etcdplay(ctx, "run", "3.4-to-3.5")
	st := w.Stop()
	res.want(t, exitPreflight)
	if msg := res.failure(); !strings.Contains(msg, "host2") {
		t.Errorf("refusal %q does not name host2", msg)
	}
	t.Logf("refused: %s", clip(res.failure(), 300))
	requireNothingStopped(t, o, res, before)
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res))

	t.Log("host2 comes back; the cluster is whole and every key is there")
	if err := c.StartMember(ctx, 1); err != nil {
		t.Fatal(err)
	}
	requireVersions(ctx, t, c, release(t, "3.4"), "3.4.0")
	requireKeys(ctx, t, c)
}

// TestPreflight_BelowFloor_3_5_to_3_6 is fault (g): the members run 3.5.21,
// below the 3.5.32 the 3.6 guide requires. Preflight refuses (exit 5) and
// names the patch upgrade to do first; nothing is stopped.
func TestPreflight_BelowFloor_3_5_to_3_6(t *testing.T) {
	t.Parallel()
	scenario(t, "(g) below-from-version-floor")
	belowFloor(t, "3.5-below-floor", "3.5-to-3.6", "3.5.32", "3.5.0", faultKeys)
}

// TestPreflight_BelowFloor_2_0_to_2_1 is fault (g) on the other floor a
// shipped playbook has: the 2.1 guide says 2.0.0 and 2.0.2 may panic during
// a rolling upgrade (fixed in 2.0.3), so a 2.0.0 cluster is refused with
// the patch upgrade to do first, and nothing is stopped.
func TestPreflight_BelowFloor_2_0_to_2_1(t *testing.T) {
	t.Parallel()
	scenario(t, "(g) below-from-version-floor, 2.0")
	// 2.0.0's /version has no cluster version; 2.0 writes slowly and the
	// floor needs no data.
	belowFloor(t, "2.0-below-floor", "2.0-to-2.1", "2.0.3", "", 300)
}

// belowFloor runs playbook on a cluster of version (a role below the
// playbook's patch floor): preflight's assert-version refuses (exit 5)
// naming the floor and the patch upgrade to do first; nothing is stopped,
// every member keeps its version (and the cluster version clusterVersion,
// unless ""), and every key is intact.
func belowFloor(t *testing.T, version, playbook, floor, clusterVersion string, keys int) {
	ctx := testContext(t)
	c := startBed(ctx, t, version, keys)
	o := newOperator(t, c)
	before := pids(c)

	res := o.etcdplay(ctx, "run", playbook)
	res.want(t, exitPreflight)
	out := res.output()
	for _, want := range []string{floor, "patch-upgrade", c.Version} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not mention %q:\n%s", want, lastLines(out, 20))
		}
	}
	t.Logf("refused: %s", clip(res.failure(), 400))
	if fails := res.steps(events.StepFailed, "", "assert-version"); len(fails) == 0 || fails[0].Phase != schema.PhasePreflight {
		t.Errorf("want the preflight assert-version step to fail, got %+v", fails)
	}
	requireNothingStopped(t, o, res, before)
	requireVersions(ctx, t, c, c.Version, clusterVersion)
	requireKeys(ctx, t, c)
}

// TestPreflight_SkippedMinorBinary_3_4_to_3_5 is fault (h): the inventory's
// 3.5 release is really a 3.6 binary. On this bed a 3.6 member joining a
// 3.4 cluster crashed both 3.4 peers and lost quorum
// (docs/etcd-behaviour.md "Skipping a minor"), so the binary must be refused while every member still runs: preflight runs
// the release's --version on each host and refuses (exit 5).
func TestPreflight_SkippedMinorBinary_3_4_to_3_5(t *testing.T) {
	t.Parallel()
	scenario(t, "(h) wrong-target-binary")
	ctx := testContext(t)
	c := startBed(ctx, t, "3.4", faultKeys)
	o := newOperator(t, c)
	v35, v36 := release(t, "3.5"), release(t, "3.6")
	o.inventory = o.editInventory("inventory-3.6-as-3.5.yaml", func(inv map[string]any) {
		setRelease(inv, v35, testbed.BinDir(v36)+"/etcd")
	})
	t.Logf("the inventory says release %s is %s/etcd: a %s binary", v35, testbed.BinDir(v36), v36)
	before := pids(c)
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)

	res := o.etcdplay(ctx, "run", "3.4-to-3.5")
	st := w.Stop()
	res.want(t, exitPreflight)
	out := res.output()
	for _, want := range []string{v36, "before any member is stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not mention %q:\n%s", want, lastLines(out, 20))
		}
	}
	t.Logf("refused: %s", clip(res.failure(), 400))
	requireNothingStopped(t, o, res, before)
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res))
	requireVersions(ctx, t, c, c.Version, "3.4.0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
}
