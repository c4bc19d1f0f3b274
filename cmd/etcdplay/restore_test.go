package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/steps"
)

// restore's default backup is the newest v3 snapshot backup.json records;
// --from a snapshot file finds the manifest beside it that names it; no
// snapshot to restore is a usage error that says how to name one.
func TestFindRestoreBackup(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	rec := map[string]any{"run_id": "r1", "backups": []steps.BackupManifest{
		{Kind: "v3-snapshot", File: "/b/old.db", Time: t0},
		{Kind: "v3-snapshot", File: "/b/new.db", Time: t0.Add(time.Minute)},
		{Kind: "v2-etcdctl-backup", File: "/b/x.tar", Time: t0.Add(time.Hour)},
	}}
	b, _ := json.Marshal(rec)
	if err := os.WriteFile(filepath.Join(dir, "backup.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	m, _, err := findRestoreBackup(dir, "prod", "")
	if err != nil || m.File != "/b/new.db" {
		t.Errorf("default: %s, %v; want the newest v3 snapshot /b/new.db", m.File, err)
	}

	snapDir := t.TempDir()
	snap := filepath.Join(snapDir, "snapshot-2.db")
	os.WriteFile(snap, []byte("x"), 0o600)
	for name, file := range map[string]string{"manifest.json": "snapshot.db", "manifest-2.json": "snapshot-2.db"} {
		b, _ := json.Marshal(steps.BackupManifest{Kind: "v3-snapshot", File: "/elsewhere/" + file, SHA256: name})
		os.WriteFile(filepath.Join(snapDir, name), b, 0o600)
	}
	m, mdir, err := findRestoreBackup(dir, "prod", snap)
	if err != nil || m.SHA256 != "manifest-2.json" || m.File != snap || mdir != snapDir {
		t.Errorf("--from FILE: %+v in %s, %v; want manifest-2.json's, pointing at %s", m, mdir, err, snap)
	}

	_, _, err = findRestoreBackup(t.TempDir(), "prod", "")
	if exit.Code(err) != exit.Usage || exit.Hint(err) == "" {
		t.Errorf("no backup: %v (exit %d), want a usage error with a hint", err, exit.Code(err))
	}
}
