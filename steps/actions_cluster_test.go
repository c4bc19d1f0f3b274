package steps_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/target"
	"github.com/etcdplay/etcdplay/testbed"
)

// TestClusterActions35 runs the whole-cluster actions against a real 3.5
// cluster: health, check, ssh-run, confirm, move-leader, wait and the
// leader's snapshot, restored with 3.5's own etcdutl.
func TestClusterActions35(t *testing.T) {
	b := startBed(t, "3.5")
	pb := playbook(t, "3.5", "3.6")
	ctx := ctxT(t, 3*time.Minute)
	if err := b.WriteKeys(ctx, 500); err != nil {
		t.Fatal(err)
	}

	t.Run("health", func(t *testing.T) {
		env, _, _ := b.env(t, "", pb)
		if err := (&steps.Health{}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		env, _, _ = b.env(t, b.Hosts[1].Name, pb)
		if err := (&steps.Health{Member: "self"}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("check", func(t *testing.T) {
		env, lg, _ := b.env(t, "", pb)
		if err := (&steps.Check{That: guard(t, "cluster.healthy && len(cluster.members) == 3"), Severity: "fail", Message: "m"}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		if err := (&steps.Check{That: guard(t, "cluster.dbSize < 1"), Severity: "warn", Message: "db is not empty"}).Run(ctx, env); err != nil {
			t.Fatalf("warn check failed the step: %v", err)
		}
		if !lg.has("WARN db is not empty") {
			t.Error("warn check said nothing")
		}
		err := (&steps.Check{That: guard(t, "cluster.dbSize < 1 && playbook.to == \"3.6\""), Severity: "fail", Message: "too big"}).Run(ctx, env)
		wantErr(t, err, "too big", "cluster.dbSize < 1", "cluster.dbSize=", `playbook.to=3.6`)
	})

	t.Run("ssh-run", func(t *testing.T) {
		env, lg, _ := b.env(t, "", pb)
		ok := &steps.SSHRun{Command: steps.Command{Shell: `echo "on $SSH_CONNECTION ok"`}, Expect: "on .* ok"}
		if err := ok.Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		for _, h := range b.Hosts {
			if !lg.has("member " + h.Name) {
				t.Errorf("ssh-run outside a member phase did not run on %s", h.Name)
			}
		}
		env, _, _ = b.env(t, b.Hosts[0].Name, pb)
		ver := &steps.SSHRun{Command: steps.Command{Argv: []string{b.Hosts[0].Binary(), "--version"}}, Expect: `etcd Version: 3\.5\.35`}
		if err := ver.Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		exit3 := &steps.SSHRun{Command: steps.Command{Shell: "echo boom >&2; exit 3"}, ExpectExit: 3, Expect: "boom"}
		if err := exit3.Run(ctx, env); err != nil {
			t.Fatalf("expect_exit 3: %v", err)
		}
		wantErr(t, (&steps.SSHRun{Command: steps.Command{Shell: "exit 3"}}).Run(ctx, env), "exited 3 (expected 0)")
		wantErr(t, (&steps.SSHRun{Command: steps.Command{Argv: []string{"echo", "3.4.23"}}, Expect: `3\.5`}).Run(ctx, env), "does not match /3\\.5/", "3.4.23")
	})

	t.Run("confirm", func(t *testing.T) {
		env, _, _ := b.env(t, "", pb)
		var asked string
		env.Confirm = func(_ context.Context, msg string) (bool, error) { asked = msg; return true, nil }
		if err := (&steps.Confirm{Message: "no LeaseRevoke?"}).Run(ctx, env); err != nil || asked != "no LeaseRevoke?" {
			t.Fatalf("yes: err %v, asked %q", err, asked)
		}
		env.Confirm = func(context.Context, string) (bool, error) { return false, nil }
		wantErr(t, (&steps.Confirm{Message: "go?"}).Run(ctx, env), "did not confirm", "go?")
		env.Confirm = nil
		wantErr(t, (&steps.Confirm{Message: "go?"}).Run(ctx, env), "nobody to ask")
	})

	t.Run("move-leader", func(t *testing.T) {
		l, err := b.Leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		follower := b.Hosts[(l+1)%3].Name
		env, lg, _ := b.env(t, follower, pb)
		if err := (&steps.MoveLeader{Prefer: "upgraded"}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		if now, _ := b.Leader(ctx); now != l || !lg.has("not the leader") {
			t.Errorf("move-leader on follower %s: leader %d -> %d; want a no-op", follower, l, now)
		}
		env, _, _ = b.env(t, b.Hosts[l].Name, pb)
		if err := (&steps.MoveLeader{Prefer: "upgraded"}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		now, err := b.Leader(ctx)
		if err != nil || now == l {
			t.Fatalf("after move-leader on the leader %s: leader is %d (%v); want another member", b.Hosts[l].Name, now, err)
		}
		t.Logf("leadership moved from %s to %s", b.Hosts[l].Name, b.Hosts[now].Name)
	})

	t.Run("wait for a duration is interruptible", func(t *testing.T) {
		env, _, _ := b.env(t, "", pb)
		start := time.Now()
		if err := (&steps.Wait{Duration: schema.Duration(300 * time.Millisecond)}).Run(ctx, env); err != nil || time.Since(start) < 300*time.Millisecond {
			t.Fatalf("300ms wait: %v after %s", err, time.Since(start))
		}
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start = time.Now()
		err := (&steps.Wait{Duration: schema.Duration(time.Minute)}).Run(short, env)
		wantErr(t, err, "interrupted")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("interrupted wait returned after %s", d)
		}
	})

	t.Run("backup from the leader, restored with etcdutl", func(t *testing.T) {
		env, _, rec := b.env(t, "", pb)
		if err := (&steps.Backup{From: "leader"}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(env.BackupDir, "snapshot.db")
		man := readManifest(t, filepath.Join(env.BackupDir, "manifest.json"))
		if rec["backup"] == nil || man.File != file || man.SHA256 == "" || man.Revision == 0 || man.ClusterID == "" || man.ServerVersion != "3.5.35" {
			t.Errorf("manifest %+v, recorded %v", man, rec["backup"])
		}
		info, err := etcdprobe.VerifySnapshot(file)
		if err != nil {
			t.Fatal(err)
		}
		if info.SHA256 != man.SHA256 || info.Revision != man.Revision {
			t.Errorf("manifest %+v disagrees with the file %+v", man, info)
		}
		restored := filepath.Join(t.TempDir(), "restored")
		out, err := exec.CommandContext(ctx, filepath.Join(testbed.BinDir("3.5.35"), "etcdutl"), "snapshot", "restore", file, "--data-dir", restored).CombinedOutput()
		if err != nil {
			t.Fatalf("etcdutl snapshot restore: %v\n%s", err, out)
		}
		n := countKeys(t, filepath.Join(restored, "member", "snap", "db"), testbed.KeyPrefix)
		if n != b.Keys() {
			t.Errorf("restored snapshot holds %d keys under %s, want the %d written", n, testbed.KeyPrefix, b.Keys())
		}
		t.Logf("restored %s with etcdutl 3.5.35: %d keys, revision %d", file, n, man.Revision)
	})

	t.Run("a backup the run cannot record fails the step", func(t *testing.T) {
		env, _, _ := b.env(t, "", pb)
		env.RecordBackup = func(steps.BackupManifest) error {
			return errors.New("write backup.json: read-only file system")
		}
		err := (&steps.Backup{From: "leader"}).Run(ctx, env)
		wantErr(t, err, "taken and verified, but the run could not record it", "read-only file system")
	})

	t.Run("a corrupted snapshot fails the backup", func(t *testing.T) {
		env, _, rec := b.env(t, "", pb)
		env.Cluster = corrupting{b.tg}
		err := (&steps.Backup{From: "leader"}).Run(ctx, env)
		wantErr(t, err, "failed verification", "integrity hash mismatch")
		if _, serr := os.Stat(filepath.Join(env.BackupDir, "snapshot.db")); serr == nil {
			t.Error("a corrupted snapshot was kept as snapshot.db")
		}
		if _, serr := os.Stat(filepath.Join(env.BackupDir, "manifest.json")); serr == nil {
			t.Error("a corrupted snapshot got a manifest")
		}
		if rec["backup"] != nil {
			t.Error("a corrupted snapshot was recorded as a backup")
		}
	})

	t.Run("health fails naming the stopped member", func(t *testing.T) {
		if err := b.StopMember(ctx, 2); err != nil {
			t.Fatal(err)
		}
		env, _, _ := b.env(t, "", pb)
		wantErr(t, (&steps.Health{}).Run(ctx, env), "cluster not healthy", b.Hosts[2].Name+" unreachable")
		env, _, _ = b.env(t, b.Hosts[0].Name, pb)
		if err := (&steps.Health{Member: "self"}).Run(ctx, env); err != nil {
			t.Errorf("health self of a running member while another is down: %v", err)
		}
		if err := b.StartMember(ctx, 2); err != nil {
			t.Fatal(err)
		}
	})
}

// corrupting is the real cluster whose snapshot stream has one byte
// flipped in the middle, as a bad disk or network would.
type corrupting struct{ *target.Target }

func (c corrupting) Snapshot(ctx context.Context, from string, w io.Writer) (int64, error) {
	var buf bytes.Buffer
	n, err := c.Target.Snapshot(ctx, from, &buf)
	if err != nil {
		return n, err
	}
	b := buf.Bytes()
	b[len(b)/2] ^= 0xff
	m, err := w.Write(b)
	return int64(m), err
}

func readManifest(t *testing.T, path string) steps.BackupManifest {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m steps.BackupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// countKeys opens a restored member's backend and counts the live keys
// under prefix, independently of etcdplay's own verifier.
func countKeys(t *testing.T, db, prefix string) int {
	t.Helper()
	bdb, err := bolt.Open(db, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	live := map[string]bool{}
	err = bdb.View(func(tx *bolt.Tx) error {
		kb := tx.Bucket([]byte("key"))
		if kb == nil {
			return errors.New("no key bucket")
		}
		return kb.ForEach(func(k, v []byte) error {
			var kv mvccpb.KeyValue
			if err := kv.Unmarshal(v); err != nil {
				return err
			}
			if !strings.HasPrefix(string(kv.Key), prefix) {
				return nil
			}
			live[string(kv.Key)] = len(k) == 17 // 18 bytes: a tombstone
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, alive := range live {
		if alive {
			n++
		}
	}
	return n
}
