//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/testbed"
)

// The way back after the point of no return (docs/restore.md): the whole
// cluster restored from the snapshot etcdplay took, on the binary the
// snapshot was taken with.

// restoreReport is the part of restore/report.json the tests read.
type restoreReport struct {
	Result  string `json:"result"`
	Restore struct {
		Backup struct {
			File     string `json:"file"`
			SHA256   string `json:"sha256"`
			Revision int64  `json:"revision"`
			Keys     int    `json:"keys"`
		} `json:"backup"`
		Version       string            `json:"version"`
		SetAside      map[string]string `json:"set_aside"`
		KeysAfter     int               `json:"keys_after"`
		RevisionAfter int64             `json:"revision_after"`
	} `json:"restore"`
}

func (o *operator) restoreReport() restoreReport {
	o.t.Helper()
	b, err := os.ReadFile(filepath.Join(o.stateDir, o.c.Name, "restore", "report.json"))
	if err != nil {
		o.t.Fatal(err)
	}
	var r restoreReport
	if err := json.Unmarshal(b, &r); err != nil {
		o.t.Fatal(err)
	}
	return r
}

// snapshotOnly runs 3.5-to-3.6 until its preflight has taken and recorded
// the verified snapshot, then kills etcdplay (SIGKILL) before any member
// stops: the cluster is untouched and backup.json names the snapshot, as
// after any run's preflight.
func snapshotOnly(ctx context.Context, t *testing.T, o *operator, c *testbed.Cluster) {
	t.Helper()
	before := pids(c)
	res := o.watch(ctx, func(e events.Event, p *os.Process) {
		if e.Kind == events.Record && e.Message == "backup" {
			p.Signal(syscall.SIGKILL)
		}
	}, "run", "3.5-to-3.6")
	if res.code != -1 {
		t.Fatalf("etcdplay run exited %d; want it killed right after its backup", res.code)
	}
	requireUntouched(t, c, before)
}

// requireRestored checks the list after a restore: every member
// on the snapshot's version, healthy, every key written before the
// snapshot there (through the cluster and in each member's own store), and
// the report saying what was restored and what the cluster holds now.
func requireRestored(ctx context.Context, t *testing.T, o *operator, c *testbed.Cluster, version string) restoreReport {
	t.Helper()
	requireVersions(ctx, t, c, version, "")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	rep := o.restoreReport()
	x := rep.Restore
	if rep.Result != "succeeded" || x.Version != version || x.Backup.SHA256 == "" || x.Backup.Keys < c.Keys() {
		t.Errorf("restore report: result %s, version %s, backup %+v; want succeeded on %s from a backup of at least %d keys", rep.Result, x.Version, x.Backup, version, c.Keys())
	}
	if x.KeysAfter < x.Backup.Keys || x.RevisionAfter < x.Backup.Revision {
		t.Errorf("restore report: %d keys at revision %d after, the backup held %d at %d", x.KeysAfter, x.RevisionAfter, x.Backup.Keys, x.Backup.Revision)
	}
	t.Logf("restored from %s (revision %d, %d keys): %d keys at revision %d after", filepath.Base(x.Backup.File), x.Backup.Revision, x.Backup.Keys, x.KeysAfter, x.RevisionAfter)
	return rep
}

// requireSetAside: every member whose data dir existed has it beside the
// new one, not deleted.
func requireSetAside(t *testing.T, rep restoreReport, c *testbed.Cluster, lost map[string]bool) {
	t.Helper()
	for _, h := range c.Hosts {
		a := rep.Restore.SetAside[h.Name]
		switch {
		case lost[h.Name] && a != "":
			t.Errorf("%s: set aside at %s, but its data dir was gone", h.Name, a)
		case lost[h.Name]:
		case a != h.DataDir+".etcdplay-aside":
			t.Errorf("%s: set aside at %q, want %s", h.Name, a, h.DataDir+".etcdplay-aside")
		default:
			if _, err := os.Stat(filepath.Join(a, "member", "wal")); err != nil {
				t.Errorf("%s: the data dir set aside is not there: %v", h.Name, err)
			}
		}
	}
}

