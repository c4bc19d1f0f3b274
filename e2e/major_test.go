//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/testbed"
)

// TestUpgrade_2_3_to_3_0 follows the 3.0 upgrade guide on a 2.3.8
// cluster that, like every cluster fresh from 2.x, holds no v3 data:
// every member is backed up, moved to 3.0 and the cluster version reaches
// 3.0.0, but the finish refuses to call the run done (etcd 3.2+ panics on
// a cluster migrated from v2 without v3 data, etcd issue 9480) and says
// to write v3 data and resume. After one v3 put, `etcdplay resume` finds
// every member on 3.0, stops none of them again, and finishes.
func TestUpgrade_2_3_to_3_0(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	target := release(t, "3.0")
	c := startBed(ctx, t, "2.3", v2Keys)
	o := newOperator(t, c)

	t.Logf("a writer puts a v2 key every %v through all endpoints while the playbook runs", testbed.WriterInterval)
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)
	res := o.etcdplay(ctx, "run", "2.3-to-3.0")
	st := w.Stop()
	res.want(t, exitStepFailed)
	out := res.output()
	for _, want := range []string{"no v3 data", "etcd issue 9480", "ETCDCTL_API=3 etcdctl", "etcdplay resume"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, lastLines(out, 15))
		}
	}
	t.Logf("the finish refuses a cluster without v3 data: %s", res.failure())
	if got := len(res.steps(events.StepDone, "", "ssh-stop")); got != len(c.Hosts) {
		t.Errorf("%d members stopped, want each of the %d once", got, len(c.Hosts))
	}
	requireVersions(ctx, t, c, target, "3.0.0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	o.requireV2Backups(ctx)
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res))

	h := c.Hosts[0]
	put := fmt.Sprintf("ETCDCTL_API=3 %s --endpoints=%s put etcdplay-e2e/first-v3-key v3", h.Etcdctl(), h.ClientURL)
	t.Logf("the operator writes the cluster's first v3 key, as the refusal says: %s", put)
	if out, err := c.SSH(ctx, 0, put); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("v3 put with the member's 3.0 etcdctl: %q, %v", out, err)
	}
	before := pids(c)
	rs := o.etcdplay(ctx, "resume")
	rs.want(t, exitOK)
	requireUntouched(t, c, before)
	rep := o.report()
	if rep.Result != "succeeded" {
		t.Errorf("report after resume says %s", rep.Result)
	}
	for _, m := range rep.Members {
		if m.VersionAfter != target {
			t.Errorf("report: %s %s -> %s; want %s", m.Name, m.VersionBefore, m.VersionAfter, target)
		}
	}
	requireVersions(ctx, t, c, target, "3.0.0")
	requireKeys(ctx, t, c)
	printSummary(t, "2.3-to-3.0", rep, st, c.Keys())
}
