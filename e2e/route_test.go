//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/testbed"
)

// routeKeys is what a route test writes first: enough that a lost key
// shows, few enough that three hops of snapshots and restarts stay quick.
const routeKeys = 500

// plannedRoute is the part of `plan --to -o json` (route.Route) the tests
// read.
type plannedRoute struct {
	From string `json:"from"`
	To   string `json:"to"`
	Hops []struct {
		Playbook string `json:"playbook"`
		Release  string `json:"release"`
		Why      string `json:"why"`
	} `json:"hops"`
	Releases []string `json:"releases"`
}

// planRoute runs `plan --to` and reads the route it prints as JSON.
func (o *operator) planRoute(ctx context.Context, to string) *plannedRoute {
	o.t.Helper()
	out, stderr, code := o.command(ctx, "plan", "--to", to, "-i", o.inventory, "-o", "json")
	if code != exitOK {
		o.t.Fatalf("plan --to %s: exit %d\n%s", to, code, stderr)
	}
	var r plannedRoute
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		o.t.Fatalf("plan --to %s -o json: %v\n%s", to, err, out)
	}
	for i, h := range r.Hops {
		o.t.Logf("route hop %d/%d: %s installs %s (%s)", i+1, len(r.Hops), h.Playbook, h.Release, h.Why)
	}
	return &r
}

// requireRoute fails unless the route's hops are these playbooks on these
// releases ("3.5-patch=3.5.35").
func requireRoute(t *testing.T, r *plannedRoute, want ...string) {
	t.Helper()
	var got []string
	for _, h := range r.Hops {
		got = append(got, h.Playbook+"="+h.Release)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("route %v, want %v", got, want)
	}
}

// hopsRun are the hops the events started, in order, each with its
// playbook: the route as it ran.
func hopsRun(rs ...*result) []string {
	var out []string
	for _, r := range rs {
		for _, e := range r.events {
			if e.Kind == events.RunStart && e.Hop > 0 {
				out = append(out, e.Fields["playbook"].(string))
			}
		}
	}
	return out
}

