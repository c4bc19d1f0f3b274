package runner

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/report"
	"github.com/etcdplay/etcdplay/steps"
)

// backupPlaybook backs up in preflight (as fakePlaybook does), then fails
// on infra1 after its binary moved to 3.5, so there is a member to roll
// back.
var backupPlaybook = failsOnInfra1

func readReport(t *testing.T, path string) (r struct {
	Backup  *steps.BackupManifest  `json:"backup"`
	Backups []steps.BackupManifest `json:"backups"`
}) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// The manifest the backup step hands over stays typed all the way: into
// backup.json, the run's report, the rollback's report and the way back
// a refused rollback names.
func TestBackupManifestReachesRollbackAndReport(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	h := newHarness(t, backupPlaybook, fc)
	res, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.StepFailed {
		t.Fatalf("run: %v", err)
	}
	want, _ := fakeBackup(h.o.BackupDir)
	snapshot := want.File
	rep := readReport(t, filepath.Join(h.o.StateDir, report.JSONFile))
	if rep.Backup == nil || *rep.Backup != want || len(rep.Backups) != 1 {
		t.Errorf("report backup %+v, backups %+v; want the snapshot the step recorded", rep.Backup, rep.Backups)
	}
	got, err := readBackups(h.o.StateDir, res.RunID)
	if err != nil || len(got) != 1 || got[0] != want {
		t.Errorf("backup.json: %+v, %v", got, err)
	}
	if b := h.backupOf(t); b["file"] != snapshot || b["sha256"] != want.SHA256 || b["cluster_id"] != want.ClusterID {
		t.Errorf("record event fields %v", b)
	}

	// While the cluster version is still 3.4 the member goes back, and the
	// rollback's own report lists the run's backup.
	if _, err := Rollback(context.Background(), h.o, ""); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if rb := readReport(t, filepath.Join(h.o.StateDir, "rollback", report.JSONFile)); rb.Backup == nil || rb.Backup.File != snapshot {
		t.Errorf("rollback report backup %+v", rb.Backup)
	}

	// Once the cluster version moved, the refusal names that snapshot.
	fc.version = "3.5.0"
	_, err = Rollback(context.Background(), h.o, "infra1")
	if exit.Code(err) != exit.Refused || !strings.Contains(exit.Hint(err), "restore the snapshot in "+snapshot) {
		t.Errorf("refused rollback: %v, hint %q; want the snapshot named", err, exit.Hint(err))
	}

	// Another run's backup.json is not this run's way back.
	h.o.RunID = "another-run"
	_, err = Rollback(context.Background(), h.o, "infra1")
	if strings.Contains(exit.Hint(err), snapshot) {
		t.Errorf("hint %q names a snapshot of another run", exit.Hint(err))
	}
}
