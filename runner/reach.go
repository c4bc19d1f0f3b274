package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
)

// reachHosts logs in to every host the run may touch before anything else
// happens: before the lock, the preflight steps and the backup. Connections
// are dialed lazily by the steps, so without this a changed host key on the
// third member (invariant 6 in docs/safety.md) would be found only after commands had
// already run on the first two. Dialing runs no command; it verifies the
// host key and logs in, and the pool keeps the connection for the run.
//
// A rollback touches one member, so only its host is checked then (a
// downgrade's rollback may touch them all).
func (r *run) reachHosts(ctx context.Context) error {
	names := r.names
	if r.mode == modeRollback && r.rollbackMember != "" && !r.pb.IsDowngrade() {
		names = []string{r.rollbackMember}
	}
	// Side by side: a login costs a round trip or more each (50 ms on a
	// quiet loopback, 100-300 ms under load), and they are independent
	// (docs/performance.md).
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.o.Hosts.Host(ctx, n); err != nil {
				errs[i] = fmt.Errorf("member %s: %w", n, err)
			}
		}()
	}
	wg.Wait()
	err := errors.Join(errs...) // in inventory order; nil when all logged in
	if err == nil {
		return nil
	}
	r.emit(events.Event{Kind: events.RunFailed, Message: err.Error()})
	// No hint of our own: the transport's errors carry the next step (the
	// ssh-keyscan line, ssh-keygen -R, ssh-add), and exit.Hint finds it.
	return exit.New(exit.Unreachable, fmt.Errorf("nothing was run on any host: %w", err), "")
}

// reachCluster asks etcd once, before the lock: the lock's own calls
// (grant a lease, then wait) would hide a refused TLS handshake behind
// "context deadline exceeded" after their 10 s bound, while the probe
// names the cause (x509, connection refused) at once.
func (r *run) reachCluster(ctx context.Context) error {
	if r.mode == modeRestore {
		return nil // a restore runs when no member answers: that may be why
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := r.o.Cluster.Cluster(pctx)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.emit(events.Event{Kind: events.RunFailed, Message: err.Error()})
	return exit.New(exit.Unreachable, fmt.Errorf("%w; nothing was run", err),
		"check the client URLs and the tls section of the inventory; etcdplay status -i INV shows what answers")
}