// requireOneRun: every event of the commands belongs to one run id, and
// the report (one for the route) names the route and that run.
func (o *operator) requireOneRun(to string, rs ...*result) {
	t := o.t
	t.Helper()
	ids := map[string]bool{}
	for _, r := range rs {
		for _, e := range r.events {
			if e.RunID != "" {
				ids[e.RunID] = true
			}
		}
	}
	if len(ids) != 1 {
		t.Errorf("events of %d run ids %v, want one for the whole route", len(ids), ids)
	}
	b, err := os.ReadFile(filepath.Join(o.clusterState(), "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		RunID    string                  `json:"run_id"`
		Playbook string                  `json:"playbook"`
		Result   string                  `json:"result"`
		Backups  []struct{ File string } `json:"backups"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !ids[rep.RunID] || !strings.HasPrefix(rep.Playbook, "route to "+to) || rep.Result != "succeeded" {
		t.Errorf("report: run %s, %q, %s; want the route's run, titled route to %s, succeeded", rep.RunID, rep.Playbook, rep.Result, to)
	}
	t.Logf("one run %s, one report %q with %d backups", rep.RunID, rep.Playbook, len(rep.Backups))
}

// requireBackupPerHop: each hop's preflight took its own verified
// snapshot before any member of that hop stopped.
func requireBackupPerHop(t *testing.T, rs ...*result) {
	t.Helper()
	backed, stopped := map[int]bool{}, map[int]bool{}
	for _, r := range rs {
		for _, e := range r.events {
			switch {
			case e.Kind == events.StepDone && e.Action == "backup" && e.Phase == schema.PhasePreflight:
				backed[e.Hop] = true
			case e.Kind == events.StepDone && e.Action == "ssh-stop":
				if !backed[e.Hop] {
					t.Errorf("hop %d stopped %s before its backup", e.Hop, e.Member)
				}
				stopped[e.Hop] = true
			}
		}
	}
	for h := range stopped {
		if !backed[h] {
			t.Errorf("hop %d took no backup", h)
		}
	}
}

// TestUpgradeTo_3_6_From_3_5_BelowFloor: a 3.5.21 cluster is below the
// 3.5.32 floor 3.5-to-3.6 asserts (run 3.5-to-3.6 alone is refused:
// TestPreflight_BelowFloor_3_5_to_3_6). `upgrade --to 3.6` plans the patch
// hop first and runs both hops in one command, one run, with the writer on.
func TestUpgradeTo_3_6_From_3_5_BelowFloor(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "3.5-below-floor", routeKeys)
	o := newOperator(t, c)
	v35, v36 := release(t, "3.5"), release(t, "3.6")

	rt := o.planRoute(ctx, "3.6")
	requireRoute(t, rt, "3.5-patch="+v35, "3.5-to-3.6="+v36)

	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)
	res := o.etcdplay(ctx, "upgrade", "--to", "3.6")
	st := w.Stop()
	res.want(t, exitOK)

	o.requireRoute(ctx, c, res, q, st, v36, "3.6", "etcd 3.5 patch upgrade", "etcd 3.5 to 3.6")
}

// requireRoute checks a route that `upgrade --to` ran in one command:
// the hops in order, each member stopped once per hop, a verified backup
// per hop, one run id, every member on server at cluster version to.0,
// healthy, every key intact, quorum kept and the writer within its bound.
func (o *operator) requireRoute(ctx context.Context, c *testbed.Cluster, res *result, q *quorumWatch, st testbed.WriterStats, server, to string, hops ...string) {
	t := o.t
	t.Helper()
	if got := hopsRun(res); !slices.Equal(got, hops) {
		t.Errorf("hops run %v, want %v", got, hops)
	}
	if got := len(res.steps(events.StepDone, "", "ssh-stop")); got != len(hops)*len(c.Hosts) {
		t.Errorf("%d stops, want each member once per hop (%d)", got, len(hops)*len(c.Hosts))
	}
	requireBackupPerHop(t, res)
	o.requireOneRun(to, res)
	requireVersions(ctx, t, c, server, to+".0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res))
}

// TestUpgradeTo_3_7_From_3_5_BelowFloor_KilledThenResumed: `upgrade --to
// 3.7` from 3.5.21 is three hops (patch, 3.5 to 3.6, 3.6 to 3.7). The
// runner is SIGKILLed in the middle hop with its second member stopped;
// `resume` finishes that hop without stopping the members done before,
// then runs 3.6 to 3.7, under the same run id.
//
// The members run with --snapshot-count=100: 3.7 panics replaying WAL
// entries 3.5 wrote (docs/etcd-behaviour.md, "Flags and data that stop a
// new binary from starting"), so 3.6-to-3.7's preflight (check-v2-wal)
// refuses a member that has not snapshotted since the cluster version
// became 3.6.0. With the writer on, a snapshot every 100 entries lands
// between the 3.5-to-3.6 finish and that preflight, as on a cluster that
// ran a while on 3.6; with the default count the route would stop there.
func TestUpgradeTo_3_7_From_3_5_BelowFloor_KilledThenResumed(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := testbed.StartT(t, testbed.Options{Version: "3.5-below-floor", ExtraFlags: []string{"--snapshot-count=100"}})
	if err := c.WriteKeys(ctx, routeKeys); err != nil {
		t.Fatal(err)
	}
	o := newOperator(t, c)
	v35, v36, v37 := release(t, "3.5"), release(t, "3.6"), release(t, "3.7")
	requireRoute(t, o.planRoute(ctx, "3.7"), "3.5-patch="+v35, "3.5-to-3.6="+v36, "3.6-to-3.7="+v37)

	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)
	var order []string
	firstPID, killed := 0, false
	res := o.watch(ctx, func(e events.Event, p *os.Process) {
		if killed || e.Hop != 2 || e.Phase != schema.PhaseMembers {
			return
		}
		if e.Kind == events.MemberStart {
			order = append(order, e.Member)
		}
		if e.Kind == events.MemberDone && len(order) == 1 {
			firstPID = c.MemberPID(hostIndex(t, c, order[0]))
		}
		if len(order) == 2 && e.Kind == events.StepDone && e.Action == "ssh-stop" && e.Member == order[1] {
			t.Logf("hop 2: %s is stopped: SIGKILL the runner (pid %d)", order[1], p.Pid)
			killed = true
			if err := p.Signal(syscall.SIGKILL); err != nil {
				t.Errorf("kill: %v", err)
			}
		}
	}, "upgrade", "--to", "3.7")
	if !killed || res.code != -1 {
		t.Fatalf("the route ended (exit %d) before hop 2's second stop", res.code)
	}
	if p := c.MemberPID(hostIndex(t, c, order[1])); p != 0 {
		t.Fatalf("%s runs as pid %d; the kill was meant to find it stopped", order[1], p)
	}

	rs := o.etcdplay(ctx, "resume")
	if rs.code == exitLocked {
		t.Log("the dead run's lease still holds the lock: break it as the hint says")
		rs = o.etcdplay(ctx, "resume", "--break-lock", "--yes")
	}
	st := w.Stop()
	rs.want(t, exitOK)

	for _, e := range rs.events {
		if e.Hop == 1 && e.Kind == events.StepStart {
			t.Errorf("resume ran hop 1's %s on %s again", e.Action, e.Member)
		}
		if e.Hop == 2 && e.Member == order[0] && e.Kind == events.StepStart && (e.Action == "ssh-stop" || e.Action == "swap") {
			t.Errorf("resume ran %s again on %s, upgraded in hop 2 before the kill", e.Action, order[0])
		}
	}
	if got := hopsRun(rs); len(got) != 2 {
		t.Errorf("resume ran hops %v, want the rest of hop 2 and hop 3", got)
	}
	if firstPID == 0 {
		t.Errorf("no pid for %s after hop 2 upgraded it", order[0])
	}
	requireBackupPerHop(t, res, rs)
	o.requireOneRun("3.7", res, rs)
	requireVersions(ctx, t, c, v37, "3.7.0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res, rs))
}

// TestUpgradeTo_RefusedForAMissingRelease: the inventory lists no 3.5
// release at or above the 3.5.32 floor; `plan --to` and `upgrade --to`
// refuse (exit 3) naming what to add; `--to 3.4` is refused as a
// downgrade (exit 5); nothing on the cluster changes.
func TestUpgradeTo_RefusedForAMissingRelease(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "3.5-below-floor", 50)
	o := newOperator(t, c)
	v35 := release(t, "3.5")
	o.inventory = o.editInventory("inventory-no-3.5-floor.yaml", func(inv map[string]any) {
		delete(inv["releases"].(map[string]any), v35)
	})
	before := pids(c)
	_, stderr, code := o.command(ctx, "plan", "--to", "3.6", "-i", o.inventory)
	if code != exitInvalid || !strings.Contains(stderr, "a 3.5 release, 3.5.32 or newer") {
		t.Errorf("plan --to 3.6: exit %d, want %d naming the 3.5 release to add:\n%s", code, exitInvalid, stderr)
	}
	res := o.etcdplay(ctx, "upgrade", "--to", "3.6")
	res.want(t, exitInvalid)
	if out := res.output(); !strings.Contains(out, "3.5.32 or newer") || !strings.Contains(out, "releases:") {
		t.Errorf("the refusal does not name the release to add:\n%s", lastLines(out, 10))
	}
	t.Logf("refused: %s", clip(res.output(), 300))
	if len(res.events) > 0 {
		t.Errorf("the refused upgrade emitted %d events: it started a run", len(res.events))
	}
	if _, err := os.Stat(filepath.Join(o.clusterState(), "journal.jsonl")); err == nil {
		t.Error("the refused upgrade wrote a journal")
	}

	down := o.etcdplay(ctx, "upgrade", "--to", "3.4")
	down.want(t, exitPreflight)
	if out := down.output(); !strings.Contains(out, "downgrade") {
		t.Errorf("--to 3.4 from 3.5 is not refused as a downgrade:\n%s", lastLines(out, 10))
	}
	t.Logf("refused: %s", clip(down.output(), 300))

	requireUntouched(t, c, before)
	requireVersions(ctx, t, c, c.Version, "3.5.0")
	requireKeys(ctx, t, c)
}

// TestUpgradeTo_3_7_From_3_5_BelowFloor: the whole route from 3.5.21 to
// 3.7 (patch, 3.5 to 3.6, 3.6 to 3.7) in one command, one run, with the
// writer on. --snapshot-count=100 as in the test above (check-v2-wal).
func TestUpgradeTo_3_7_From_3_5_BelowFloor(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := testbed.StartT(t, testbed.Options{Version: "3.5-below-floor", ExtraFlags: []string{"--snapshot-count=100"}})
	if err := c.WriteKeys(ctx, routeKeys); err != nil {
		t.Fatal(err)
	}
	o := newOperator(t, c)
	v37 := release(t, "3.7")
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)
	res := o.etcdplay(ctx, "upgrade", "--to", "3.7")
	st := w.Stop()
	res.want(t, exitOK)
	o.requireRoute(ctx, c, res, q, st, v37, "3.7", "etcd 3.5 patch upgrade", "etcd 3.5 to 3.6", "etcd 3.6 to 3.7")
}

// TestUpgradeTo_3_0_From_2_2: a route across the major on a v2 cluster,
// as far as the shipped playbooks reach (2.2 to 2.3, then 2.3 to 3.0).
// 2.3-to-3.0's finish refuses a cluster without v3 data (etcd issue
// 9480), which stops the route in its last hop; after the operator's
// first v3 put, `resume` finishes it under the same run.
func TestUpgradeTo_3_0_From_2_2(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "2.2", 300)
	o := newOperator(t, c)
	v23, v30 := release(t, "2.3"), release(t, "3.0")
	requireRoute(t, o.planRoute(ctx, "3.0"), "2.2-to-2.3="+v23, "2.3-to-3.0="+v30)

	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)
	res := o.etcdplay(ctx, "upgrade", "--to", "3.0")
	res.want(t, exitStepFailed)
	if out := res.output(); !strings.Contains(out, "no v3 data") || !strings.Contains(out, "etcdplay resume") {
		t.Errorf("the route did not stop at 2.3-to-3.0's v3-data refusal:\n%s", lastLines(out, 15))
	}
	if got := hopsRun(res); !slices.Equal(got, []string{"etcd 2.2 to 2.3", "etcd 2.3 to 3.0"}) {
		t.Errorf("hops run %v, want 2.2 to 2.3 then 2.3 to 3.0", got)
	}
	requireVersions(ctx, t, c, v30, "3.0.0")

	h := c.Hosts[0]
	put := "ETCDCTL_API=3 " + h.Etcdctl() + " --endpoints=" + h.ClientURL + " put etcdplay-e2e/first-v3-key v3"
	t.Logf("the operator writes the cluster's first v3 key, as the refusal says: %s", put)
	if out, err := c.SSH(ctx, 0, put); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("v3 put: %q, %v", out, err)
	}
	before := pids(c)
	rs := o.etcdplay(ctx, "resume")
	st := w.Stop()
	rs.want(t, exitOK)
	requireUntouched(t, c, before)
	for _, e := range rs.events {
		if e.Hop != 2 && e.Hop != 0 {
			t.Errorf("resume emitted an event of hop %d: %s %s", e.Hop, e.Kind, e.Action)
			break
		}
	}
	o.requireOneRun("3.0", res, rs)
	requireVersions(ctx, t, c, v30, "3.0.0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res, rs))
}

