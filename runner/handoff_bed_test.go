package runner

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/playbooks"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/target"
	"github.com/etcdplay/etcdplay/testbed"
)

// TestBedUpgrade35To36Gently runs the shipped 3.5-to-3.6 playbook on real
// members while two applications write every 10 ms: one through every
// endpoint, one pinned to the leader. The hand-off is gentle (move-leader
// waits until every member follows the new leader and the old one applied
// what it had committed) and no stop waits on etcdplay's own stream, so
// the all-endpoints writer loses at most the one write a stopping member
// sometimes holds (see below); the pinned one loses writes only while its
// member is down. The report accounts for the time honestly: the classes and the overhead
// add up to the total, and each member's downtime covers its stop and
// start. Timing bars are loose here (a loaded CI machine); the benchmark
// reports the real figures.
func TestBedUpgrade35To36Gently(t *testing.T) {
	if testing.Short() {
		t.Skip("the real bed takes a minute; -short skips it")
	}
	bed := testbed.StartT(t, testbed.Options{Version: "3.5"})
	ctx, cancel := context.WithTimeout(context.Background(), bedTimeout)
	defer cancel()
	o, closeAll := bedOptions(t, ctx, bed, "3.5-to-3.6")
	defer closeAll()
	leader, err := bed.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := bed.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := bed.StartWriterOn(ctx, leader)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // both writers at work before the first stop

	t.Logf("upgrade 3.5 -> 3.6, leader %s last, writers on all endpoints and on %s", bed.Hosts[leader].Name, bed.Hosts[leader].Name)
	res, err := Apply(ctx, o)
	allStats, pinnedStats := all.Stop(), pinned.Stop()
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	t.Logf("writer on all endpoints: %v; longest stall from %s, failed writes sent at %v (last error: %q)",
		allStats, allStats.StallStart.Format("15:04:05.000"), clocks(allStats.FailedAt), allStats.LastError)
	t.Logf("writer pinned to the leader: %v", pinnedStats)
	// On this bed the guide's steps typed with plain ssh (bench/upgrade.sh)
	// also lose one write now and then, held for the writer's whole
	// timeout as a member stops under load (docs/performance.md): etcd's
	// and the client's, not the hand-off's. A rough hand-off or a stop
	// without leadership transfer costs more: an election's stall plus a
	// failed write per member stopped that way.
	if allStats.Failed > 1 {
		t.Errorf("the all-endpoints writer lost %d writes (last: %s), want at most 1", allStats.Failed, allStats.LastError)
	}
	if limit := testbed.WriterTimeout + time.Second; allStats.LongestStall > limit {
		t.Errorf("the all-endpoints writer stalled %v, want at most %v", allStats.LongestStall, limit)
	}
	for _, m := range res.Members {
		if m.State != "upgraded" {
			t.Errorf("%s: %s", m.Name, m.State)
		}
	}

	b, err := os.ReadFile(filepath.Join(filepath.Dir(res.Report), "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Totals  map[string]int64 `json:"totals"`
		Members []struct {
			Name       string `json:"name"`
			DowntimeMS int64  `json:"downtime_ms"`
			Timeline   []struct {
				Action     string `json:"action"`
				DurationMS int64  `json:"duration_ms"`
			} `json:"timeline"`
		} `json:"members"`
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	tt := js.Totals
	sum := tt["overhead_ms"]
	for _, k := range []string{"etcd_stop_ms", "etcd_start_ms", "catch_up_ms", "configured_wait_ms", "leader_handoff_ms",
		"transfer_ms", "swap_ms", "backup_ms", "check_ms", "operator_ms"} {
		sum += tt[k]
	}
	// each class is rounded to whole milliseconds on its own
	if d := sum - tt["total_ms"]; d < -12 || d > 12 {
		t.Errorf("the classes and the overhead add up to %d ms, the total is %d ms: %v", sum, tt["total_ms"], tt)
	}
	t.Logf("report: total %d ms, stop %d, start %d, catch-up %d, hand-off %d, transfers %d, swaps %d, backup %d, checks %d, overhead %d ms (%.1f%%)",
		tt["total_ms"], tt["etcd_stop_ms"], tt["etcd_start_ms"], tt["catch_up_ms"], tt["leader_handoff_ms"], tt["transfer_ms"],
		tt["swap_ms"], tt["backup_ms"], tt["check_ms"], tt["overhead_ms"], 100*float64(tt["overhead_ms"])/float64(tt["total_ms"]))
	for _, m := range js.Members {
		var stopStart int64
		for _, e := range m.Timeline {
			if e.Action == "ssh-stop" || e.Action == "ssh-start" {
				stopStart += e.DurationMS
			}
		}
		t.Logf("%s down %d ms (etcd stop + start %d ms)", m.Name, m.DowntimeMS, stopStart)
		if m.DowntimeMS < stopStart || m.DowntimeMS > stopStart+60_000 {
			t.Errorf("%s: downtime %d ms, want at least its stop + start (%d ms)", m.Name, m.DowntimeMS, stopStart)
		}
	}
}

func clocks(ts []time.Time) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Format("15:04:05.000"))
	}
	return out
}

// timedSink narrates a run with each event's time, so a writer's stall
// can be lined up with the step that caused it.
type timedSink struct{ t *testing.T }

func (l timedSink) Emit(e events.Event) {
	e = events.Redact(e)
	l.t.Logf("%s %-9s %-6s %d %s %s %v", e.Time.Format("15:04:05.000"), e.Kind, e.Member, e.StepIndex, e.Action, e.Message, e.Fields)
}

// bedOptions wires the runner to a bed cluster as `etcdplay run` does: the
// shipped playbook, the real target and the v3 lock.
func bedOptions(t *testing.T, ctx context.Context, bed *testbed.Cluster, playbook string) (Options, func()) {
	t.Helper()
	src, path, err := playbooks.Read(playbook)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := schema.LoadPlaybook(path, src, steps.Default())
	if err != nil {
		t.Fatal(err)
	}
	isrc, err := os.ReadFile(bed.InventoryPath)
	if err != nil {
		t.Fatal(err)
	}
	inv := loadBedInventory(t, bed)
	tg, err := target.Open(ctx, inv, target.Options{SSHConfigFile: "none", AgentSocket: "none", HomeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Playbook: pb, Inventory: inv, PlaybookPath: playbook, InventoryPath: bed.InventoryPath,
		PlaybookDigest: journal.Digest(src), InventoryDigest: journal.Digest(isrc),
		Cluster: tg, Hosts: tg, Sink: timedSink{t},
		StateDir: filepath.Join(t.TempDir(), inv.Cluster), BackupDir: t.TempDir(),
		Locker: tg.Locker(),
	}
	return o, func() { tg.Close() }
}