// TestRestore_AfterUpgrade_3_5_to_3_6: a full 3.5-to-3.6 upgrade, under a
// writer; then the cluster version is 3.6 and rollback refuses, so
// `restore` brings it back to 3.5 from the snapshot the run took.
func TestRestore_AfterUpgrade_3_5_to_3_6(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "3.5", faultKeys)
	o := newOperator(t, c)
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o.etcdplay(ctx, "run", "3.5-to-3.6").want(t, exitOK)
	w.Stop()
	requireVersions(ctx, t, c, release(t, "3.6"), "3.6.0")

	t.Log("every member is on 3.6: the way back is the snapshot")
	res := o.etcdplay(ctx, "restore", "-y")
	res.want(t, exitOK)
	rep := requireRestored(ctx, t, o, c, release(t, "3.5"))
	requireSetAside(t, rep, c, nil)
	if got := len(res.steps(events.StepDone, "", "restore-data")); got != len(c.Hosts) {
		t.Errorf("%d members restored, want %d", got, len(c.Hosts))
	}
}

// TestRestore_TwoDataDirsLost_3_5: a 3-member 3.5 cluster loses two
// members' disks (killed, data dirs removed): no quorum. `restore` brings
// it back from the snapshot a run took before.
func TestRestore_TwoDataDirsLost_3_5(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "3.5", faultKeys)
	o := newOperator(t, c)
	snapshotOnly(ctx, t, o, c)

	lost := map[string]bool{}
	for _, i := range []int{1, 2} {
		h := c.Hosts[i]
		if err := c.KillMember(ctx, i); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(h.DataDir); err != nil {
			t.Fatal(err)
		}
		lost[h.Name] = true
		t.Logf("%s killed and its data dir %s removed", h.Name, h.DataDir)
	}
	o.etcdplay(ctx, "restore", "-y").want(t, exitOK)
	rep := requireRestored(ctx, t, o, c, release(t, "3.5"))
	requireSetAside(t, rep, c, lost)
}

// TestRestore_KilledHalfway_Resume_3_5: etcdplay is killed (SIGKILL) right
// after the first member's data was restored, with every member stopped;
// `resume` finishes the restore from the journal without redoing it.
func TestRestore_KilledHalfway_Resume_3_5(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "3.5", faultKeys)
	o := newOperator(t, c)
	snapshotOnly(ctx, t, o, c)

	res := o.watch(ctx, func(e events.Event, p *os.Process) {
		if e.Kind == events.StepDone && e.Action == "restore-data" {
			p.Signal(syscall.SIGKILL)
		}
	}, "restore", "-y")
	if res.code != -1 {
		t.Fatalf("etcdplay restore exited %d; want it killed halfway", res.code)
	}
	for i, h := range c.Hosts {
		if p := c.MemberPID(i); p != 0 {
			t.Errorf("%s runs (pid %d) after the kill; want every member stopped", h.Name, p)
		}
	}
	res = o.etcdplay(ctx, "resume")
	res.want(t, exitOK)
	if got := len(res.steps(events.StepDone, "", "restore-data")); got != len(c.Hosts)-1 {
		t.Errorf("resume restored %d members, want the %d left", got, len(c.Hosts)-1)
	}
	if got := len(res.steps(events.StepStart, "", "ssh-stop")); got != 0 {
		t.Errorf("resume stopped members again (%d ssh-stop); the journal says they are stopped", got)
	}
	rep := requireRestored(ctx, t, o, c, release(t, "3.5"))
	requireSetAside(t, rep, c, nil)
}

