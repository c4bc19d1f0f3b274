package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
)

// reachHosts logs in to every host the run may touch before anything else
// happens: before the lock, the preflight steps and the backup. Connections
// are dialed lazily by the steps, so without this a changed host key on the
// third member (safety invariant 6) would be found only after commands had
// already run on the first two. Dialing runs no command; it verifies the
// host key and logs in, and the pool keeps the connection for the run.
//
// A rollback touches one member, so only its host is checked then.
func (r *run) reachHosts(ctx context.Context) error {
	names := r.names
	if r.mode == modeRollback && r.rollbackMember != "" {
		names = []string{r.rollbackMember}
	}
	var errs []error
	for _, n := range names {
		if _, err := r.o.Hosts.Host(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("member %s: %w", n, err))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	err := errors.Join(errs...)
	r.emit(events.Event{Kind: events.RunFailed, Message: err.Error()})
	// No hint of our own: the transport's errors carry the next step (the
	// ssh-keyscan line, ssh-keygen -R, ssh-add), and exit.Hint finds it.
	return exit.New(exit.Unreachable, fmt.Errorf("nothing was run on any host: %w", err), "")
}
