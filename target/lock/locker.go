package lock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Locker is one run's hold on its cluster's lock, the shape the runner
// takes (runner.Locker has the same methods; its signatures use only the
// standard library so this package need not import the runner). Acquire
// takes the lock or returns a *HeldError; Check says whether it is still
// ours; Release gives it up; Break removes it whoever holds it.
type Locker interface {
	Acquire(ctx context.Context, runID string) error
	Check(ctx context.Context) error
	Release(ctx context.Context) error
	Break(ctx context.Context) (holder string, err error)
}

var (
	_ Locker = (*V3Locker)(nil)
	_ Locker = (*V2Locker)(nil)
)

// ErrNotHeld is returned by Check when Acquire has not succeeded.
var ErrNotHeld = errors.New("lock not held")

// V3Locker is the v3 lock: a lease-backed mutex in the cluster itself (see
// AcquireV3). The held lock owns the client its lease is kept alive
// through, and redials to keep that stream off a member about to stop
// (Avoid; docs/performance.md).
type V3Locker struct {
	cluster string
	ttl     time.Duration
	dial    func(avoid string) (*clientv3.Client, error)

	mu       sync.Mutex
	held     *Lock
	cli      *clientv3.Client // the held lock's
	avoiding string
}

// NewV3Locker locks cluster through clients from dial, which opens a
// client on every member's client URL but avoid's ("": every member); ttl
// 0 is DefaultTTL.
func NewV3Locker(cluster string, ttl time.Duration, dial func(avoid string) (*clientv3.Client, error)) *V3Locker {
	return &V3Locker{cluster: cluster, ttl: ttl, dial: dial}
}

// Acquire implements Locker.
func (v *V3Locker) Acquire(ctx context.Context, runID string) error {
	cli, err := v.dial("")
	if err != nil {
		return err
	}
	l, err := AcquireV3(ctx, cli, v.cluster, NewHolder(runID), v.ttl)
	if err != nil {
		cli.Close()
		return err
	}
	v.mu.Lock()
	v.held, v.cli, v.avoiding = l, cli, ""
	v.mu.Unlock()
	return nil
}

// Check implements Locker: the lease is alive and the mutex key is ours.
func (v *V3Locker) Check(ctx context.Context) error {
	l, err := v.heldLock()
	if err != nil {
		return err
	}
	return l.Check(ctx)
}

// CheckWithoutQuorum is Check while the run has knowingly stopped quorum
// (see Lock.CheckWithoutQuorum).
func (v *V3Locker) CheckWithoutQuorum(ctx context.Context) error {
	l, err := v.heldLock()
	if err != nil {
		return err
	}
	return l.CheckWithoutQuorum(ctx)
}

// heldLock is the lock Acquire took, or ErrNotHeld.
func (v *V3Locker) heldLock() (*Lock, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.held == nil {
		return nil, fmt.Errorf("lock %s: %w", v.cluster, ErrNotHeld)
	}
	return v.held, nil
}

// Avoid moves the lease's keep-alive to a new client that does not know
// member ("": back onto every member), and closes the old client with its
// stream: etcd's graceful stop waits for open streams.
func (v *V3Locker) Avoid(ctx context.Context, member string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.held == nil {
		return fmt.Errorf("lock %s: %w", v.cluster, ErrNotHeld)
	}
	if member == v.avoiding {
		return nil
	}
	cli, err := v.dial(member)
	if err != nil {
		return err
	}
	if err := v.held.Move(ctx, cli); err != nil {
		cli.Close()
		return err
	}
	v.cli.Close()
	v.cli, v.avoiding = cli, member
	return nil
}

// Release implements Locker, and closes the lock's client; releasing a
// lock not held is a no-op.
func (v *V3Locker) Release(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.held == nil {
		return nil
	}
	defer v.cli.Close()
	err := v.held.Release(ctx)
	v.held, v.cli = nil, nil
	return err
}

// Break implements Locker, through a client of its own.
func (v *V3Locker) Break(ctx context.Context) (string, error) {
	cli, err := v.dial("")
	if err != nil {
		return "", err
	}
	defer cli.Close()
	h, err := BreakV3(ctx, cli, v.cluster)
	if h == nil {
		return "", err
	}
	return fmt.Sprintf("%s (run %s)", h, h.RunID), err
}

// V2Locker is the v2 lock: a folder on every member host (see AcquireV2).
type V2Locker struct {
	cluster string
	targets []Target

	mu   sync.Mutex
	held *FileLock
}

// NewV2Locker locks cluster with a folder on each of targets.
func NewV2Locker(cluster string, targets []Target) *V2Locker {
	return &V2Locker{cluster: cluster, targets: targets}
}

// Targets are the hosts the lock folders go on.
func (v *V2Locker) Targets() []Target { return append([]Target(nil), v.targets...) }

// Acquire implements Locker.
func (v *V2Locker) Acquire(ctx context.Context, runID string) error {
	l, err := AcquireV2(ctx, v.cluster, v.targets, NewHolder(runID))
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.held = l
	v.mu.Unlock()
	return nil
}

// Check implements Locker: every host still names this run (see
// FileLock.Check).
func (v *V2Locker) Check(ctx context.Context) error {
	v.mu.Lock()
	l := v.held
	v.mu.Unlock()
	if l == nil {
		return fmt.Errorf("lock %s: %w", v.cluster, ErrNotHeld)
	}
	return l.Check(ctx)
}

// Release implements Locker; releasing a lock not held is a no-op.
func (v *V2Locker) Release(ctx context.Context) error {
	v.mu.Lock()
	l := v.held
	v.held = nil
	v.mu.Unlock()
	if l == nil {
		return nil
	}
	return l.Release(ctx)
}

// Break implements Locker.
func (v *V2Locker) Break(ctx context.Context) (string, error) {
	hs, err := BreakV2(ctx, v.cluster, v.targets)
	var who []string
	for _, h := range hs {
		who = append(who, fmt.Sprintf("%s (run %s)", h, h.RunID))
	}
	return strings.Join(who, ", "), err
}
