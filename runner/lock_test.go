package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/target/lock"
)

// The v2 lock over steps.Hosts: hostRunner adapts a member's Host to
// lock.Runner, and the lock folder lands in each member's backup_dir. The
// hosts here run commands on this machine, so the folder is real.
func TestV2LockerOverHosts(t *testing.T) {
	dir := t.TempDir()
	inv, err := schema.LoadInventory("inv.yaml", []byte(`cluster: old
api: v2
binary: /usr/local/bin/etcd
backup_dir: `+dir+`
service: {start: "true", stop: "true"}
members:
  - {name: m1, host: h1, client: http://127.0.0.1:1}
  - {name: m2, host: h2, client: http://127.0.0.1:2}
`))
	if err != nil {
		t.Fatal(err)
	}
	o := &Options{Inventory: inv, Hosts: &machines{fc: newFakeCluster("2.3.8", "m1", "m2")}}
	lk, closeFn, err := NewLocker(o)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	ctx := context.Background()
	held, err := lk.Acquire(ctx, "run-1")
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	folder := filepath.Join(dir, "etcdplay-old.lock")
	if _, err := os.Stat(filepath.Join(folder, "holder.json")); err != nil {
		t.Fatalf("no lock folder: %v", err)
	}
	if err := held.Check(ctx); err != nil {
		t.Errorf("check: %v", err)
	}
	_, err = (&V2Locker{Cluster: "old", Targets: lk.(*V2Locker).Targets}).Acquire(ctx, "run-2")
	var he *lock.HeldError
	if !errors.As(err, &he) || he.Holder == nil || he.Holder.RunID != "run-1" || !strings.Contains(err.Error(), "run-1") {
		t.Fatalf("second acquire: %v, want a HeldError naming run-1", err)
	}
	if err := held.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	if _, err := os.Stat(folder); !os.IsNotExist(err) {
		t.Errorf("lock folder left behind: %v", err)
	}
}
