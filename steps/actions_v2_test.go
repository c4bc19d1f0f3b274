package steps_test

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/testbed"
)

// TestActionsV23 runs the actions a 2.x guide uses against a real 2.3
// cluster: health, assert-version, move-leader (a no-op that says why),
// etcdctl backup on the member fetched to the operator's machine, and a
// stop/start/wait cycle through the v2 API.
func TestActionsV23(t *testing.T) {
	b := startBed(t, "2.3")
	pb := playbook(t, "2.3", "3.0")
	ctx := ctxT(t, 3*time.Minute)
	if err := b.WriteKeys(ctx, 100); err != nil {
		t.Fatal(err)
	}
	h0 := b.Hosts[0]

	t.Run("health and assert-version", func(t *testing.T) {
		env, _, _ := b.env(t, "", pb)
		if err := (&steps.Health{}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		if err := (&steps.AssertVersion{Cluster: pattern(t, "2.3"), Servers: pattern(t, "2.3.*")}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		wantErr(t, (&steps.AssertVersion{Servers: pattern(t, "2.2.*")}).Run(ctx, env), h0.Name+" runs 2.3.8 (expected 2.2.*)")
		wantErr(t, (&steps.AssertVersion{Min: mustVersion(t, "2.3.9")}).Run(ctx, env), "2.3.9 or newer")
	})

	t.Run("move-leader is a no-op on v2", func(t *testing.T) {
		l, err := b.Leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		env, lg, _ := b.env(t, b.Hosts[l].Name, pb)
		if err := (&steps.MoveLeader{}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		if !lg.has("v2 has no leadership transfer") {
			t.Error("move-leader on v2 did not say why it did nothing")
		}
		if now, _ := b.Leader(ctx); now != l {
			t.Errorf("leader changed from %d to %d", l, now)
		}
	})

	t.Run("backup self: etcdctl backup on the member, fetched", func(t *testing.T) {
		env, _, rec := b.env(t, h0.Name, pb)
		defer steps.SetFetchChunk(4096)() // many pieces, as a real data dir would be
		if err := (&steps.Backup{From: "self"}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		man, ok := rec["backup"].(*steps.BackupManifest)
		if !ok {
			t.Fatalf("recorded %v, want a manifest", rec["backup"])
		}
		checkV2Backup(t, man)
		if !strings.HasPrefix(man.RemoteDir, h0.BackupDir) {
			t.Errorf("remote backup %s is not under the member's backup_dir %s", man.RemoteDir, h0.BackupDir)
		}
		if fi, err := os.Stat(filepath.Join(man.RemoteDir, "member", "wal")); err != nil || !fi.IsDir() {
			t.Errorf("no member/wal in the backup left on the host: %v", err)
		}
		if _, err := os.Stat(man.RemoteDir + ".tar"); err == nil {
			t.Error("the temporary archive was left on the host")
		}
	})

	t.Run("stop, start, healthy and caught up on v2", func(t *testing.T) {
		env, _, _ := b.env(t, h0.Name, pb)
		if err := (&steps.SSHStop{}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		if b.MemberPID(0) != 0 || clientListening(t, h0) {
			t.Fatal("member still running after ssh-stop")
		}
		if err := b.WriteKeys(ctx, 50); err != nil {
			t.Fatal(err)
		}
		for _, a := range []steps.Action{&steps.SSHStart{}, &steps.Wait{For: "healthy"}, &steps.Wait{For: "caught-up"}} {
			if err := a.Run(ctx, env); err != nil {
				t.Fatalf("%T: %v", a, err)
			}
		}
		if _, err := b.VerifyKeys(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBackupEachV2: `backup: {from: each}` backs up and fetches every
// member, on 2.0 (whose etcdctl reads the 2.0.0 layout while the server
// keeps data under member/) and on 2.1.
func TestBackupEachV2(t *testing.T) {
	for _, v := range []string{"2.0", "2.1"} {
		t.Run(v, func(t *testing.T) {
			b := startBed(t, v)
			ctx := ctxT(t, 2*time.Minute)
			if err := b.WriteKeys(ctx, 30); err != nil {
				t.Fatal(err)
			}
			next := map[string]string{"2.0": "2.1", "2.1": "2.2"}[v]
			env, _, _ := b.env(t, "", playbook(t, v, next))
			var mans []*steps.BackupManifest
			env.RecordBackup = func(m steps.BackupManifest) error {
				mans = append(mans, &m)
				return nil
			}
			if err := (&steps.Backup{From: "each"}).Run(ctx, env); err != nil {
				t.Fatal(err)
			}
			if len(mans) != len(b.Hosts) {
				t.Fatalf("%d backups recorded, want one per member (%d)", len(mans), len(b.Hosts))
			}
			for i, m := range mans {
				if m.Member != b.Hosts[i].Name {
					t.Errorf("backup %d is of %s, want %s", i, m.Member, b.Hosts[i].Name)
				}
				checkV2Backup(t, m)
			}
		})
	}
}

// checkV2Backup re-hashes the fetched archive and reads it as tar: it must
// match the manifest and hold WAL files and the snap folder, under member/
// (etcdctl 2.1+) or at the top (etcdctl 2.0).
func checkV2Backup(t *testing.T, m *steps.BackupManifest) {
	t.Helper()
	f, err := os.Open(m.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	tr := tar.NewReader(io.TeeReader(f, h))
	var wal, snap bool
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", m.File, err)
		}
		wal = wal || (strings.Contains(hd.Name, "wal/") && strings.HasSuffix(hd.Name, ".wal"))
		name := strings.TrimSuffix(hd.Name, "/")
		snap = snap || name == "./member/snap" || name == "./snap"
	}
	io.Copy(h, f)
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 {
		t.Errorf("%s has sha256 %s, manifest says %s", m.File, got, m.SHA256)
	}
	if !wal || !snap || m.WALFiles == 0 {
		t.Errorf("%s: wal %v, snap %v, manifest wal files %d; want a v2 backup", m.File, wal, snap, m.WALFiles)
	}
	t.Logf("%s: %s, %d bytes, %d WAL file(s), sha256 %.12s", m.Member, m.File, m.Size, m.WALFiles, m.SHA256)
}

// TestUpgradeOneMember22To23 swaps one member of a real 2.2 cluster to
// 2.3 the way the 2.x guides do, after preflight has refused a 2.0 binary
// posing as 2.3 (2.0 prints "etcd version X", the parser must read it).
func TestUpgradeOneMember22To23(t *testing.T) {
	b := startBed(t, "2.2")
	pb := playbook(t, "2.2", "2.3")
	ctx := ctxT(t, 2*time.Minute)
	if err := b.WriteKeys(ctx, 50); err != nil {
		t.Fatal(err)
	}
	h := b.Hosts[1]
	env, _, rec := b.env(t, h.Name, pb)
	env.Inventory = withRelease(b.inv, "2.3.8", filepath.Join(testbed.BinDir("2.0.8"), "etcd"))
	wantErr(t, (&steps.Swap{To: minor(t, "2.3")}).Preflight(ctx, env), "prints etcd 2.0.8", "expected 2.3.8")
	env.Inventory = b.inv
	if err := (&steps.Swap{To: minor(t, "2.3")}).Preflight(ctx, env); err != nil {
		t.Fatal(err)
	}
	for _, a := range []steps.Action{&steps.SSHStop{}, &steps.Swap{To: minor(t, "2.3")}, &steps.SSHStart{},
		&steps.Wait{For: "healthy"}, &steps.Wait{For: "caught-up"}, &steps.AssertVersion{Member: "self", Server: pattern(t, "2.3.8")}} {
		if err := a.Run(ctx, env); err != nil {
			t.Fatalf("%T: %v", a, err)
		}
	}
	if v := version(t, h.Binary()); !strings.Contains(v, "2.3.8") {
		t.Errorf("binary prints %q, want 2.3.8", v)
	}
	if v := version(t, h.Binary()+".etcdplay-prev"); !strings.Contains(v, "2.2.5") {
		t.Errorf("kept binary prints %q, want 2.2.5", v)
	}
	if v := version(t, h.Etcdctl()); !strings.Contains(v, "2.3.8") {
		t.Errorf("etcdctl prints %q, want 2.3.8", v)
	}
	if rec["version-before"] != "2.2.5" || rec["version-after"] != "2.3.8" {
		t.Errorf("recorded %v", rec)
	}
	if _, err := b.VerifyKeys(ctx); err != nil {
		t.Fatal(err)
	}
}