// TestRestore_CorruptSnapshotRefused_3_5: a snapshot damaged after the
// backup is refused before anything stops.
func TestRestore_CorruptSnapshotRefused_3_5(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "3.5", 200)
	o := newOperator(t, c)
	snapshotOnly(ctx, t, o, c)
	snaps, _ := filepath.Glob(filepath.Join(o.backupDir, "snapshot*.db"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots in %s: %v", o.backupDir, snaps)
	}
	f, err := os.OpenFile(snaps[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("damaged"), 8192); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before := pids(c)
	res := o.etcdplay(ctx, "restore", "-y")
	res.want(t, exitPreflight)
	if !strings.Contains(res.stderr, "integrity hash mismatch") {
		t.Errorf("refusal does not name the damage:\n%s", res.stderr)
	}
	requireUntouched(t, c, before)
}

// withoutRestoreRules drops the restore rules `etcdplay sudoers` prints
// apart (a comment line, then their Cmnd_Alias and rule), as an admin who
// chose not to grant them would.
func withoutRestoreRules(rules []string) (out []string, dropped int) {
	skip := false
	for _, l := range rules {
		switch {
		case strings.HasPrefix(l, "# ") && strings.Contains(l, "etcdplay restore only"):
			skip = true
			dropped++
			continue
		case strings.HasPrefix(l, "# "):
			skip = false
		}
		if !skip {
			out = append(out, l)
		}
	}
	return out, dropped
}

// TestRestore_Production_3_5: least privilege. On a production-shaped 3.5
// cluster (login user owns nothing of etcd's, exact sudo rules), with the
// restore rules not granted, restore refuses before anything stops and
// names the missing line; with the lines `etcdplay sudoers` printed for
// it, the data dirs come back owned by etcd's user and the cluster with
// every key.
func TestRestore_Production_3_5(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c, o, rules := startProductionBed(ctx, t, "3.5", faultKeys)
	snapshotOnly(ctx, t, o, c)

	fewer, dropped := withoutRestoreRules(rules)
	if dropped != len(c.Hosts) {
		t.Fatalf("etcdplay sudoers printed %d restore rules, want one per host:\n%s", dropped, strings.Join(rules, "\n"))
	}
	if err := c.SetSudoRules(ctx, fewer); err != nil {
		t.Fatal(err)
	}
	before := pids(c)
	res := o.etcdplay(ctx, "restore", "-y")
	res.want(t, exitPreflight)
	if !strings.Contains(res.stderr, "missing sudo rule") || !strings.Contains(res.stderr, ".etcdplay-aside") {
		t.Errorf("the refusal does not name the missing restore line:\n%s", lastLines(res.stderr, 20))
	}
	requireUntouched(t, c, before)

	t.Log("the admin grants the restore lines etcdplay sudoers printed")
	if err := c.SetSudoRules(ctx, rules); err != nil {
		t.Fatal(err)
	}
	o.etcdplay(ctx, "restore", "-y").want(t, exitOK)
	requireRestored(ctx, t, o, c, release(t, "3.5"))
	for _, h := range c.Hosts {
		st, err := os.Stat(h.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; int(uid) != etcdUID(t) {
			t.Errorf("%s: data dir owned by uid %d, want %s's", h.Name, uid, testbed.EtcdUser)
		}
	}
}

func etcdUID(t *testing.T) int {
	t.Helper()
	u, err := user.Lookup(testbed.EtcdUser)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := strconv.Atoi(u.Uid)
	return id
}

// TestRestore_AfterUpgrade_2_1_to_2_2: a full 2.1-to-2.2 upgrade under a
// writer; then every member runs 2.2 and the way back is the member
// backups the run fetched: `restore` brings the cluster back on 2.1 by
// the admin guide's disaster recovery (one member from its backup with
// --force-new-cluster, the others added back with empty data dirs).
func TestRestore_AfterUpgrade_2_1_to_2_2(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "2.1", 300)
	o := newOperator(t, c)
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	o.etcdplay(ctx, "run", "2.1-to-2.2").want(t, exitOK)
	w.Stop()
	requireVersions(ctx, t, c, release(t, "2.2"), "2.2.0")

	t.Log("every member is on 2.2: the way back is the member backups")
	res := o.etcdplay(ctx, "restore", "-y")
	res.want(t, exitOK)
	requireVersions(ctx, t, c, release(t, "2.1"), "2.1.0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	if got := len(res.steps(events.StepDone, "", "restore-join")); got != len(c.Hosts)-1 {
		t.Errorf("%d members joined back, want %d", got, len(c.Hosts)-1)
	}
	rep := o.restoreReport()
	if rep.Result != "succeeded" || rep.Restore.Version == "" || rep.Restore.KeysAfter < c.Keys() || rep.Restore.RevisionAfter == 0 {
		t.Errorf("restore report: result %s, version %s, %d keys at revision %d after; want succeeded, at least the %d keys written",
			rep.Result, rep.Restore.Version, rep.Restore.KeysAfter, rep.Restore.RevisionAfter, c.Keys())
	}
	for _, h := range c.Hosts {
		a := rep.Restore.SetAside[h.Name]
		if _, err := os.Stat(filepath.Join(a, "member", "wal")); a == "" || err != nil {
			t.Errorf("%s: data dir set aside at %q: %v", h.Name, a, err)
		}
	}
	requireV2Membership(ctx, t, c)
	for _, e := range res.events {
		if e.Message == "peer URLs set" {
			t.Logf("the seed's peer URLs were set: %v", e.Fields)
		}
	}
	t.Logf("restored from %s: %d members on %s, %d keys written before, %d keys at index %d after", filepath.Base(rep.Restore.Backup.File), len(c.Hosts), release(t, "2.1"), c.Keys(), rep.Restore.KeysAfter, rep.Restore.RevisionAfter)
}

// requireV2Membership: the restored cluster lists exactly the bed's
// members by name at their own peer URLs, and each runs from its service
// (the service's pid file names a live etcd), with no one-off left.
func requireV2Membership(ctx context.Context, t *testing.T, c *testbed.Cluster) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.Hosts[0].ClientURL+"/v2/members", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ms struct {
		Members []struct {
			Name     string   `json:"name"`
			PeerURLs []string `json:"peerURLs"`
		} `json:"members"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ms); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range ms.Members {
		got[m.Name] = strings.Join(m.PeerURLs, ",")
	}
	for i, h := range c.Hosts {
		if !slices.Contains(slices.Collect(maps.Values(got)), h.PeerURL) {
			t.Errorf("no member at %s after the restore: %v", h.PeerURL, got)
		}
		if c.MemberPID(i) == 0 {
			t.Errorf("%s does not run from its service", h.Name)
		}
		if _, err := os.Stat(h.DataDir + ".etcdplay-restore.pid"); err == nil {
			t.Errorf("%s: a one-off pid file is left", h.Name)
		}
	}
	if len(ms.Members) != len(c.Hosts) {
		t.Errorf("%d members after the restore (%v), want %d", len(ms.Members), got, len(c.Hosts))
	}
	t.Logf("members after the restore: %v", got)
}

// TestRestore_V2_KilledHalfway_Resume: etcdplay is killed (SIGKILL) right
// after the first member joined back, with its one-off stopped and its
// service not started yet; `resume` finishes the v2 restore from the
// journal without restoring or joining anything twice.
func TestRestore_V2_KilledHalfway_Resume(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "2.1", 200)
	o := newOperator(t, c)
	o.etcdplay(ctx, "run", "2.1-to-2.2").want(t, exitOK)

	res := o.watch(ctx, func(e events.Event, p *os.Process) {
		if e.Kind == events.StepDone && e.Action == "restore-join" {
			p.Signal(syscall.SIGKILL)
		}
	}, "restore", "-y")
	if res.code != -1 {
		t.Fatalf("etcdplay restore exited %d; want it killed halfway", res.code)
	}
	res = o.etcdplay(ctx, "resume")
	res.want(t, exitOK)
	for _, a := range []string{"restore-data", "restore-force-new", "ssh-stop"} {
		if got := len(res.steps(events.StepStart, "", a)); got != 0 {
			t.Errorf("resume ran %s %d times; the journal says it was done", a, got)
		}
	}
	if got := len(res.steps(events.StepDone, "", "restore-join")); got != len(c.Hosts)-2 {
		t.Errorf("resume joined %d members, want the %d left", got, len(c.Hosts)-2)
	}
	requireVersions(ctx, t, c, release(t, "2.1"), "2.1.0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	requireV2Membership(ctx, t, c)
}
