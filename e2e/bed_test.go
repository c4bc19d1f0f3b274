//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/testbed"
)

// testTimeout bounds one test, cluster start and teardown included.
const testTimeout = 8 * time.Minute

// keysPerCluster is what the issue asks of every upgrade: at least 5000
// keys with checksummed values, each read back afterwards.
const keysPerCluster = 5000

// faultKeys is written before a fault scenario: enough that a lost or
// damaged key would show, quick to write on 3.x.
const faultKeys = 2000

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// startBed starts a cluster of the given version (a role from
// testbed/versions.txt) and writes n checksummed keys to it.
func startBed(ctx context.Context, t *testing.T, version string, n int) *testbed.Cluster {
	t.Helper()
	c := testbed.StartT(t, testbed.Options{Version: version})
	t0 := time.Now()
	if err := c.WriteKeys(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d checksummed keys to %s (etcd %s, %s API) in %v", n, c.Name, c.Version, c.API,
		time.Since(t0).Round(time.Millisecond))
	return c
}

// release resolves a versions.txt role to the exact version.
func release(t *testing.T, role string) string {
	t.Helper()
	v, err := testbed.Resolve(role)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// pids is every member's etcd pid (0: stopped).
func pids(c *testbed.Cluster) []int {
	out := make([]int, len(c.Hosts))
	for i := range c.Hosts {
		out[i] = c.MemberPID(i)
	}
	return out
}

// requireUntouched fails unless every member still runs the process it
// ran before (same pid, alive): nothing was stopped or restarted.
func requireUntouched(t *testing.T, c *testbed.Cluster, before []int) {
	t.Helper()
	after := pids(c)
	for i, p := range before {
		if p == 0 || after[i] != p {
			t.Errorf("%s: etcd pid %d before, %d after; want the same process, never stopped", c.Hosts[i].Name, p, after[i])
		}
	}
}

// requireVersions fails unless every member answers /version with server
// version server and (when cluster is not "") cluster version cluster.
func requireVersions(ctx context.Context, t *testing.T, c *testbed.Cluster, server, cluster string) {
	t.Helper()
	for i, h := range c.Hosts {
		v, err := c.ServerVersion(ctx, i)
		if err != nil {
			t.Errorf("%s: %v", h.Name, err)
			continue
		}
		if v.Server != server || (cluster != "" && v.Cluster != cluster) {
			t.Errorf("%s: /version says server %s, cluster %s; want server %s, cluster %s", h.Name, v.Server, v.Cluster, server, orAny(cluster))
		}
	}
	if !t.Failed() {
		t.Logf("every member answers /version: server %s, cluster %s", server, orAny(cluster))
	}
}

func orAny(s string) string {
	if s == "" {
		return "(any)"
	}
	return s
}

// requireHealthy fails unless every member answers /health true within
// 30 s. (testbed's WaitHealthy also wants the version the bed installed,
// which an upgrade has replaced.)
func requireHealthy(ctx context.Context, t *testing.T, c *testbed.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for i, h := range c.Hosts {
		for {
			ok, err := c.Health(ctx, i)
			if ok {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%s not healthy: %v", h.Name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// requireKeys fails unless every key written is present with its value
// and checksum: through the cluster (linearizable) and in each member's
// own store (a local read), so an upgraded member holds all the data.
func requireKeys(ctx context.Context, t *testing.T, c *testbed.Cluster) {
	t.Helper()
	n, err := c.VerifyKeys(ctx)
	if err != nil {
		t.Fatalf("keys: %v", err)
	}
	for i, h := range c.Hosts {
		if _, err := c.VerifyKeysOn(ctx, i); err != nil {
			t.Errorf("keys on %s: %v", h.Name, err)
		}
	}
	if n != c.Keys() {
		t.Fatalf("%d keys verified, %d written", n, c.Keys())
	}
	t.Logf("all %d keys present with their values, on the cluster and in each member's own store", n)
}

// runReport is the part of report.json (runner/report) the tests read.
type runReport struct {
	RunID  string `json:"run_id"`
	Result string `json:"result"`
	Totals struct {
		TotalMS     int64 `json:"total_ms"`
		EtcdStopMS  int64 `json:"etcd_stop_ms"`
		EtcdStartMS int64 `json:"etcd_start_ms"`
		WaitsMS     int64 `json:"waits_ms"`
		OverheadMS  int64 `json:"overhead_ms"`
		OperatorMS  int64 `json:"operator_ms"`
	} `json:"totals"`
	Members []struct {
		Name          string        `json:"name"`
		VersionBefore string        `json:"version_before"`
		VersionAfter  string        `json:"version_after"`
		State         string        `json:"state"`
		Timeline      []reportEntry `json:"timeline"`
	} `json:"members"`
	Steps  []reportEntry  `json:"steps"`
	Backup map[string]any `json:"backup"`
}

type reportEntry struct {
	Action     string `json:"action"`
	DurationMS int64  `json:"duration_ms"`
}

// actionMS sums the time the run spent in steps of one action, preflight,
// members and finish together.
func (r runReport) actionMS(action string) int64 {
	var ms int64
	for _, e := range r.Steps {
		if e.Action == action {
			ms += e.DurationMS
		}
	}
	for _, m := range r.Members {
		for _, e := range m.Timeline {
			if e.Action == action {
				ms += e.DurationMS
			}
		}
	}
	return ms
}

// stateDir is the cluster's state folder under the operator's --state-dir.
func (o *operator) clusterState() string {
	o.t.Helper()
	dir, err := journal.StateDir(o.stateDir, o.c.Name)
	if err != nil {
		o.t.Fatal(err)
	}
	return dir
}

// report reads report.json, written at the end of every run.
func (o *operator) report() runReport {
	o.t.Helper()
	p := filepath.Join(o.clusterState(), "report.json")
	b, err := os.ReadFile(p)
	if err != nil {
		o.t.Fatalf("the run wrote no report: %v", err)
	}
	var r runReport
	if err := json.Unmarshal(b, &r); err != nil {
		o.t.Fatalf("%s: %v", p, err)
	}
	return r
}

// journalText is the run's journal, for "was this member ever stopped".
func (o *operator) journalText() string {
	b, err := os.ReadFile(filepath.Join(o.clusterState(), "journal.jsonl"))
	if err != nil && !os.IsNotExist(err) {
		o.t.Fatal(err)
	}
	return string(b)
}

// editInventory writes a copy of the bed's inventory changed by edit
// (the YAML as maps and lists) and returns its path. It lives in the
// cluster's run folder, beside the original, so relative paths would
// resolve the same way.
func (o *operator) editInventory(name string, edit func(inv map[string]any)) string {
	o.t.Helper()
	b, err := os.ReadFile(o.c.InventoryPath)
	if err != nil {
		o.t.Fatal(err)
	}
	var inv map[string]any
	if err := yaml.Unmarshal(b, &inv); err != nil {
		o.t.Fatal(err)
	}
	edit(inv)
	out, err := yaml.Marshal(inv)
	if err != nil {
		o.t.Fatal(err)
	}
	p := filepath.Join(o.c.Dir, name)
	if err := os.WriteFile(p, out, 0o644); err != nil {
		o.t.Fatal(err)
	}
	return p
}

// setRelease points the inventory's release version at another binary.
func setRelease(inv map[string]any, version, remote string) {
	rel := inv["releases"].(map[string]any)[version].(map[string]any)
	rel["remote"] = remote
}

// requireV3Backup checks the snapshot preflight took: the file the report
// names exists under --backup-dir, its etcd integrity hash verifies, its
// sha256 is the one recorded, and it holds at least the keys written.
func (o *operator) requireV3Backup(rep runReport) {
	t := o.t
	t.Helper()
	file, _ := rep.Backup["file"].(string)
	if file == "" {
		t.Fatalf("the report records no backup file: %v", rep.Backup)
	}
	if !strings.HasPrefix(file, o.backupDir) {
		t.Errorf("snapshot %s is not under --backup-dir %s", file, o.backupDir)
	}
	info, err := etcdprobe.VerifySnapshot(file)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if sum, _ := rep.Backup["sha256"].(string); sum != info.SHA256 {
		t.Errorf("snapshot sha256 %s, the report recorded %s", info.SHA256, sum)
	}
	if info.Revision <= 0 || info.Keys < o.c.Keys() {
		t.Errorf("snapshot holds revision %d and %d keys; want revision > 0 and at least the %d keys written", info.Revision, info.Keys, o.c.Keys())
	}
	t.Logf("backup %s verifies: %d bytes, revision %d, %d keys, sha256 %s...", filepath.Base(file), info.Size, info.Revision, info.Keys, info.SHA256[:12])
}

// v2Manifest is the part of a v2 backup manifest the tests read.
type v2Manifest struct {
	Kind      string `json:"kind"`
	Member    string `json:"member"`
	File      string `json:"file"`
	SHA256    string `json:"sha256"`
	RemoteDir string `json:"remote_dir"`
	WALFiles  int    `json:"wal_files"`
}

// requireV2Backups checks the `etcdctl backup` each member step took:
// one manifest per member under --backup-dir, the fetched archive's
// sha256 equal to the manifest's, and the backup folder still on the host
// with its snap folder and WAL files.
func (o *operator) requireV2Backups(ctx context.Context) {
	t := o.t
	t.Helper()
	found := map[string]v2Manifest{}
	err := filepath.WalkDir(o.backupDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") || !strings.Contains(filepath.Base(p), "manifest") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var m v2Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if m.Kind == "v3-snapshot" {
			return nil // the v3 snapshot a 3.x path with v2 data takes beside them
		}
		found[m.Member] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range o.c.Hosts {
		m, ok := found[h.Name]
		if !ok {
			t.Errorf("%s: no backup manifest under %s", h.Name, o.backupDir)
			continue
		}
		sum, err := steps.FileSHA256(m.File)
		if err != nil {
			t.Errorf("%s: %v", h.Name, err)
			continue
		}
		if sum != m.SHA256 {
			t.Errorf("%s: archive %s has sha256 %s, manifest says %s", h.Name, m.File, sum, m.SHA256)
		}
		if m.Kind != "v2-etcdctl-backup" || m.WALFiles < 1 {
			t.Errorf("%s: manifest kind %q with %d WAL files; want v2-etcdctl-backup with WAL files", h.Name, m.Kind, m.WALFiles)
		}
		// etcdctl 2.1+ writes member/{snap,wal}; 2.0's etcdctl the 2.0.0
		// layout, {snap,wal} at the top.
		out, err := o.c.SSH(ctx, i, fmt.Sprintf("d='%s'; [ -d \"$d/member\" ] && d=$d/member; test -d \"$d/snap\" && ls \"$d/wal\" | grep -c '\\.wal$'", m.RemoteDir))
		if err != nil {
			t.Errorf("%s: backup folder %s on the host: %v", h.Name, m.RemoteDir, err)
			continue
		}
		t.Logf("%s: backup %s on the host (%s WAL files), archive sha256 %s... matches its manifest", h.Name, m.RemoteDir, strings.TrimSpace(out), sum[:12])
	}
}

func secs(ms int64) string { return fmt.Sprintf("%.1fs", float64(ms)/1000) }

// printSummary prints one line per upgrade, in the test log and on
// stdout, where CI keeps it even without -v: the run's total, the time
// inside etcd's stop and start and the waits for health, catch-up and the
// cluster version (report.json's totals), the runner's overhead (all the
// rest) with the two biggest parts of it, binary swaps and backups, and
// what the writer saw.
func printSummary(t *testing.T, playbook string, rep runReport, st testbed.WriterStats, keys int) {
	t.Helper()
	tt := rep.Totals
	line := fmt.Sprintf("e2e: %s total=%s stop=%s start=%s waits=%s overhead=%s swap=%s backup=%s writer_stall=%dms failed_writes=%d keys=%d",
		playbook, secs(tt.TotalMS), secs(tt.EtcdStopMS), secs(tt.EtcdStartMS), secs(tt.WaitsMS), secs(tt.OverheadMS),
		secs(rep.actionMS("swap")), secs(rep.actionMS("backup")), st.LongestStall.Milliseconds(), st.Failed, keys)
	t.Log(line)
	fmt.Println(line)
}

// scenario prints a fault scenario's line when the test ends.
func scenario(t *testing.T, name string) {
	start := time.Now()
	t.Cleanup(func() {
		result := "ok"
		if t.Failed() {
			result = "FAILED"
		}
		line := fmt.Sprintf("e2e: scenario %s %s took=%s", name, result, time.Since(start).Round(100*time.Millisecond))
		t.Log(line)
		fmt.Println(line)
	})
}

// requireWriter checks what the application-like writer saw during the
// run: the cluster kept serving writes, at most one write was lost per
// member restart, and no outage lasted longer than one write's deadline.
// (Quorum itself is checked by counting processes: requireQuorum.)
//
// v3: a write can fail, or wait out its deadline, without quorum ever
// being at risk, and no runner can prevent it; seen on this bed in about
// one run in three under load:
//   - a leader transfer (move-leader, or a 3.x leader's own handover when
//     it is stopped) makes the leader drop the proposals that arrive
//     meanwhile: a write sent to it fails at once with "raft proposal
//     dropped", one a follower forwarded waits its whole 2 s deadline;
//   - a 3.4 member cuts its in-flight RPCs on SIGTERM ("Unavailable ...
//     error reading from server: EOF, received prior goaway"; 3.5+ drain).
//
// So: at most one failed write per member stop, a longest stall of at most
// one write deadline plus 500 ms, and every failure printed.
//
// v2: 2.x has no leadership transfer, so stopping the leader (once, last)
// costs an election: the writes in flight wait it out, about 2 s here, and
// with the writer's 2 s deadline one or, on a slow election, two of them
// fail. That is etcd 2.x, not the runner: allow two per playbook run
// (each run stops every member once, so restarts/members runs: a route
// pays it on every hop) and a 5 s stall.
func requireWriter(t *testing.T, c *testbed.Cluster, st testbed.WriterStats, restarts int) {
	t.Helper()
	t.Logf("writer: %v", st)
	if st.OK == 0 {
		t.Errorf("writer wrote nothing")
	}
	maxFailed, maxStall := restarts, testbed.WriterTimeout+500*time.Millisecond
	switch {
	case c.API == "v2":
		maxFailed, maxStall = 2*max(1, restarts/len(c.Hosts)), 5*time.Second
	case strings.HasPrefix(c.Version, "3.0."):
		// 3.0 has no leadership transfer on stop (3.1 added it): the
		// leader's stop costs an election, as on 2.x. The writer is
		// sequential, so each write deadline the election outlasts is
		// one more failed write: the leader's stop may cost as many as
		// the stall bound holds deadlines (two), on top of one per stop.
		// Seen: 4 failed writes in 3 stops with two CI suites at once.
		maxStall = 5 * time.Second
		maxFailed = restarts + int(maxStall/testbed.WriterTimeout)
	}
	if st.Failed > maxFailed || st.LongestStall > maxStall {
		t.Errorf("writer: %d failed writes (last: %s), longest stall %v; want at most %d and %v on %s",
			st.Failed, st.LastError, st.LongestStall.Round(time.Millisecond), maxFailed, maxStall, c.API)
	} else if st.Failed > 0 {
		t.Logf("writer: %d write(s) lost while a member stopped or leadership moved, within the bound (last: %s)", st.Failed, st.LastError)
	}
}

// quorumWatch samples, every 10 ms, how many members have a running etcd
// process, and keeps the lowest count: the runner must never have stopped
// a second member while one was down.
type quorumWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	minUp  int
	at     time.Time
}

func watchQuorum(ctx context.Context, c *testbed.Cluster) *quorumWatch {
	ctx, cancel := context.WithCancel(ctx)
	q := &quorumWatch{cancel: cancel, done: make(chan struct{}), minUp: len(c.Hosts)}
	go func() {
		defer close(q.done)
		for ctx.Err() == nil {
			up := 0
			for _, p := range pids(c) {
				if p != 0 {
					up++
				}
			}
			if up < q.minUp {
				q.minUp, q.at = up, time.Now()
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return q
}

// stop ends the watch and returns the fewest members seen running.
func (q *quorumWatch) stop() int {
	q.cancel()
	<-q.done
	return q.minUp
}

// requireQuorum fails unless a majority of members ran at every sample.
func requireQuorum(t *testing.T, c *testbed.Cluster, q *quorumWatch) {
	t.Helper()
	up := q.stop()
	if need := len(c.Hosts)/2 + 1; up < need {
		t.Errorf("quorum lost: only %d of %d members ran at %s; want at least %d at all times",
			up, len(c.Hosts), q.at.UTC().Format("15:04:05.000"), need)
		return
	}
	t.Logf("quorum kept throughout: at least %d of %d members ran at every 10 ms sample", up, len(c.Hosts))
}

// stops counts the ssh-stop steps the results started: the member
// restarts requireWriter allows one immediate failed write for.
func stops(rs ...*result) int {
	n := 0
	for _, r := range rs {
		if r != nil {
			n += len(r.steps(events.StepStart, "", "ssh-stop"))
		}
	}
	return n
}
