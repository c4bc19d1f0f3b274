//go:build e2e

package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/testbed"
)

// exitInterrupted is internal/exit's code for a run stopped by SIGINT.
const exitInterrupted = 130

// TestDowngrade_3_6_to_3_5 follows the 3.6 downgrade guide on 3.6.16:
// downgrade validate 3.5, a verified snapshot, downgrade enable 3.5 (the
// cluster version drops to 3.5.0 and every member's storage migrates to
// 3.5.0), then each member, leader last, restarted on 3.5.35; every key
// there after, with a writer on every endpoint throughout.
func TestDowngrade_3_6_to_3_5(t *testing.T) {
	t.Parallel()
	upgrade(t, "3.6-to-3.5")
}

// TestDowngrade_3_7_to_3_6 follows the 3.7 downgrade guide on 3.7.3: the
// same API with target 3.6 and no flag changes; the storage version ends
// on 3.6.0.
func TestDowngrade_3_7_to_3_6(t *testing.T) {
	t.Parallel()
	upgrade(t, "3.7-to-3.6")
}

// TestDowngrade_CancelledHalfway_3_6_to_3_5 is the guide's "cancel the
// downgrade": the run is interrupted (SIGINT) once the first member runs
// 3.5, with the cluster version already down to 3.5.0. `etcdplay
// rollback` cancels the downgrade, puts that member back on the 3.6
// binary the swap kept, and ends when the cluster version is 3.6.0 again:
// a healthy cluster at its original version with every key.
func TestDowngrade_CancelledHalfway_3_6_to_3_5(t *testing.T) {
	t.Parallel()
	scenario(t, "downgrade-cancelled-halfway")
	ctx := testContext(t)
	v36, v35 := release(t, "3.6"), release(t, "3.5")
	c := startBed(ctx, t, "3.6", faultKeys)
	o := newOperator(t, c)
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)

	first := ""
	res := o.watch(ctx, func(e events.Event, p *os.Process) {
		if first != "" || e.Phase != schema.PhaseMembers || e.Kind != events.MemberDone {
			return
		}
		first = e.Member
		t.Logf("%s is downgraded: SIGINT the runner (pid %d), as an operator changing their mind", first, p.Pid)
		if err := p.Signal(syscall.SIGINT); err != nil {
			t.Errorf("interrupt: %v", err)
		}
	}, "run", "3.6-to-3.5")
	if first == "" {
		t.Fatalf("the run ended (exit %d) before the first member was downgraded", res.code)
	}
	res.want(t, exitInterrupted)
	if !strings.Contains(res.output(), "etcdplay rollback") {
		t.Errorf("the interrupted downgrade does not offer etcdplay rollback:\n%s", lastLines(res.output(), 10))
	}
	fi := hostIndex(t, c, first)
	mid, err := c.ServerVersion(ctx, fi)
	if err != nil {
		t.Fatal(err)
	}
	if mid.Server != v35 || mid.Cluster != "3.5.0" {
		t.Fatalf("%s: server %s, cluster %s after the interrupt; want %s with the cluster version down to 3.5.0", first, mid.Server, mid.Cluster, v35)
	}
	t.Logf("half-way: %s runs %s, cluster version %s", first, mid.Server, mid.Cluster)

	rb := o.etcdplay(ctx, "rollback")
	rb.want(t, exitOK)
	if got := len(rb.steps(events.StepDone, "", "downgrade")); got != 1 {
		t.Errorf("downgrade cancel ran %d times; want once, for the cluster", got)
	}
	if got := rb.steps(events.StepDone, "", "ssh-stop"); len(got) < 1 || got[0].Member != first {
		t.Errorf("rollback stopped %v; want %s first", got, first)
	}
	st := w.Stop()
	requireVersions(ctx, t, c, v36, "3.6.0")
	requireHealthy(ctx, t, c)
	// The storage version follows the cluster version a moment later.
	for i, h := range c.Hosts {
		var v testbed.VersionInfo
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if v, err = c.ServerVersion(ctx, i); err == nil && v.Storage == "3.6.0" {
				break
			}
		}
		if v.Storage != "3.6.0" {
			t.Errorf("%s: storage version %q 30s after the rollback (%v); want 3.6.0", h.Name, v.Storage, err)
		}
	}
	requireKeys(ctx, t, c)
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res, rb))
}

// TestDowngrade_3_5_to_3_4_RefusedBelow3_4_32 is 3.5-to-3.4 as far as the
// bed allows: its 3.4 is Debian's 3.4.23, and the guide's procedure needs
// 3.4.32 or newer (the first 3.4 with --next-cluster-version-compatible;
// the module proxy serves no 3.4). The run is refused before anything
// changes, naming the release to list, and the cluster keeps serving on
// 3.5 with every key.
func TestDowngrade_3_5_to_3_4_RefusedBelow3_4_32(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	v35 := release(t, "3.5")
	c := startBed(ctx, t, "3.5", faultKeys)
	o := newOperator(t, c)
	before := pids(c)
	res := o.etcdplay(ctx, "run", "3.5-to-3.4")
	res.want(t, exitInvalid)
	if out := res.output(); !strings.Contains(out, "needs 3.4.32 or newer") || !strings.Contains(out, release(t, "3.4")) {
		t.Errorf("the refusal does not name the bed's 3.4 release and the 3.4.32 floor:\n%s", lastLines(out, 10))
	}
	requireUntouched(t, c, before)
	requireVersions(ctx, t, c, v35, "3.5.0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
}
