package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/etcdplay/etcdplay/internal/atomicfile"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// BackupFile keeps, in the state folder, the manifests of the verified
// backups a run took (steps.BackupManifest, typed from the backup step to
// here): rollback names the snapshot that remains a way back, and the
// report of a resumed run or a rollback lists them.
const BackupFile = "backup.json"

// backupRecord is backup.json. RunID ties it to one run, so a later run
// that failed before its own backup never points at an older snapshot.
type backupRecord struct {
	RunID   string                 `json:"run_id"`
	Backups []steps.BackupManifest `json:"backups"`
}

// recordBackup is a step's Env.RecordBackup: it keeps m for the report,
// rewrites backup.json with it durably (internal/atomicfile), and emits it
// as a record event. The step verified the backup, so from then on the run
// holds one (backupgate.go). A failed write fails the backup step: a backup
// rollback cannot name is no backup to rely on.
func (r *run) recordBackup(ph schema.Phase, member string, idx int) func(steps.BackupManifest) error {
	return func(m steps.BackupManifest) error {
		all := append(slices.Clip(r.backups), m)
		b, err := json.MarshalIndent(backupRecord{RunID: r.id, Backups: all}, "", "  ")
		if err == nil {
			err = atomicfile.Write(filepath.Join(r.o.StateDir, BackupFile), append(b, '\n'), 0o600)
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(r.o.StateDir, BackupFile), err)
		}
		r.backups, r.holdsBackup = all, true
		r.emit(events.Event{Kind: events.Record, Phase: ph, Member: member, StepIndex: idx, Message: "backup", Fields: m.Fields()})
		return nil
	}
}

// readBackups returns the backups run runID recorded in dir; none when
// backup.json is missing or belongs to another run.
func readBackups(dir, runID string) ([]steps.BackupManifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, BackupFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec backupRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, BackupFile), err)
	}
	if rec.RunID != runID {
		return nil, nil
	}
	return rec.Backups, nil
}

// RecordedBackups returns the run id and the verified backups backup.json
// in the state folder dir records (the latest run that took one); an empty
// id when there is none. `etcdplay restore` takes its default from here.
func RecordedBackups(dir string) (string, []steps.BackupManifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, BackupFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	var rec backupRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return "", nil, fmt.Errorf("%s: %w", filepath.Join(dir, BackupFile), err)
	}
	return rec.RunID, rec.Backups, nil
}
