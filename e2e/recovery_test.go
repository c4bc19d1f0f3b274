//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/testbed"
)

// hostIndex is the bed host a member name belongs to.
func hostIndex(t *testing.T, c *testbed.Cluster, member string) int {
	t.Helper()
	for i, h := range c.Hosts {
		if h.Name == member {
			return i
		}
	}
	t.Fatalf("no host for member %q", member)
	return -1
}

// brokenEtcd is a stand-in for a release that cannot start (built for the
// wrong libc, a truncated download): it answers --version like etcd 3.5,
// so the release check passes, and exits 1 otherwise.
const brokenEtcd = `#!/bin/sh
case "$1" in
--version|version)
  echo "etcd Version: %s"
  echo "Git SHA: broken"
  echo "Go Version: go1.26"
  echo "Go OS/Arch: linux/amd64"
  exit 0 ;;
esac
echo "etcd: cannot start: this binary is broken (planted by the e2e test)" >&2
exit 1
`

// TestRecovery_BrokenBinary_RollbackThenResume_3_4_to_3_5 is fault (a): the
// 3.5 binary in the inventory's releases cannot start. The run stops at
// the first member (exit 6) and touches no other; `etcdplay rollback` puts
// that member back on 3.4; with the release fixed, `etcdplay resume`
// completes the upgrade.
func TestRecovery_BrokenBinary_RollbackThenResume_3_4_to_3_5(t *testing.T) {
	t.Parallel()
	scenario(t, "(a) broken-binary-rollback-resume")
	ctx := testContext(t)
	c := startBed(ctx, t, "3.4", faultKeys)
	o := newOperator(t, c)
	v34, v35 := release(t, "3.4"), release(t, "3.5")

	broken := filepath.Join(c.Dir, "broken-"+v35, "etcd")
	if err := os.MkdirAll(filepath.Dir(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte(strings.Replace(brokenEtcd, "%s", v35, 1)), 0o755); err != nil {
		t.Fatal(err)
	}
	o.inventory = o.editInventory("inventory-broken-3.5.yaml", func(inv map[string]any) {
		setRelease(inv, v35, broken)
	})
	t.Logf("the inventory's %s release is %s: it prints the right version but cannot start", v35, broken)

	before := pids(c)
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)
	res := o.etcdplay(ctx, "run", "3.4-to-3.5")
	res.want(t, exitStepFailed)
	touched := res.membersTouched()
	if len(touched) != 1 {
		t.Fatalf("member steps ran on %v; want the first member only", touched)
	}
	first := touched[0]
	fi := hostIndex(t, c, first)
	failed := res.steps(events.StepFailed, first, "")
	if len(failed) == 0 {
		t.Fatalf("no step failed on %s", first)
	}
	t.Logf("the run stopped at %s, step %d (%s): %s", first, failed[0].StepIndex, failed[0].Action, clip(failed[0].Message, 300))
	for i, h := range c.Hosts {
		if i == fi {
			continue
		}
		if p := c.MemberPID(i); p != before[i] {
			t.Errorf("%s: pid %d -> %d; the others must stay untouched", h.Name, before[i], p)
		}
	}
	if p := c.MemberPID(fi); p != 0 {
		t.Errorf("%s: etcd runs as pid %d; the broken binary cannot have started", first, p)
	}

	t.Logf("etcdplay rollback: %s goes back to the 3.4 binary it kept", first)
	rb := o.etcdplay(ctx, "rollback")
	rb.want(t, exitOK)
	requireHealthy(ctx, t, c)
	requireVersions(ctx, t, c, v34, "3.4.0")
	for i, h := range c.Hosts {
		if i != fi && c.MemberPID(i) != before[i] {
			t.Errorf("%s: pid %d -> %d during the rollback; want untouched", h.Name, before[i], c.MemberPID(i))
		}
	}

	t.Log("the release is fixed in the inventory: back to the real 3.5 binary")
	o.inventory = c.InventoryPath
	rs := o.etcdplay(ctx, "resume")
	if rs.code != exitOK {
		// The journal pins the inventory's digest: a changed file is
		// refused (exit 3) unless the operator says the change is
		// deliberate.
		rs.want(t, exitInvalid)
		if !strings.Contains(rs.output(), "--force") {
			t.Fatalf("resume refused the changed inventory without naming --force:\n%s", lastLines(rs.stderr, 10))
		}
		t.Log("resume refuses the changed inventory until told the change is deliberate: --force")
		rs = o.etcdplay(ctx, "resume", "--force")
		rs.want(t, exitOK)
	}
	st := w.Stop()
	requireVersions(ctx, t, c, v35, "3.5.0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res, rb, rs))
}

// TestRecovery_RunnerKilled_Resume_3_4_to_3_5 is fault (b): the runner is
// SIGKILLed (an operator's laptop dies) in the middle of the second
// member's steps, with that member stopped. `etcdplay resume` completes
// the upgrade and never stops the already upgraded first member again.
func TestRecovery_RunnerKilled_Resume_3_4_to_3_5(t *testing.T) {
	t.Parallel()
	scenario(t, "(b) runner-sigkilled-resume")
	ctx := testContext(t)
	c := startBed(ctx, t, "3.4", faultKeys)
	o := newOperator(t, c)
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)

	var order []string
	firstPID := 0
	killed := false
	res := o.watch(ctx, func(e events.Event, p *os.Process) {
		if killed || e.Phase != schema.PhaseMembers {
			return
		}
		if e.Kind == events.MemberStart {
			order = append(order, e.Member)
		}
		if e.Kind == events.MemberDone && len(order) == 1 {
			firstPID = c.MemberPID(hostIndex(t, c, order[0]))
		}
		if len(order) == 2 && e.Kind == events.StepDone && e.Action == "ssh-stop" && e.Member == order[1] {
			t.Logf("%s is stopped (ssh-stop done): SIGKILL the runner (pid %d) before its swap", order[1], p.Pid)
			killed = true
			if err := p.Signal(syscall.SIGKILL); err != nil {
				t.Errorf("kill: %v", err)
			}
		}
	}, "run", "3.4-to-3.5")
	if !killed {
		t.Fatalf("the run ended (exit %d) before the second member's stop", res.code)
	}
	if res.code != -1 {
		t.Fatalf("etcdplay exit %d; want killed by SIGKILL", res.code)
	}
	if firstPID == 0 {
		t.Fatalf("no pid for %s after its upgrade", order[0])
	}
	second := hostIndex(t, c, order[1])
	if p := c.MemberPID(second); p != 0 {
		t.Fatalf("%s runs as pid %d; the kill was meant to find it stopped", order[1], p)
	}
	t.Logf("%s upgraded (pid %d), %s stopped, runner dead", order[0], firstPID, order[1])

	rs := o.etcdplay(ctx, "resume")
	if rs.code == exitLocked {
		// The dead run's lease outlives it by up to its TTL; etcdplay
		// says so, and that the holder's process is gone.
		if !strings.Contains(rs.output(), "gone") {
			t.Errorf("the lock refusal does not say the holder is gone:\n%s", lastLines(rs.output(), 10))
		}
		t.Log("the dead run's lease still holds the lock; its process is gone, so break it as the hint says")
		rs = o.etcdplay(ctx, "resume", "--break-lock", "--yes")
	}
	rs.want(t, exitOK)
	st := w.Stop()

	for _, action := range []string{"ssh-stop", "swap", "ssh-start"} {
		if again := rs.steps(events.StepStart, order[0], action); len(again) > 0 {
			t.Errorf("resume ran %s again on the already upgraded %s", action, order[0])
		}
	}
	if p := c.MemberPID(hostIndex(t, c, order[0])); p != firstPID {
		t.Errorf("%s: pid %d after its upgrade, %d after resume; want the same process, never stopped again", order[0], firstPID, p)
	} else {
		t.Logf("%s kept its process (pid %d) across resume", order[0], p)
	}
	requireVersions(ctx, t, c, release(t, "3.5"), "3.5.0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res, rs))
}
