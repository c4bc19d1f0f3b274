//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
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

// TestEtcdIssue9480 shows on the bed why 2.3-to-3.0 will not finish
// without v3 data. A 2.3 member that has taken a v2 snapshot is moved
// through 3.0 and 3.1 to 3.2: with no v3 key written on 3.0, a later
// release panics at start ("snapshot file doesn't exist"; the guides
// name 3.2+, and the bed's 3.1.20 already does); after one v3 put on 3.0
// (what the finish asks for, cluster.v3Keys > 0), the same path
// starts and serves every key.
func TestEtcdIssue9480(t *testing.T) {
	t.Parallel()
	for _, v3data := range []bool{false, true} {
		t.Run(fmt.Sprintf("v3data=%v", v3data), func(t *testing.T) {
			ctx := testContext(t)
			// One member with a low snapshot count on 2.3: a v2
			// snapshot exists before 3.0 starts, as on any long-lived
			// 2.3 member.
			c := testbed.StartT(t, testbed.Options{Version: "2.3", Members: 1, ExtraFlags: []string{"--snapshot-count=100"}})
			if err := c.WriteKeys(ctx, 300); err != nil {
				t.Fatal(err)
			}
			h := c.Hosts[0]
			if out, err := c.SSH(ctx, 0, "ls "+h.DataDir+"/member/snap"); err != nil || !strings.Contains(out, ".snap") {
				t.Fatalf("no v2 snapshot after 300 writes: %q %v", out, err)
			}
			// From here on no member takes a snapshot on its own (as on
			// a member with the default count and little traffic): 3.0
			// and 3.1 would otherwise snapshot at once, saving their
			// backend's index, and hide the problem.
			if _, err := c.SSH(ctx, 0, "sed -i s/--snapshot-count=100$/--snapshot-count=100000/ "+h.Dir+"/etcd.flags"); err != nil {
				t.Fatal(err)
			}
			step := func(version string) error {
				if err := c.StopMember(ctx, 0); err != nil {
					t.Fatal(err)
				}
				if err := testbed.InstallVersion(h, version); err != nil {
					t.Fatal(err)
				}
				return c.StartMember(ctx, 0)
			}
			if err := step("3.0"); err != nil {
				t.Fatal(err)
			}
			if v3data {
				put := fmt.Sprintf("ETCDCTL_API=3 %s --endpoints=%s put etcdplay-e2e/first-v3-key v3", h.Etcdctl(), h.ClientURL)
				if out, err := c.SSH(ctx, 0, put); err != nil || !strings.Contains(out, "OK") {
					t.Fatalf("v3 put on 3.0: %q, %v", out, err)
				}
			}
			for _, v := range []string{"3.1", "3.2"} {
				err := step(v)
				if v3data {
					if err != nil {
						t.Fatalf("%s after one v3 put on 3.0: %v", v, err)
					}
					continue
				}
				if err == nil {
					continue
				}
				log, _ := os.ReadFile(filepath.Join(h.Dir, "etcd.log"))
				if !strings.Contains(string(log), "snapshot file doesn't exist") {
					t.Fatalf("%s would not start, but not with the etcd issue 9480 panic: %v", v, err)
				}
				t.Logf("without v3 data, %s panics at start: recovering backend from snapshot error: snapshot file doesn't exist", release(t, v))
				return
			}
			if !v3data {
				t.Fatal("3.1 and 3.2 started on a member migrated from v2 without v3 data; want the etcd issue 9480 panic")
			}
			requireKeys(ctx, t, c)
			t.Log("with one v3 key written on 3.0, 3.2 starts and serves every v2 key")
		})
	}
}
