package lock

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// KeyPrefix is the root of every etcdplay lock key in a v3 cluster.
const KeyPrefix = "/etcdplay/lock/"

// DefaultTTL is the v3 lease TTL: how long a dead runner's lock outlives
// it. Long enough to ride out a short network blip, short enough that an
// operator waiting for it does not reach for --break-lock.
const DefaultTTL = 30 * time.Second

// Key is the v3 mutex prefix for cluster: /etcdplay/lock/<cluster>.
func Key(cluster string) string { return KeyPrefix + cluster }

// HolderKey is where the v3 holder JSON lives: /etcdplay/lock/<cluster>/holder.
func HolderKey(cluster string) string { return Key(cluster) + "/holder" }

// Lock is a held v3 lock. Its lease is kept alive until Release, or until
// the process dies.
type Lock struct {
	cluster string
	holder  Holder
	ttl     int
	mutex   *concurrency.Mutex // its key and revision; never its session (see Move)

	mu      sync.Mutex
	cli     *clientv3.Client
	session *concurrency.Session
}

// AcquireV3 takes cluster's lock for h, or returns a *HeldError naming the
// current holder. ttl (rounded up to whole seconds; DefaultTTL when 0) is
// how long the lock survives this process. ctx bounds the acquisition
// only: the lease is kept alive after AcquireV3 returns, until Release.
//
// A member that goes away under the call (another run stopping it, a
// restart) answers Unavailable; the acquisition is then tried again, at
// most three times in all, on whichever member the client picks next. What
// a failed attempt took is undone by closing its session.
func AcquireV3(ctx context.Context, cli *clientv3.Client, cluster string, h Holder, ttl time.Duration) (*Lock, error) {
	for attempt := 1; ; attempt++ {
		l, err := acquireV3Once(ctx, cli, cluster, h, ttl)
		if err == nil || attempt == 3 || status.Code(err) != codes.Unavailable {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func acquireV3Once(ctx context.Context, cli *clientv3.Client, cluster string, h Holder, ttl time.Duration) (*Lock, error) {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	secs := int64(math.Ceil(ttl.Seconds()))
	// Grant the lease ourselves under ctx, so an unreachable cluster fails
	// within ctx; the session's own context must outlive ctx, or the
	// keep-alive (and so the lock) would end with the call.
	grant, err := cli.Grant(ctx, secs)
	if err != nil {
		return nil, fmt.Errorf("lock %s: grant lease: %w", cluster, err)
	}
	s, err := concurrency.NewSession(cli, concurrency.WithLease(grant.ID), concurrency.WithTTL(int(secs)),
		concurrency.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		revoke(cli, grant.ID)
		return nil, fmt.Errorf("lock %s: keep lease alive: %w", cluster, err)
	}
	m := concurrency.NewMutex(s, Key(cluster))
	if err := m.TryLock(ctx); err != nil {
		s.Close()
		if errors.Is(err, concurrency.ErrLocked) {
			held := &HeldError{Cluster: cluster, Key: Key(cluster), Expires: true}
			held.Holder, _ = HolderV3(ctx, cli, cluster)
			return nil, held
		}
		return nil, fmt.Errorf("lock %s: %w", cluster, err)
	}
	// Record the holder only while still the owner, on the same lease, so
	// it vanishes with the lock.
	txn, err := cli.Txn(ctx).If(m.IsOwner()).
		Then(clientv3.OpPut(HolderKey(cluster), h.marshal(), clientv3.WithLease(s.Lease()))).Commit()
	if err == nil && !txn.Succeeded {
		err = errors.New("lost the lock before recording the holder")
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("lock %s: record holder: %w", cluster, err)
	}
	return &Lock{cluster: cluster, holder: h, ttl: int(secs), cli: cli, session: s, mutex: m}, nil
}

// Move keeps the lock's lease alive through cli from now on, and stops the
// keep-alive on the client it used before. The caller then closes the old
// client: only closing it ends its keep-alive stream (a clientv3 lessor
// keeps its stream open while the client lives, and SetEndpoints does not
// move a stream already open). This is how the runner takes its own stream
// off a member before stopping it: etcd's graceful stop waits up to its
// request timeout (about 7 s) for open streams (docs/performance.md).
// The lease and the lock keys are unchanged; Move fails, leaving the lock
// as it was, when cli cannot reach the lease.
func (l *Lock) Move(ctx context.Context, cli *clientv3.Client) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := l.session.Lease()
	// Ask through the new client before switching: a client that cannot
	// reach the cluster must not take over the keep-alive.
	left, err := leaseTTL(ctx, cli, id)
	if err != nil {
		return fmt.Errorf("lock %s: move keep-alive: %w", l.cluster, err)
	}
	if left <= 0 {
		return fmt.Errorf("lock %s: move keep-alive: %w: lease %x expired or revoked", l.cluster, ErrLost, int64(id))
	}
	s, err := concurrency.NewSession(cli, concurrency.WithLease(id), concurrency.WithTTL(l.ttl),
		concurrency.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		return fmt.Errorf("lock %s: move keep-alive: %w", l.cluster, err)
	}
	l.session.Orphan() // ends the old keep-alive; the lease lives on through s
	l.cli, l.session = cli, s
	return nil
}

// leaseTTL is the lease's remaining time to live in seconds (<= 0: gone).
// LeaseTimeToLive exists from etcd 3.1; a 3.0 member answers Unimplemented,
// and there one keep-alive through cli proves the same (reachable, lease
// alive) and renews it on the way. Any error of that keep-alive fails the
// move rather than declaring the lock lost: a 3.0 follower forwards it to
// the leader, and while the cluster is mixed 3.0/3.1 it can answer "lease
// not found" for a lease the leader still keeps (seen on the test bed).
func leaseTTL(ctx context.Context, cli *clientv3.Client, id clientv3.LeaseID) (int64, error) {
	ttl, err := cli.TimeToLive(ctx, id)
	if status.Code(err) != codes.Unimplemented {
		if err != nil {
			return 0, err
		}
		return ttl.TTL, nil
	}
	ka, err := cli.KeepAliveOnce(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("keep-alive through the new client (LeaseTimeToLive needs etcd 3.1+): %w", err)
	}
	return ka.TTL, nil
}

// Lost is closed when the lock's lease can no longer be kept alive (the
// cluster was unreachable for longer than the TTL, or someone broke the
// lock). The runner must not start another destructive step after that.
// After Move, ask again: the channel belongs to the keep-alive in use.
func (l *Lock) Lost() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.session.Done()
}

// Holder is who this lock was taken for.
func (l *Lock) Holder() Holder { return l.holder }

// ErrLost is wrapped by Check when the lock is no longer ours.
var ErrLost = errors.New("lock lost")

// Check asks the cluster whether the lock is still ours. Lost only learns of
// a revoked lease at the next keep-alive (a third of the TTL later); the
// runner calls Check right before each destructive step, so a broken lock
// stops it before it stops a member.
//
// A linearizable read can fail for a moment: etcd 3.0-3.4 stop a leader
// without handing leadership off, and a read proposed while the others
// elect a new one is dropped and times out. Such a failure (anything but
// ErrLost) is tried again, each try bounded by checkTry, for up to
// checkBound.
func (l *Lock) Check(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	bound := time.Now().Add(checkBound)
	for {
		if err := l.kept(); err != nil {
			return err
		}
		tctx, cancel := context.WithTimeout(ctx, checkTry)
		err := l.owned(tctx, ownerReadOp(l.mutex.Key()))
		cancel()
		if err == nil || errors.Is(err, ErrLost) || ctx.Err() != nil || time.Now().After(bound) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(checkPause):
		}
	}
}