// TestUpgradeTo_3_6_KilledThenFleetResume: a route killed in its second
// hop is continued by `resume -i FOLDER` (a fleet of one) as a route: the
// hop it stopped in, to the end, under the same run.
func TestUpgradeTo_3_6_KilledThenFleetResume(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "3.5-below-floor", routeKeys)
	o := newOperator(t, c)
	v36 := release(t, "3.6")
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)
	killed := false
	res := o.watch(ctx, func(e events.Event, p *os.Process) {
		if !killed && e.Hop == 2 && e.Kind == events.StepDone && e.Action == "ssh-stop" {
			t.Logf("hop 2: %s is stopped: SIGKILL the runner (pid %d)", e.Member, p.Pid)
			killed = true
			if err := p.Signal(syscall.SIGKILL); err != nil {
				t.Errorf("kill: %v", err)
			}
		}
	}, "upgrade", "--to", "3.6")
	if !killed || res.code != -1 {
		t.Fatalf("the route ended (exit %d) before hop 2's first stop", res.code)
	}

	dir := t.TempDir()
	copyInventory(t, c, dir, "bed.yaml")
	o.inventory = dir
	rs := o.etcdplay(ctx, "resume")
	if rs.code == exitLocked {
		rs = o.etcdplay(ctx, "resume", "--break-lock", "--yes")
	}
	st := w.Stop()
	rs.want(t, exitOK)
	if got := hopsRun(rs); len(got) != 1 || got[0] != "etcd 3.5 to 3.6" {
		t.Errorf("the fleet's resume ran hops %v, want the rest of hop 2", got)
	}
	o.requireOneRun("3.6", res, rs)
	requireVersions(ctx, t, c, v36, "3.6.0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res, rs))
}

