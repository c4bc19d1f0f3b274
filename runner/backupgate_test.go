package runner

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/steps"
)

var noBackupPlaybook = strings.Replace(fakePlaybook, "  - backup: {}\n", "", 1)

// Invariant 4 (docs/safety.md): no backup, no stop. A playbook without a backup step, or
// whose backup a guard skipped, used to stop members with no backup.
func TestNoBackupNoStop(t *testing.T) {
	for name, pb := range map[string]string{
		"no backup step":            noBackupPlaybook,
		"backup skipped by a guard": strings.Replace(fakePlaybook, "  - backup: {}\n", "  - when: 'cluster.dbSize > 100 * GB'\n    backup: {}\n", 1),
	} {
		t.Run(name, func(t *testing.T) {
			fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
			h := newHarness(t, pb, fc)
			_, err := Apply(context.Background(), h.o)
			if exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), "holds no verified backup") || !strings.Contains(exit.Hint(err), "--backup FILE") {
				t.Fatalf("exit %d (%v, hint %q), want 5", exit.Code(err), err, exit.Hint(err))
			}
			if len(fc.stopped()) != 0 {
				t.Errorf("stopped %v with no backup", fc.stopped())
			}
		})
	}
}

// --no-backup needs a yes: without a terminal or --yes it is refused;
// confirmed, the run goes on and says so.
func TestNoBackupNeedsConfirmation(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, noBackupPlaybook, fc)
	h.o.NoBackup = true
	if _, err := Apply(context.Background(), h.o); exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), "--no-backup was not confirmed") {
		t.Fatalf("unconfirmed: %v", err)
	}
	if len(fc.stopped()) != 0 {
		t.Fatalf("stopped %v", fc.stopped())
	}
	h = newHarness(t, noBackupPlaybook, fc)
	h.o.NoBackup = true
	var asked string
	h.o.Confirm = func(_ context.Context, msg string) (bool, error) { asked = msg; return true, nil }
	if _, err := Apply(context.Background(), h.o); err != nil {
		t.Fatalf("confirmed: %v", err)
	}
	if !strings.Contains(asked, "no backup") || !contains(h.messages(events.Warn), "no backup: --no-backup given and confirmed") {
		t.Errorf("asked %q, warnings %q", asked, h.messages(events.Warn))
	}
}

// --backup names a backup taken before: it must be of this cluster, not
// ahead of it, and its file as the manifest recorded.
func TestNamedBackupIsChecked(t *testing.T) {
	write := func(t *testing.T, edit func(m *steps.BackupManifest)) string {
		dir := t.TempDir()
		m, err := fakeBackup(dir)
		if err != nil {
			t.Fatal(err)
		}
		edit(&m)
		b, _ := json.Marshal(m)
		p := filepath.Join(dir, "manifest.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := map[string]struct {
		edit func(m *steps.BackupManifest)
		want string // "" = accepted
	}{
		"good":            {func(*steps.BackupManifest) {}, ""},
		"another cluster": {func(m *steps.BackupManifest) { m.ClusterID = "00000000000000aa" }, "backup of cluster 00000000000000aa"},
		"no cluster id":   {func(m *steps.BackupManifest) { m.ClusterID = "" }, "names no cluster id"},
		"from the future": {func(m *steps.BackupManifest) { m.Revision = 5000 }, "revision 5000 is ahead of the cluster's 100"},
		"file changed":    {func(m *steps.BackupManifest) { m.SHA256 = strings.Repeat("0", 64) }, "the manifest says 0000"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
			h := newHarness(t, noBackupPlaybook, fc)
			h.o.BackupFile = write(t, tc.edit)
			_, err := Apply(context.Background(), h.o)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("exit %d (%v), want 5 with %q", exit.Code(err), err, tc.want)
			case tc.want != "" && len(fc.stopped()) != 0:
				t.Errorf("stopped %v", fc.stopped())
			}
		})
	}
}

// backup.json is what rollback reads: a verified backup the run cannot
// record there fails the backup step (it used to drop the error), so the
// run is refused in preflight, naming the step and the file, before any
// member stops.
func TestBackupManifestWriteErrorIsNotIgnored(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	// A folder where backup.json should go: the rename over it fails.
	if err := os.MkdirAll(filepath.Join(h.o.StateDir, BackupFile, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Apply(context.Background(), h.o)
	if !strings.Contains(err.Error(), "preflight step 2/2 backup") || !strings.Contains(err.Error(), BackupFile) {
		t.Errorf("error %q does not name the backup step and %s", err, BackupFile)
	}
	if exit.Code(err) != exit.Refused || len(fc.stopped()) != 0 {
		t.Errorf("exit %d (%v), stopped %v: want a refusal before any stop", exit.Code(err), err, fc.stopped())
	}
}

// The 2.x guides stop a member, then back up its data dir: the gate then
// stands before the swap. A guard that skips that backup stops the run
// before any binary changes.
func TestBackupOfStoppedMemberGatesTheSwap(t *testing.T) {
	members := strings.Replace(noBackupPlaybook, "    - stop: {}\n", "    - stop: {}\n    - backup: {}\n", 1)
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, members, fc)
	if _, err := Apply(context.Background(), h.o); err != nil {
		t.Fatalf("backup after the stop: %v", err)
	}

	skipped := strings.Replace(noBackupPlaybook, "    - stop: {}\n", "    - stop: {}\n    - when: 'cluster.dbSize > 100 * GB'\n      backup: {}\n", 1)
	fc = newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h = newHarness(t, skipped, fc)
	_, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), "holds no verified backup") {
		t.Fatalf("exit %d (%v), want 5", exit.Code(err), err)
	}
	for _, m := range fc.members {
		if !strings.HasPrefix(m.binary, "3.4.") {
			t.Errorf("%s swapped to %s with no backup", m.name, m.binary)
		}
	}
}
