//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/testbed"
)

// TestV2WAL_3_5_Upgraded_To_3_6_Then_3_7: etcd 3.7 panics replaying WAL
// entries 3.5 wrote (docs/etcd-behaviour.md). A production-shaped 3.5
// cluster (data directories etcd's own, 0700; sudo only for what
// `etcdplay sudoers` prints) is upgraded to 3.6 with too few writes for a
// snapshot: 3.6-to-3.7 is refused in preflight (exit 5) naming every
// member and the remedy, under sudo, with nothing stopped. After the
// remedy the refusal message gives (restart each member with
// --snapshot-count=1, here its config-file key, then without it),
// 3.6-to-3.7 runs and every member
// runs 3.7.
func TestV2WAL_3_5_Upgraded_To_3_6_Then_3_7(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c, o, rules := startProductionBed(ctx, t, "3.5", routeKeys)
	for _, h := range c.Hosts {
		for _, dir := range []string{"wal", "snap"} {
			want := "/usr/bin/grep -r -"
			found := false
			for _, l := range rules {
				found = found || (strings.Contains(l, want) && strings.Contains(l, h.DataDir+"/member/"+dir))
			}
			if !found {
				t.Errorf("etcdplay sudoers prints no check-v2-wal grep of %s/member/%s", h.DataDir, dir)
			}
		}
	}
	o.etcdplay(ctx, "run", "3.5-to-3.6").want(t, exitOK)
	requireVersions(ctx, t, c, release(t, "3.6"), "3.6.0")

	// A fresh state folder: the journal of 3.5-to-3.6 holds its stops.
	o = newOperator(t, c)
	before := pids(c)
	res := o.etcdplay(ctx, "run", "3.6-to-3.7")
	res.want(t, exitPreflight)
	msg := res.failure()
	for _, h := range c.Hosts {
		want := fmt.Sprintf("member %s (%s): WAL ", h.Name, h.DataDir)
		if !strings.Contains(msg, want) {
			t.Errorf("refusal does not name %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(msg, "--snapshot-count=1") {
		t.Errorf("refusal gives no remedy:\n%s", msg)
	}
	if fails := res.steps(events.StepFailed, "", "check-v2-wal"); len(fails) == 0 || fails[0].Phase != schema.PhasePreflight {
		t.Errorf("want the preflight check-v2-wal step to fail, got %+v", fails)
	}
	t.Logf("refused: %s", clip(msg, 600))
	requireNothingStopped(t, o, res, before)

	// The remedy, on 3.6, one member at a time. InstallVersion tells
	// the bed the hosts run 3.6 (the same binary the playbook placed).
	for _, h := range c.Hosts {
		if err := testbed.InstallVersion(h, release(t, "3.6")); err != nil {
			t.Fatal(err)
		}
	}
	for _, flags := range []string{"add", "drop"} {
		for i, h := range c.Hosts {
			setSnapshotCountOne(t, h, flags == "add")
			restartMember(ctx, t, c, i)
		}
	}
	t.Log("every member restarted on 3.6 with --snapshot-count=1, then without it")
	waitStorage36(ctx, t, c)

	res = o.etcdplay(ctx, "run", "3.6-to-3.7")
	res.want(t, exitOK)
	if done := res.steps(events.StepDone, "", "check-v2-wal"); len(done) != 1 {
		t.Errorf("check-v2-wal: want one done step, got %+v", done)
	}
	requireVersions(ctx, t, c, release(t, "3.7"), "3.7.0")
	requireKeys(ctx, t, c)
}

// setSnapshotCountOne adds (on) or removes a snapshot count of 1 in the
// member's configuration: a key in its config file on a production-shaped
// bed, a flag line in etcd.flags otherwise.
func setSnapshotCountOne(t *testing.T, h *testbed.Host, on bool) {
	t.Helper()
	p, line := filepath.Join(h.Dir, "etcd.flags"), "--snapshot-count=1"
	if h.ConfigFile != "" {
		p, line = h.ConfigFile, "snapshot-count: 1"
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l != line {
			keep = append(keep, l)
		}
	}
	if on {
		keep = append(keep, line)
	}
	if err := os.WriteFile(p, []byte(strings.Join(keep, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// restartMember stops and starts member i and waits for the cluster to
// be healthy again.
func restartMember(ctx context.Context, t *testing.T, c *testbed.Cluster, i int) {
	t.Helper()
	if err := c.StopMember(ctx, i); err != nil {
		t.Fatal(err)
	}
	if err := c.StartMember(ctx, i); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestV2WAL_UpgradeTo_3_7_From_3_5_StopsAtHopPreflight: `upgrade --to
// 3.7` from 3.5 with the default snapshot count and no writes in
// between: the route stops at 3.6-to-3.7's preflight (check-v2-wal, exit
// 5) with every member on 3.6 and none stopped by that hop; after the
// remedy, `resume` finishes the route on 3.7.
func TestV2WAL_UpgradeTo_3_7_From_3_5_StopsAtHopPreflight(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := testbed.StartT(t, testbed.Options{Version: "3.5"})
	writeKeys(ctx, t, c, routeKeys)
	o := newOperator(t, c)
	res := o.etcdplay(ctx, "upgrade", "--to", "3.7")
	res.want(t, exitPreflight)
	if fails := res.steps(events.StepFailed, "", "check-v2-wal"); len(fails) == 0 || fails[0].Phase != schema.PhasePreflight {
		t.Errorf("want the route to stop at a preflight check-v2-wal, got %+v", fails)
	}
	requireVersions(ctx, t, c, release(t, "3.6"), "3.6.0")
	for _, h := range c.Hosts {
		if err := testbed.InstallVersion(h, release(t, "3.6")); err != nil {
			t.Fatal(err)
		}
	}
	for _, on := range []bool{true, false} {
		for i, h := range c.Hosts {
			setSnapshotCountOne(t, h, on)
			restartMember(ctx, t, c, i)
		}
	}
	// 3.6 sets the storage version a few seconds after a start; the
	// hop's preflight asserts it.
	waitStorage36(ctx, t, c)
	o.etcdplay(ctx, "resume").want(t, exitOK)
	requireVersions(ctx, t, c, release(t, "3.7"), "3.7.0")
	requireKeys(ctx, t, c)
}

// waitStorage36 waits until every member's /version reports storage 3.6.0.
func waitStorage36(ctx context.Context, t *testing.T, c *testbed.Cluster) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for i := range c.Hosts {
		for {
			v, err := c.ServerVersion(ctx, i)
			if err == nil && v.Storage == "3.6.0" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: storage version not 3.6.0 after 30s: %+v %v", c.Hosts[i].Name, v, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