// How Check retries a read that failed for a moment: an election takes
// about a second on the bed, a few in production.
const (
	checkTry   = 2 * time.Second
	checkPause = 200 * time.Millisecond
	checkBound = 20 * time.Second
)

// CheckWithoutQuorum is Check while the run itself has stopped a member
// knowing quorum goes with it (--allow-quorum-loss on a cluster of one or
// two voters). A linearizable read cannot be answered until the member is
// back, and none is needed: without quorum no other run can break or take
// the lock either, and the run's last check before the stop, with quorum,
// was linearizable. So it tries one, briefly, then asks the answering
// member's own state.
func (l *Lock) CheckWithoutQuorum(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.kept(); err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, quorumlessReadTimeout)
	err := l.owned(lctx, ownerReadOp(l.mutex.Key()))
	cancel()
	if err == nil || errors.Is(err, ErrLost) || ctx.Err() != nil {
		return err
	}
	return l.owned(ctx)
}

// quorumlessReadTimeout bounds CheckWithoutQuorum's linearizable try: a
// healthy cluster's read index takes milliseconds, and a longer wait
// would hold a stopped member down.
const quorumlessReadTimeout = time.Second

// kept fails once the session has seen the lease end.
func (l *Lock) kept() error {
	select {
	case <-l.session.Done():
		return fmt.Errorf("lock %s: %w: its lease is no longer kept alive", l.cluster, ErrLost)
	default:
		return nil
	}
}