// TestUpgradeTo_3_4_From_2_3: the whole route across the major, 2.3 to
// 3.4, on a cluster described by a v2 inventory. The route stops at
// 2.3-to-3.0's finish for want of v3 data (etcd issue 9480); after the
// operator's first v3 put (with 3.0's etcdctl, ETCDCTL_API=3) `resume`
// finishes that hop and runs 3.0-to-3.1 ... 3.3-to-3.4 over the v3 API to
// the same members, under the same run id, the hosts' lock folders and,
// from 3.0-to-3.1, the v3 lease too. The members keep the v2 API on
// (ETCD_ENABLE_V2, ignored with a warning before 3.2) so the v2 writer and
// keys are served on 3.4 as well.
func TestUpgradeTo_3_4_From_2_3(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := testbed.StartT(t, testbed.Options{Version: "2.3", Env: map[string]string{"ETCD_ENABLE_V2": "true"}})
	if err := c.WriteKeys(ctx, 50); err != nil {
		t.Fatal(err)
	}
	o := newOperator(t, c)
	v30, v31, v32, v33, v34 := release(t, "3.0"), release(t, "3.1"), release(t, "3.2"), release(t, "3.3"), release(t, "3.4")
	requireRoute(t, o.planRoute(ctx, "3.4"), "2.3-to-3.0="+v30, "3.0-to-3.1="+v31, "3.1-to-3.2="+v32, "3.2-to-3.3="+v33, "3.3-to-3.4="+v34)

	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)
	res := o.etcdplay(ctx, "upgrade", "--to", "3.4")
	res.want(t, exitStepFailed)
	if out := res.output(); !strings.Contains(out, "no v3 data") || !strings.Contains(out, "etcdplay resume") {
		t.Errorf("the route did not stop at 2.3-to-3.0's v3-data refusal:\n%s", lastLines(out, 15))
	}
	if got := hopsRun(res); !slices.Equal(got, []string{"etcd 2.3 to 3.0"}) {
		t.Errorf("hops run %v, want only 2.3 to 3.0", got)
	}
	requireVersions(ctx, t, c, v30, "3.0.0")

	h := c.Hosts[0]
	put := "ETCDCTL_API=3 " + h.Etcdctl() + " --endpoints=" + h.ClientURL + " put etcdplay-e2e/first-v3-key v3"
	t.Logf("the operator writes the cluster's first v3 key, as the refusal says: %s", put)
	if out, err := c.SSH(ctx, 0, put); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("v3 put: %q, %v", out, err)
	}
	rs := o.etcdplay(ctx, "resume")
	st := w.Stop()
	rs.want(t, exitOK)
	got := hopsRun(rs)
	if len(got) > 0 && got[0] == "etcd 2.3 to 3.0" { // resumed, then the rest
		got = got[1:]
	}
	if !slices.Equal(got, []string{"etcd 3.0 to 3.1", "etcd 3.1 to 3.2", "etcd 3.2 to 3.3", "etcd 3.3 to 3.4"}) {
		t.Errorf("resume ran hops %v, want 3.0 to 3.1 ... 3.3 to 3.4", got)
	}
	o.requireOneRun("3.4", res, rs)
	requireVersions(ctx, t, c, v34, "3.4.0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res, rs))
}
