package lock

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/internal/shell"
)

// localRunner runs argv the way an SSH server would: as one command line
// handed to a POSIX shell, so quoting is exercised for real. It is a unit
// test stand-in; target's TestLockerBed takes the lock over real SSH.
type localRunner struct{ calls int }

func (r *localRunner) Run(ctx context.Context, argv []string) ([]byte, []byte, int, error) {
	r.calls++
	cmd := exec.CommandContext(ctx, "sh", "-c", shell.Join(argv...))
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return []byte(out.String()), []byte(errb.String()), exit.ExitCode(), nil
	}
	return []byte(out.String()), []byte(errb.String()), 0, err
}

// deadRunner is a host that cannot be reached.
type deadRunner struct{}

func (deadRunner) Run(context.Context, []string) ([]byte, []byte, int, error) {
	return nil, nil, -1, errors.New("dial tcp 10.0.0.12:22: connection refused")
}

// hosts makes n fake hosts, each with its own folder; the folder names
// hold a space and a quote to prove nothing is spliced into a script.
func hosts(t *testing.T, n int) []Target {
	t.Helper()
	root := t.TempDir()
	var ts []Target
	for i := range n {
		dir := filepath.Join(root, "host"+string(rune('1'+i)), "backup dir's")
		ts = append(ts, Target{Name: "infra" + string(rune('0'+i)), Runner: &localRunner{}, Dir: dir})
	}
	return ts
}

func holderFor(user, run string, pid int) Holder {
	return Holder{User: user, Host: "ops1", RunID: run, Started: time.Date(2026, 11, 21, 6, 12, 0, 0, time.UTC), PID: pid}
}

const cluster = "prod-etcd"

func lockExists(t Target) bool {
	_, err := os.Stat(filepath.Join(LockDirV2(t.Dir, cluster), "holder.json"))
	return err == nil
}

func TestV2SecondRunIsRefusedNamingTheHolder(t *testing.T) {
	ctx := context.Background()
	ts := hosts(t, 3)
	alice := holderFor("alice", "20261121-0612-ab12", 4242)
	l, err := AcquireV2(ctx, cluster, ts, alice)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range ts {
		if !lockExists(tg) {
			t.Fatalf("no lock folder on %s", tg.Name)
		}
		st, _ := os.Stat(LockDirV2(tg.Dir, cluster))
		if st.Mode().Perm() != 0o700 {
			t.Errorf("lock folder mode %v", st.Mode().Perm())
		}
	}

	_, err = AcquireV2(ctx, cluster, ts, holderFor("bob", "20261121-0700-cd34", 99))
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second acquire: %v, want *HeldError", err)
	}
	if held.Holder == nil || *held.Holder != alice || held.Expires {
		t.Errorf("held by %+v", held)
	}
	want := "cluster prod-etcd is locked by alice@ops1 (run 20261121-0612-ab12, since 2026-11-21 06:12:00 UTC, pid 4242); wait for it, or if that run is dead, use --break-lock (the lock is infra0:" + LockDirV2(ts[0].Dir, cluster) + ")"
	if err.Error() != want {
		t.Errorf("message:\n got %s\nwant %s", err, want)
	}

	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tg := range ts {
		if lockExists(tg) {
			t.Errorf("lock left on %s after release", tg.Name)
		}
	}
	l2, err := AcquireV2(ctx, cluster, ts, holderFor("bob", "20261121-0700-cd34", 99))
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	_ = l2.Release(ctx)
}

// A lock found on the second host (another run got there first, or was
// left by a dead run) undoes the first host: all or nothing.
func TestV2AllOrNothing(t *testing.T) {
	ctx := context.Background()
	ts := hosts(t, 3)
	bob := holderFor("bob", "r-bob", 7)
	if _, err := AcquireV2(ctx, cluster, ts[1:2], bob); err != nil {
		t.Fatal(err)
	}
	_, err := AcquireV2(ctx, cluster, ts, holderFor("alice", "r-alice", 8))
	var held *HeldError
	if !errors.As(err, &held) || held.Holder == nil || held.Holder.RunID != "r-bob" {
		t.Fatalf("err = %v, want held by bob", err)
	}
	if lockExists(ts[0]) {
		t.Error("first host still locked after the refusal")
	}
	if !lockExists(ts[1]) {
		t.Error("bob's lock was removed")
	}
	if lockExists(ts[2]) {
		t.Error("third host was locked after the refusal")
	}

	// an unreachable host also undoes what was taken
	ts2 := hosts(t, 2)
	ts2 = append(ts2, Target{Name: "infra9", Runner: deadRunner{}})
	_, err = AcquireV2(ctx, cluster, ts2, holderFor("alice", "r-alice", 8))
	if err == nil || !strings.Contains(err.Error(), "infra9") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v", err)
	}
	if lockExists(ts2[0]) || lockExists(ts2[1]) {
		t.Error("hosts left locked after an unreachable one")
	}
}

