package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/target/lock"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// acquire takes the cluster's lock before anything else happens. A lock
// held by another run is exit 7 naming the holder; with BreakLock the
// operator is asked (Confirm) and, on yes, the lock is broken and taken.
func (r *run) acquire(ctx context.Context) error {
	if r.o.Locker == nil {
		return nil
	}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	l, err := r.o.Locker.Acquire(actx, r.id)
	var held *lock.HeldError
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
		r.emit(events.Event{Kind: events.Warn, Message: "broke the lock held by " + orDash(who)})
		l, err = r.o.Locker.Acquire(actx, r.id)
	}
	if err != nil {
		if errors.As(err, &held) {
			hint := "wait for that run to finish; if it is dead, add --break-lock"
			if held.HolderDeadHere() && held.Expires {
				hint = fmt.Sprintf("its process (pid %d) is gone from this host; the lease lapses within %s, or add --break-lock", held.Holder.PID, lock.DefaultTTL)
			}
			return exit.New(exit.Locked, err, hint)
		}
		if ctx.Err() != nil {
			return exit.New(exit.Interrupted, err, "")
		}
		return exit.New(exit.Unreachable, fmt.Errorf("take the cluster lock: %w", err), "")
	}
	r.lock = l
	return nil
}

// release gives the lock up at the end, also after a failure; it survives
// a cancelled run context.
func (r *run) release() {
	if r.lock == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.lock.Release(ctx); err != nil {
		r.emit(events.Event{Kind: events.Warn, Message: err.Error()})
	}
}

// V3Locker is the v3 lock: a lease-backed concurrency.Mutex in the cluster
// itself under /etcdplay/lock/<cluster>, holder JSON at
// /etcdplay/lock/<cluster>/holder (see package lock).
type V3Locker struct {
	Cluster string
	TTL     time.Duration
	// Dial opens a client on every member's client URL but avoid's ("":
	// every member). The held lock owns the client it keeps its lease
	// alive through, and redials to leave a member (Avoid).
	Dial func(avoid string) (*clientv3.Client, error)
}

// Acquire implements Locker. The lock it returns is an Avoider.
func (v *V3Locker) Acquire(ctx context.Context, runID string) (Lock, error) {
	cli, err := v.Dial("")
	if err != nil {
		return nil, err
	}
	l, err := lock.AcquireV3(ctx, cli, v.Cluster, lock.NewHolder(runID), v.TTL)
	if err != nil {
		cli.Close()
		return nil, err
	}
	return &v3Lock{Lock: l, dial: v.Dial, cli: cli}, nil
}

// Break implements Locker.
func (v *V3Locker) Break(ctx context.Context) (string, error) {
	cli, err := v.Dial("")
	if err != nil {
		return "", err
	}
	defer cli.Close()
	h, err := lock.BreakV3(ctx, cli, v.Cluster)
	if h == nil {
		return "", err
	}
	return fmt.Sprintf("%s (run %s)", h, h.RunID), err
}

// v3Lock is a held v3 lock with the client its lease is kept alive
// through, which it owns.
type v3Lock struct {
	*lock.Lock
	dial     func(avoid string) (*clientv3.Client, error)
	cli      *clientv3.Client
	avoiding string
}

// Avoid implements Avoider: the lease's keep-alive moves to a new client
// that does not know member, and the old client, with its stream, closes.
func (l *v3Lock) Avoid(ctx context.Context, member string) error {
	if member == l.avoiding {
		return nil
	}
	cli, err := l.dial(member)
	if err != nil {
		return err
	}
	if err := l.Lock.Move(ctx, cli); err != nil {
		cli.Close()
		return err
	}
	l.cli.Close()
	l.cli, l.avoiding = cli, member
	return nil
}

// Release implements Lock, and closes the client.
func (l *v3Lock) Release(ctx context.Context) error {
	defer l.cli.Close()
	return l.Lock.Release(ctx)
}

// V2Locker is the v2 lock: a folder on every member host, taken over SSH.
type V2Locker struct {
	Cluster string
	Targets []lock.Target
}

// NewV2Locker builds the v2 lock's targets from the inventory's members
// (each member's backup_dir, else /var/tmp) over hosts.
func NewV2Locker(o *Options) *V2Locker {
	v := &V2Locker{Cluster: o.Inventory.Cluster}
	for _, m := range o.Inventory.Members {
		cfg := o.Inventory.Resolve(m)
		dir := ""
		if m.BackupDir != "" || o.Inventory.BackupDir != "" {
			dir = cfg.BackupDir
		}
		v.Targets = append(v.Targets, lock.Target{Name: m.Name, Dir: dir, Runner: hostRunner{hosts: o.Hosts, member: m.Name}})
	}
	return v
}

// Acquire implements Locker.
func (v *V2Locker) Acquire(ctx context.Context, runID string) (Lock, error) {
	l, err := lock.AcquireV2(ctx, v.Cluster, v.Targets, lock.NewHolder(runID))
	if err != nil {
		return nil, err
	}
	return fileLock{l}, nil
}

// Break implements Locker.
func (v *V2Locker) Break(ctx context.Context) (string, error) {
	hs, err := lock.BreakV2(ctx, v.Cluster, v.Targets)
	var who []string
	for _, h := range hs {
		who = append(who, fmt.Sprintf("%s (run %s)", h, h.RunID))
	}
	return strings.Join(who, ", "), err
}

// fileLock adds Check to the v2 lock: folders on hosts cannot be lost the
// way a lease can, so there is nothing to check.
type fileLock struct{ *lock.FileLock }

func (fileLock) Check(context.Context) error { return nil }

// hostRunner adapts steps.Hosts to lock.Runner.
type hostRunner struct {
	hosts  steps.Hosts
	member string
}

func (h hostRunner) Run(ctx context.Context, argv []string) ([]byte, []byte, int, error) {
	host, err := h.hosts.Host(ctx, h.member)
	if err != nil {
		return nil, nil, 0, err
	}
	res, err := host.Run(ctx, ssh.Command{Argv: argv})
	return res.Stdout, res.Stderr, res.ExitStatus, err
}
