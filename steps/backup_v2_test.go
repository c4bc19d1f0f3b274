package steps_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/steps"
)

// TestV2BackupFolderIsPrivate: a v2 backup goes into a folder of its own
// made by mktemp -d under umask 077, and a backup_dir that others can
// write (a world-writable /var/tmp/etcdplay-backup pre-created by another
// local user) is refused before etcdctl writes anything into it.
func TestV2BackupFolderIsPrivate(t *testing.T) {
	b := startBed(t, "2.3")
	ctx := ctxT(t, 2*time.Minute)
	h := b.Hosts[0]
	env, _, _ := b.env(t, h.Name, playbook(t, "2.3", "3.0"))
	var man *steps.BackupManifest
	env.RecordBackup = func(m steps.BackupManifest) error { man = &m; return nil }
	if err := (&steps.Backup{From: "self"}).Run(ctx, env); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(man.RemoteDir)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 || filepath.Dir(dir) != h.BackupDir || !strings.HasPrefix(filepath.Base(dir), h.Name+"-") {
		t.Errorf("backup folder %s mode %v; want a private mktemp folder in %s", dir, fi.Mode().Perm(), h.BackupDir)
	}
	if _, err := os.Stat(filepath.Join(dir, "backup.tar")); err == nil {
		t.Error("the archive was left on the host")
	}

	if err := os.Chmod(h.BackupDir, 0o777); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(h.BackupDir, 0o755)
	err = (&steps.Backup{From: "self"}).Run(ctx, env)
	if err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Fatalf("backup into a world-writable folder: %v", err)
	}
	if err := os.Chmod(h.BackupDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(h.BackupDir, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	err = (&steps.Backup{From: "self"}).Run(ctx, env)
	if err == nil || !strings.Contains(err.Error(), "owned by uid 4242") {
		t.Fatalf("backup into another user's folder: %v", err)
	}
}
