package target

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/target/lock"
	"github.com/etcdplay/etcdplay/testbed"
)

// TestLockerBed takes the lock an inventory calls for on real clusters:
// on 3.5 the lease in the cluster, through the client Open built with the
// prober's TLS; on 2.3 the folders on every member host, over the target's
// own SSH connections, in each member's backup_dir. A second target (a
// second operator) is refused naming the first run; after a release it
// takes the lock; a break hands it back and, on v3, the broken run's Check
// says the lock is lost.
func TestLockerBed(t *testing.T) {
	for _, version := range []string{"3.5", "2.3"} {
		t.Run(version, func(t *testing.T) {
			bed := testbed.StartT(t, testbed.Options{Version: version})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			src, err := os.ReadFile(bed.InventoryPath)
			if err != nil {
				t.Fatal(err)
			}
			inv, err := schema.LoadInventory(bed.InventoryPath, src)
			if err != nil {
				t.Fatal(err)
			}
			open := func() lock.Locker {
				tg, err := Open(ctx, inv, Options{SSHConfigFile: "none", AgentSocket: "none", HomeDir: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { tg.Close() })
				l := tg.Locker()
				if tg.Locker() != l {
					t.Error("Locker built a second lock for the same target")
				}
				return l
			}
			first, second := open(), open()

			if err := first.Acquire(ctx, "run-1"); err != nil {
				t.Fatalf("first acquire: %v", err)
			}
			if err := first.Check(ctx); err != nil {
				t.Errorf("check of a held lock: %v", err)
			}
			if inv.API == "v2" {
				for i, h := range bed.Hosts {
					dir := inv.Resolve(inv.Member(h.Name)).BackupDir
					out, err := bed.SSH(ctx, i, "cat "+lock.LockDirV2(dir, inv.Cluster)+"/holder.json")
					if err != nil || !strings.Contains(out, `"run_id":"run-1"`) {
						t.Errorf("%s: holder.json in its backup_dir %s: %q, %v", h.Name, dir, out, err)
					}
				}
			}
			err = second.Acquire(ctx, "run-2")
			var held *lock.HeldError
			if !errors.As(err, &held) || held.Holder == nil || held.Holder.RunID != "run-1" {
				t.Fatalf("second acquire: %v; want a refusal naming run-1", err)
			}
			t.Logf("second operator refused: %v (hint: %s)", err, held.LockHint())

			if err := first.Release(ctx); err != nil {
				t.Fatalf("release: %v", err)
			}
			if err := second.Acquire(ctx, "run-2"); err != nil {
				t.Fatalf("acquire after release: %v", err)
			}
			who, err := first.Break(ctx)
			if err != nil || !strings.Contains(who, "run-2") {
				t.Fatalf("break: %q, %v; want it to name run-2", who, err)
			}
			if err := second.Check(ctx); !errors.Is(err, lock.ErrLost) {
				t.Errorf("check after a break: %v, want lock lost", err)
			}
			// Broken and taken by another run: the old holder's next
			// check (before its next critical step) must fail too, or
			// both runs would go on.
			if err := first.Acquire(ctx, "run-3"); err != nil {
				t.Fatalf("acquire after break: %v", err)
			}
			err = second.Check(ctx)
			if !errors.Is(err, lock.ErrLost) || (inv.API == "v2" && !strings.Contains(err.Error(), "run-3")) {
				t.Errorf("check of a lock broken and taken by run-3: %v, want lost (on v2 naming run-3)", err)
			}
			if err := first.Release(ctx); err != nil {
				t.Error(err)
			}
			if err := first.Acquire(ctx, "run-3"); err != nil {
				t.Fatalf("acquire after break: %v", err)
			}
			if err := first.Release(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}
