package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// backupGate is invariant 4 of docs/safety.md: before the first member
// stops, this run holds a verified backup. It is one of: the manifest this
// run's backup step recorded (the step verified the file); on resume, the
// run's backup.json; a manifest the operator named with --backup, checked
// against this cluster (same cluster id, revision not ahead of the
// cluster's, the file's sha256 as recorded); or --no-backup, confirmed on
// the terminal or with --yes. Anything else is a refusal before any stop,
// whatever the playbook's guards skipped. It runs right before the first
// stop, or, when the members' steps take the backup of the stopped member
// (the 2.x guides: stop, then etcdctl backup), right before the first
// change after it (the swap).
func (r *run) backupGate(ctx context.Context) error {
	if r.holdsBackup || r.noBackupConfirmed {
		return nil
	}
	c, err := r.probe(ctx)
	if err != nil {
		return err
	}
	hint := "add a backup step to the playbook's preflight, name a backup with --backup FILE (a manifest*.json beside a snapshot), or give --no-backup"
	if r.o.BackupFile != "" {
		m, err := checkBackup(r.o.BackupFile, c)
		if err != nil {
			return refused(fmt.Errorf("--backup %s: %w", r.o.BackupFile, err), "name the manifest of a backup of this cluster, taken before this run")
		}
		r.backups, r.holdsBackup = append(r.backups, m), true
		r.emit(events.Event{Kind: events.Gate, Phase: schema.PhaseMembers,
			Message: fmt.Sprintf("safety gate: backup %s of cluster %s at revision %d (current %d) verified", m.File, m.ClusterID, m.Revision, c.Revision)})
		return nil
	}
	if n := len(r.backups); r.mode == modeResume && n > 0 {
		// The run's own backup, read from its backup.json when the resume
		// started: still this cluster's, and its file unchanged.
		if err := checkManifest(r.backups[n-1], r.o.StateDir, c, true); err != nil {
			return refused(fmt.Errorf("the run's %s: %w", filepath.Join(r.o.StateDir, BackupFile), err), hint)
		}
		r.holdsBackup = true
		return nil
	}
	if r.o.NoBackup {
		ok := false
		if r.o.Confirm != nil {
			ok, _ = r.o.Confirm(ctx, "--no-backup: members will stop with no backup of this cluster. Go on?")
		}
		if !ok {
			return refused(errors.New("--no-backup was not confirmed"), "confirm on a terminal, or add --yes")
		}
		r.noBackupConfirmed = true
		r.emit(events.Event{Kind: events.Warn, Phase: schema.PhaseMembers, Message: "no backup: --no-backup given and confirmed"})
		return nil
	}
	return refused(errors.New("this run holds no verified backup (the playbook has no backup step, or its guard skipped it), and no member stops without one"), hint)
}

// checkBackup reads a backup manifest the operator named (a
// manifest*.json written beside a backup) and checks it belongs to c (see
// checkManifest). A v3 snapshot file given instead is looked up beside its
// manifest.
func checkBackup(path string, c *steps.ClusterStatus) (steps.BackupManifest, error) {
	var m steps.BackupManifest
	if !strings.HasSuffix(path, ".json") {
		matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "manifest*.json"))
		if len(matches) != 1 {
			return m, fmt.Errorf("not a manifest, and no single manifest*.json beside it")
		}
		path = matches[0]
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("not a backup manifest: %w", err)
	}
	return m, checkManifest(m, filepath.Dir(path), c, false)
}

// checkManifest checks that m is a backup of c: the same cluster id, a
// revision c has reached, and the file it names present with the recorded
// sha256. A relative file that is not where it says is looked for in dir,
// the manifest's folder. own is the run's own backup: a manifest without a
// cluster id (a cluster that reported none) is then held to its file and
// sha256 alone.
func checkManifest(m steps.BackupManifest, dir string, c *steps.ClusterStatus, own bool) error {
	switch {
	case m.ClusterID == "" && own:
	case m.ClusterID == "":
		return errors.New("the manifest names no cluster id, so nothing ties it to this cluster")
	case c.ID == 0:
		return errors.New("the cluster's id cannot be read, so the backup cannot be tied to it")
	case !strings.EqualFold(m.ClusterID, c.ID.String()):
		return fmt.Errorf("it is a backup of cluster %s, this cluster is %s", m.ClusterID, c.ID)
	case m.Revision > c.Revision:
		return fmt.Errorf("its revision %d is ahead of the cluster's %d: not a backup of this cluster's past", m.Revision, c.Revision)
	case m.File == "" || m.SHA256 == "":
		return errors.New("the manifest names no file or no sha256")
	}
	file := m.File
	if !filepath.IsAbs(file) {
		if _, err := os.Stat(file); err != nil {
			file = filepath.Join(dir, filepath.Base(file))
		}
	}
	sum, err := steps.FileSHA256(file)
	if err != nil {
		return err
	}
	if sum != m.SHA256 {
		return fmt.Errorf("%s has sha256 %s, the manifest says %s", file, sum, m.SHA256)
	}
	return nil
}

// BackupWarning is what validate says about a playbook with no backup
// step: a run of it stops members only with --backup or --no-backup.
func BackupWarning(pb *schema.Playbook) string {
	for _, ph := range pb.Phases() {
		if ph.Phase == schema.PhaseRollback {
			continue
		}
		for _, s := range ph.Steps {
			if s.Action == "backup" {
				return ""
			}
		}
	}
	return "the playbook takes no backup: a run refuses to stop members unless given --backup FILE or --no-backup"
}
