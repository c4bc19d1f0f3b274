package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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

// TestBedUpgrade34To35 is one smoke run on the real bed: three etcd 3.4
// members behind real sshd, the shipped 3.4-to-3.5 playbook run through
// the runner with target, the v3 lock in the cluster. Every member
// ends on 3.5.x, the keys written before are all there, and a second run
// is a no-op. It is skipped where the bed is not provisioned (a failure with
// ETCDPLAY_REQUIRE_BED=1, as in CI); -short skips it.
func TestBedUpgrade34To35(t *testing.T) {
	if testing.Short() {
		t.Skip("the real bed takes a minute; -short skips it")
	}
	bed := testbed.StartT(t, testbed.Options{Version: "3.4"})
	ctx, cancel := context.WithTimeout(context.Background(), bedTimeout)
	defer cancel()
	if err := bed.WriteKeys(ctx, 200); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d keys to a 3.4 cluster (%s)", bed.Keys(), bed.Version)

	src, path, err := playbooks.Read("3.4-to-3.5")
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
	inv, err := schema.LoadInventory(bed.InventoryPath, isrc)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := target.Open(ctx, inv, target.Options{SSHConfigFile: "none", AgentSocket: "none", HomeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	rec := &events.Recorder{}
	o := Options{
		Playbook: pb, Inventory: inv, PlaybookPath: "3.4-to-3.5", InventoryPath: bed.InventoryPath,
		PlaybookDigest: journal.Digest(src), InventoryDigest: journal.Digest(isrc),
		Cluster: tg, Hosts: tg, Sink: events.Multi(rec, logSink{t}),
		StateDir: filepath.Join(t.TempDir(), inv.Cluster), BackupDir: t.TempDir(),
	}
	o.Locker = tg.Locker()

	t.Log("run the shipped playbook: followers first, the leader last")
	res, err := Apply(ctx, o)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, m := range res.Members {
		if m.State != "upgraded" || !strings.HasPrefix(m.After, "3.5.") {
			t.Errorf("%s: %s, %s -> %s; want upgraded to 3.5.x", m.Name, m.State, m.Before, m.After)
		}
	}
	n, err := bed.VerifyKeys(ctx)
	if err != nil {
		t.Fatalf("keys after the upgrade: %v", err)
	}
	t.Logf("all %d keys read back on 3.5", n)
	if _, err := os.Stat(filepath.Join(o.StateDir, "report.md")); err != nil {
		t.Error(err)
	}

	t.Log("run it again: every member is on 3.5, nothing is stopped")
	before := len(rec.Events())
	if _, err := Apply(ctx, o); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	for _, e := range rec.Events()[before:] {
		if e.Kind == events.StepStart && e.Phase == schema.PhaseMembers {
			t.Errorf("second run started a member step: %+v", e)
		}
	}
}

// logSink narrates a run in the test log.
type logSink struct{ t *testing.T }

func (l logSink) Emit(e events.Event) {
	e = events.Redact(e)
	where := e.Member
	if where == "" {
		where = string(e.Phase)
	}
	l.t.Logf("%-9s %-12s %d %s %s", e.Kind, where, e.StepIndex, e.Action, e.Message)
}

var bedTimeout = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("ETCDPLAY_BED_TIMEOUT")); err == nil {
		return d
	}
	return 8 * time.Minute
}()