// owned asks etcd whether the mutex key is still ours, in a Txn carrying
// ops (none: the answering member reads its own state).
func (l *Lock) owned(ctx context.Context, ops ...clientv3.Op) error {
	resp, err := l.cli.Txn(ctx).If(l.mutex.IsOwner()).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("lock %s: check: %w", l.cluster, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("lock %s: %w: its key %s is gone (broken with --break-lock?)", l.cluster, ErrLost, l.mutex.Key())
	}
	return nil
}

// ownerReadOp is the op Check's Txn carries so that etcd answers it
// linearizably. etcd serves a read-only Txn from the answering member's
// own state, without a read index, when every op in it is a serializable
// range, and a Txn of compares alone has no op, so it counts as
// serializable (IsTxnSerializable). A follower that has not yet applied a
// break and another run's acquisition would then still call the lock ours,
// and both runs would go on (docs/safety.md). A linearizable Get makes the
// member wait for the leader's commit index first.
func ownerReadOp(key string) clientv3.Op {
	return clientv3.OpGet(key, clientv3.WithCountOnly())
}

// Release gives the lock up: it deletes the mutex key and revokes the
// lease, which deletes the holder key with it. If the cluster cannot be
// reached the lock still lapses when the lease expires; the error says so.
func (l *Lock) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Delete the key through the current client: the mutex's own session
	// may be the one Move retired.
	_, unlockErr := l.cli.Delete(ctx, l.mutex.Key())
	l.session.Orphan() // stop the keep-alive; the revoke below ends the lease
	_, revokeErr := l.cli.Revoke(ctx, l.session.Lease())
	if errors.Is(revokeErr, rpctypes.ErrLeaseNotFound) {
		revokeErr = nil // already gone: expired or broken
	}
	if err := errors.Join(unlockErr, revokeErr); err != nil {
		return fmt.Errorf("release lock %s (it lapses on its own within the lease TTL): %w", l.cluster, err)
	}
	return nil
}

// HolderV3 reads who holds cluster's lock; nil when nobody does (or the
// holder is not recorded yet).
func HolderV3(ctx context.Context, cli *clientv3.Client, cluster string) (*Holder, error) {
	resp, err := cli.Get(ctx, HolderKey(cluster))
	if err != nil {
		return nil, fmt.Errorf("read lock holder of %s: %w", cluster, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return parseHolder(resp.Kvs[0].Value), nil
}

// BreakV3 removes cluster's lock whoever holds it: it revokes every lease
// attached to the lock's keys (so a still-living holder sees Lost) and
// deletes the keys. It returns the holder it broke, nil if none was
// recorded. Only for a lock whose run is known to be dead: the CLI asks
// the operator first.
func BreakV3(ctx context.Context, cli *clientv3.Client, cluster string) (*Holder, error) {
	resp, err := cli.Get(ctx, Key(cluster)+"/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("break lock %s: %w", cluster, err)
	}
	var holder *Holder
	leases := map[clientv3.LeaseID]bool{}
	for _, kv := range resp.Kvs {
		if string(kv.Key) == HolderKey(cluster) {
			holder = parseHolder(kv.Value)
		}
		if kv.Lease != 0 {
			leases[clientv3.LeaseID(kv.Lease)] = true
		}
	}
	for id := range leases {
		if _, err := cli.Revoke(ctx, id); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return holder, fmt.Errorf("break lock %s: revoke lease %x: %w", cluster, id, err)
		}
	}
	if _, err := cli.Delete(ctx, Key(cluster)+"/", clientv3.WithPrefix()); err != nil {
		return holder, fmt.Errorf("break lock %s: %w", cluster, err)
	}
	return holder, nil
}

// revoke is best-effort cleanup after a failed acquisition; the lease
// expires on its own otherwise.
func revoke(cli *clientv3.Client, id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = cli.Revoke(ctx, id)
}