// The test bed's hosts share one file system: the same folder is reached
// through every host and must count as ours.
func TestV2SharedFileSystem(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ts := []Target{{Name: "host1", Runner: &localRunner{}, Dir: dir}, {Name: "host2", Runner: &localRunner{}, Dir: dir}}
	l, err := AcquireV2(ctx, cluster, ts, holderFor("alice", "r1", 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if lockExists(ts[0]) {
		t.Error("lock left behind")
	}
}

// Release never removes a lock another run holds now (after a break).
func TestV2ReleaseLeavesAnotherRunsLock(t *testing.T) {
	ctx := context.Background()
	ts := hosts(t, 1)
	l, err := AcquireV2(ctx, cluster, ts, holderFor("alice", "r-alice", 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BreakV2(ctx, cluster, ts); err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireV2(ctx, cluster, ts, holderFor("bob", "r-bob", 2)); err != nil {
		t.Fatal(err)
	}
	err = l.Release(ctx)
	if err == nil || !strings.Contains(err.Error(), "bob@ops1 (run r-bob) now holds") {
		t.Errorf("release: %v", err)
	}
	if !lockExists(ts[0]) {
		t.Error("alice's release removed bob's lock")
	}
}

func TestV2Break(t *testing.T) {
	ctx := context.Background()
	ts := hosts(t, 3)
	alice := holderFor("alice", "r-alice", 1)
	if _, err := AcquireV2(ctx, cluster, ts, alice); err != nil {
		t.Fatal(err)
	}
	found, err := BreakV2(ctx, cluster, ts)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0] != alice {
		t.Errorf("broke %+v, want alice once", found)
	}
	for _, tg := range ts {
		if lockExists(tg) {
			t.Errorf("lock left on %s", tg.Name)
		}
	}
	if found, err := BreakV2(ctx, cluster, ts); err != nil || len(found) != 0 {
		t.Errorf("breaking no lock: %v %v", found, err)
	}
	if _, err := AcquireV2(ctx, cluster, ts, holderFor("bob", "r-bob", 2)); err != nil {
		t.Errorf("acquire after break: %v", err)
	}
}

// A run that died between mkdir and writing holder.json still blocks; the
// refusal says the holder is unknown and where the lock is.
func TestV2HolderNotRecorded(t *testing.T) {
	ts := hosts(t, 1)
	if err := os.MkdirAll(LockDirV2(ts[0].Dir, cluster), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := AcquireV2(context.Background(), cluster, ts, holderFor("bob", "r", 1))
	var held *HeldError
	if !errors.As(err, &held) || held.Holder != nil || !strings.Contains(err.Error(), "holder not recorded") {
		t.Errorf("err = %v", err)
	}
}

func TestLockDirV2(t *testing.T) {
	for _, tc := range []struct{ dir, cluster, want string }{
		{"", "prod-etcd", "/var/tmp/etcdplay-prod-etcd.lock"},
		{"/var/backups/etcd/", "prod", "/var/backups/etcd/etcdplay-prod.lock"},
		{"/b", "../x y/z", "/b/etcdplay-.._x_y_z.lock"},
	} {
		if got := LockDirV2(tc.dir, tc.cluster); got != tc.want {
			t.Errorf("LockDirV2(%q, %q) = %q, want %q", tc.dir, tc.cluster, got, tc.want)
		}
	}
}

func TestNewHolder(t *testing.T) {
	h := NewHolder("r1")
	if h.User == "" || h.Host == "" || h.PID != os.Getpid() || h.RunID != "r1" || h.Started.IsZero() {
		t.Errorf("holder %+v", h)
	}
	if !strings.Contains(h.String(), "@") {
		t.Errorf("String() = %q", h)
	}
}

// TestV2LockFolderMustBePrivate: the lock lives in a folder others may
// share (/var/tmp by default). A parent folder that others can write
// without the sticky bit, or a lock folder someone else (or a looser mode)
// made, is refused: whoever can replace the folder can fake or steal the
// lock. A sticky world-writable parent, like /var/tmp, is fine.
func TestV2LockFolderMustBePrivate(t *testing.T) {
	ctx := context.Background()
	h := holderFor("alice", "run-1", 100)

	t.Run("group-writable parent", func(t *testing.T) {
		ts := hosts(t, 1)
		if err := os.MkdirAll(ts[0].Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(ts[0].Dir, 0o775); err != nil {
			t.Fatal(err)
		}
		_, err := AcquireV2(ctx, cluster, ts, h)
		if err == nil || !strings.Contains(err.Error(), "writable by group or others without the sticky bit") {
			t.Fatalf("AcquireV2 = %v, want a refusal of the group-writable folder", err)
		}
		if lockExists(ts[0]) {
			t.Error("a refused acquire left a lock folder")
		}
	})

	t.Run("sticky world-writable parent", func(t *testing.T) {
		ts := hosts(t, 1)
		if err := os.MkdirAll(ts[0].Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(ts[0].Dir, 0o777|os.ModeSticky); err != nil {
			t.Fatal(err)
		}
		l, err := AcquireV2(ctx, cluster, ts, h)
		if err != nil {
			t.Fatalf("AcquireV2 in a sticky folder: %v", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("lock folder made with a loose mode", func(t *testing.T) {
		ts := hosts(t, 1)
		d := LockDirV2(ts[0].Dir, cluster)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "holder.json"), []byte(holderFor("mallory", "run-x", 1).marshal()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := AcquireV2(ctx, cluster, ts, h)
		if err == nil || !strings.Contains(err.Error(), "not a private lock folder of this user") {
			t.Fatalf("AcquireV2 = %v, want a refusal of the loose lock folder", err)
		}
	})
}
