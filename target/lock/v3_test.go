package lock

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdplay/etcdplay/testbed"
)

// The v3 lock is proven on real clusters of the versions etcdplay upgrades
// from and to: the lease and Mutex API it uses must behave the same on the
// oldest v3 servers in the bed (3.0, which lacks LeaseTimeToLive, and
// 3.3) as on 3.4 and 3.5.
func TestV3LockOnRealClusters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real etcd clusters")
	}
	for _, version := range []string{"3.0", "3.3", "3.4", "3.5"} {
		t.Run(version, func(t *testing.T) {
			c := testbed.StartT(t, testbed.Options{Version: version, Members: 1})
			t.Logf("etcd %s at %v", c.Version, c.Endpoints())
			newClient := func() *clientv3.Client { return clientOn(t, c.Endpoints()...) }
			t.Run("second run refused, release frees", func(t *testing.T) { testV3RefuseThenRelease(t, newClient) })
			t.Run("dead holder's lease expires", func(t *testing.T) { testV3DeadHolderExpires(t, newClient) })
			t.Run("break", func(t *testing.T) { testV3Break(t, newClient) })
			t.Run("move keep-alive", func(t *testing.T) { testV3Move(t, newClient) })
		})
	}
}

// clientOn is a client of the given endpoints only, closed with the test.
func clientOn(t *testing.T, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func testV3RefuseThenRelease(t *testing.T, newClient func() *clientv3.Client) {
	ctx := ctxT(t, 30*time.Second)
	cluster := "refuse"
	alice, bob := holderFor("alice", "20261121-0612-ab12", 4242), holderFor("bob", "r-bob", 99)
	cliA, cliB := newClient(), newClient()

	l, err := AcquireV3(ctx, cliA, cluster, alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := HolderV3(ctx, cliB, cluster); err != nil || h == nil || *h != alice {
		t.Fatalf("holder key: %+v %v", h, err)
	}
	t.Logf("alice holds %s; holder at %s", Key(cluster), HolderKey(cluster))

	_, err = AcquireV3(ctx, cliB, cluster, bob, 0)
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second acquire: %v, want *HeldError", err)
	}
	want := "cluster refuse is locked by alice@ops1 (run 20261121-0612-ab12, since 2026-11-21 06:12:00 UTC, pid 4242); wait for it, or if that run is dead and its lease has not expired, use --break-lock"
	if err.Error() != want || held.Key != "/etcdplay/lock/refuse" {
		t.Errorf("refusal:\n got %s (key %s)\nwant %s", err, held.Key, want)
	}
	t.Logf("bob refused: %v", err)

	// the refused attempt left nothing behind: only alice's mutex key and holder
	resp, err := cliB.Get(ctx, Key(cluster)+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil || len(resp.Kvs) != 2 {
		t.Errorf("keys under the lock: %v %v", resp.Kvs, err)
	}

	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err = cliB.Get(ctx, Key(cluster)+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil || len(resp.Kvs) != 0 {
		t.Errorf("keys left after release: %v %v", resp.Kvs, err)
	}
	lb, err := AcquireV3(ctx, cliB, cluster, bob, 0)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A runner that dies stops keeping its lease alive; the lock lapses with
// the lease and the next run gets it without anyone breaking it.
func testV3DeadHolderExpires(t *testing.T, newClient func() *clientv3.Client) {
	ctx := ctxT(t, 60*time.Second)
	cluster := "dead"
	const ttl = 2 * time.Second
	cliDead, cliB := newClient(), newClient()
	if _, err := AcquireV3(ctx, cliDead, cluster, holderFor("alice", "r-dead", 1), ttl); err != nil {
		t.Fatal(err)
	}
	// the lease is kept alive while the holder lives: still held after 2 TTLs
	time.Sleep(2 * ttl)
	var held *HeldError
	if _, err := AcquireV3(ctx, cliB, cluster, holderFor("bob", "r-bob", 2), ttl); !errors.As(err, &held) {
		t.Fatalf("lock lapsed while its holder lived: %v", err)
	}

	died := time.Now()
	cliDead.Close() // the process dies: no release, no more keep-alives
	for {
		l, err := AcquireV3(ctx, cliB, cluster, holderFor("bob", "r-bob", 2), ttl)
		if err == nil {
			t.Logf("lock free %v after its holder died (ttl %v)", time.Since(died).Round(100*time.Millisecond), ttl)
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
			return
		}
		if !errors.As(err, &held) {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the dead holder's lock never lapsed: %v", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Breaking revokes the holder's lease: the holder (if it still lives) sees
// Lost, and the next run gets the lock.
func testV3Break(t *testing.T, newClient func() *clientv3.Client) {
	ctx := ctxT(t, 30*time.Second)
	cluster := "broken"
	alice := holderFor("alice", "r-alice", 1)
	cliA, cliB := newClient(), newClient()
	// a short TTL: the keep-alive that tells alice comes every TTL/3
	la, err := AcquireV3(ctx, cliA, cluster, alice, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := la.Check(ctx); err != nil {
		t.Fatalf("check while held: %v", err)
	}
	broke, err := BreakV3(ctx, cliB, cluster)
	if err != nil {
		t.Fatal(err)
	}
	if broke == nil || *broke != alice {
		t.Errorf("broke %+v, want alice", broke)
	}
	// the runner's check before a destructive step sees it at once
	if err := la.Check(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("check after break: %v, want ErrLost", err)
	}
	select {
	case <-la.Lost():
	case <-time.After(10 * time.Second):
		t.Error("the broken lock's holder was not told it lost the lock")
	}
	lb, err := AcquireV3(ctx, cliB, cluster, holderFor("bob", "r-bob", 2), 0)
	if err != nil {
		t.Fatalf("acquire after break: %v", err)
	}
	// alice's late release neither fails loudly nor frees bob's lock
	if err := la.Release(ctx); err != nil {
		t.Errorf("release of a broken lock: %v", err)
	}
	if h, _ := HolderV3(ctx, cliB, cluster); h == nil || h.RunID != "r-bob" {
		t.Errorf("after alice's late release the holder is %+v, want bob", h)
	}
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if h, err := BreakV3(ctx, cliB, cluster); h != nil || err != nil {
		t.Errorf("breaking a free lock: %+v %v", h, err)
	}
}

func TestHeldErrorWithoutHolder(t *testing.T) {
	err := (&HeldError{Cluster: "c", Key: "/etcdplay/lock/c", Expires: true}).Error()
	if !strings.Contains(err, "cluster c is locked (/etcdplay/lock/c; holder not recorded)") {
		t.Error(err)
	}
}

// testV3Move: Move hands the keep-alive to another client (on 3.0 without
// LeaseTimeToLive), the old client can close, and the lock stays ours.
func testV3Move(t *testing.T, newClient func() *clientv3.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cluster := "move-" + t.Name()
	old := newClient()
	l, err := AcquireV3(ctx, old, cluster, NewHolder("run-move"), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	next := newClient()
	defer next.Close()
	if err := l.Move(ctx, next); err != nil {
		t.Fatalf("Move: %v", err)
	}
	old.Close()
	time.Sleep(4 * time.Second) // past the TTL: only the moved keep-alive holds the lease
	if err := l.Check(ctx); err != nil {
		t.Fatalf("after Move and the old client closed, past the TTL: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A run checks its lock before every critical step, through whichever
// member its client picks. A follower that has not yet applied a break and
// another run's acquisition must not call the lock still held: etcd answers
// a Txn of compares alone from the member's own state (see ownerReadOp).
// The holder's client here knows only one follower, which is paused
// (SIGSTOP) while the lock is broken and taken through the leader, and
// asked the moment it runs again, before it can have applied what it
// missed. Without the linearizable op the check passes.
func TestV3CheckOnALaggingFollower(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real etcd cluster")
	}
	c := testbed.StartT(t, testbed.Options{Version: "3.5", Members: 3})
	ctx := ctxT(t, time.Minute)
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	follower := (leader + 1) % len(c.Hosts)
	onFollower, onLeader := clientOn(t, c.Hosts[follower].ClientURL), clientOn(t, c.Hosts[leader].ClientURL)
	const cluster = "lagging"
	la, err := AcquireV3(ctx, onFollower, cluster, holderFor("alice", "r-alice", 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := la.Check(ctx); err != nil {
		t.Fatalf("check while held: %v", err)
	}

	pid := c.MemberPID(follower)
	if pid == 0 {
		t.Fatalf("no pid for %s", c.Hosts[follower].Name)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(resume)
	if broke, err := BreakV3(ctx, onLeader, cluster); err != nil || broke == nil || broke.RunID != "r-alice" {
		resume()
		t.Fatalf("break through the leader while %s is paused: %+v, %v", c.Hosts[follower].Name, broke, err)
	}
	lb, err := AcquireV3(ctx, onLeader, cluster, holderFor("bob", "r-bob", 2), 0)
	if err != nil {
		resume()
		t.Fatalf("bob's acquire through the leader: %v", err)
	}
	resume()
	if err := la.Check(ctx); !errors.Is(err, ErrLost) {
		t.Errorf("alice's check on the follower that was paused while bob took the lock: %v, want ErrLost", err)
	}
	if err := lb.Check(ctx); err != nil {
		t.Errorf("bob's check: %v", err)
	}
	if err := lb.Release(ctx); err != nil {
		t.Error(err)
	}
}

// The runner checks its lock right after stopping a member; when that
// member was the leader and handed nothing off (etcd 3.0-3.4 stop without
// a transfer; here it is killed), the others are still electing one, and a
// linearizable read proposed meanwhile is dropped and times out. Check
// tries again until the election is over.
func TestV3CheckThroughAnElection(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real etcd clusters")
	}
	for _, version := range []string{"3.0", "3.5"} {
		t.Run(version, func(t *testing.T) {
			c := testbed.StartT(t, testbed.Options{Version: version, Members: 3})
			ctx := ctxT(t, time.Minute)
			leader, err := c.Leader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var others []string
			for i, h := range c.Hosts {
				if i != leader {
					others = append(others, h.ClientURL)
				}
			}
			l, err := AcquireV3(ctx, clientOn(t, others...), "election", holderFor("alice", "r-alice", 1), 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.KillMember(ctx, leader); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			if err := l.Check(ctx); err != nil {
				t.Fatalf("check right after the leader %s died: %v (after %v)", c.Hosts[leader].Name, err, time.Since(start).Round(time.Millisecond))
			}
			t.Logf("check right after the leader died: held, answered in %v", time.Since(start).Round(time.Millisecond))
			if err := l.Release(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}
