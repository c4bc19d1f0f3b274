package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
)

// Locker is one run's hold on its cluster's lock (safety: one run per
// cluster at a time). The real ones live in target/lock (v3: a lease in
// the cluster; v2: a folder on every host) and target.Target.Locker picks
// one for the inventory; tests use fakes. Its methods speak only standard
// types so an implementation never imports the runner. A Locker that holds
// a stream to the cluster is also an Avoider (streams.go).
type Locker interface {
	// Acquire takes the lock for runID, or returns an error satisfying
	// HeldError naming the holder.
	Acquire(ctx context.Context, runID string) error
	// Check says whether the lock is still ours; the runner calls it
	// before every critical step.
	Check(ctx context.Context) error
	// Release gives the lock up; it is a no-op when not held.
	Release(ctx context.Context) error
	// Break removes the lock whoever holds it and says whose it was.
	Break(ctx context.Context) (holder string, err error)
}

// HeldError is how a Locker says another run holds the lock
// (target/lock's *HeldError is one): Error names the holder, LockHint says
// what the refused operator can do. The runner maps it to exit 7.
type HeldError interface {
	error
	LockHint() string
}

// acquire takes the cluster's lock before anything else happens. A lock
// held by another run is exit 7 naming the holder; with BreakLock the
// operator is asked (Confirm) and, on yes, the lock is broken and taken.
func (r *run) acquire(ctx context.Context) error {
	if r.o.Locker == nil {
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := r.o.Locker.Acquire(actx, r.id)
	var held HeldError
	var dead interface{ DeadRunHere(runID string) bool }
	if (r.mode == modeResume || r.resuming) && errors.As(err, &dead) && dead.DeadRunHere(r.id) {
		// The lock is this very run's, left by a process that crashed on
		// this host: resuming that run takes it over, and says so.
		who, berr := r.o.Locker.Break(actx)
		if berr != nil {
			return exit.New(exit.Locked, fmt.Errorf("take over the lock of crashed run %s: %w", r.id, berr), "")
		}
		r.emit(events.Event{Kind: events.Warn, Message: "took over the lock of this run, held by " + cmp.Or(who, "-") + ": its process on this host is gone"})
		err = r.o.Locker.Acquire(actx, r.id)
	}
	if errors.As(err, &held) && r.o.BreakLock {
		ok := false
		if r.o.Confirm != nil {
			ok, _ = r.o.Confirm(ctx, fmt.Sprintf("%s. Break it? Only if that run is dead", held.Error()))
		}
		if !ok {
			return exit.New(exit.Locked, err, "the lock was not broken; --break-lock needs a yes (or --yes)")
		}
		who, berr := r.o.Locker.Break(actx)
		if berr != nil {
			return exit.New(exit.Locked, fmt.Errorf("break lock: %w", berr), "")
		}
		r.emit(events.Event{Kind: events.Warn, Message: "broke the lock held by " + cmp.Or(who, "-")})
		err = r.o.Locker.Acquire(actx, r.id)
	}
	if err != nil {
		if errors.As(err, &held) {
			return exit.New(exit.Locked, err, held.LockHint())
		}
		if ctx.Err() != nil {
			return exit.New(exit.Interrupted, err, "")
		}
		return exit.New(exit.Unreachable, fmt.Errorf("take the cluster lock: %w", err), "")
	}
	r.locked = true
	return nil
}

// checkLock refuses a critical step once the lock is no longer ours.
// While a member the stop gate let cost quorum is down, the check is the
// Locker's quorumless one (see quorumlessChecker).
func (r *run) checkLock(ctx context.Context) error {
	if !r.locked {
		return nil
	}
	if r.quorumLostBy != "" {
		return checkWithoutQuorum(ctx, r.o.Locker)
	}
	return r.o.Locker.Check(ctx)
}

// quorumlessChecker is a Locker whose Check needs the cluster's quorum
// (target/lock's v3 lease reads linearizably) and that can also check
// without it, for the window in which the run itself has stopped quorum
// under --allow-quorum-loss: no other run can break or take the lock
// then either (docs/safety.md).
type quorumlessChecker interface {
	CheckWithoutQuorum(ctx context.Context) error
}

// checkWithoutQuorum is l's quorumless check, or its Check when it has
// none (the v2 lock folders need no quorum).
func checkWithoutQuorum(ctx context.Context, l Locker) error {
	if q, ok := l.(quorumlessChecker); ok {
		return q.CheckWithoutQuorum(ctx)
	}
	return l.Check(ctx)
}

// release gives the lock up at the end, also after a failure; it survives
// a cancelled run context.
func (r *run) release() {
	if !r.locked {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.o.Locker.Release(ctx); err != nil {
		r.emit(events.Event{Kind: events.Warn, Message: err.Error()})
	}
	r.locked = false
}
