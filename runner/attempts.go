package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/etcdplay/etcdplay/schema"
)

// attempts runs a step's action up to 1+s.Retries times. Each attempt runs
// under its own bound, s.Bound (the step's timeout or the action's own,
// resolved once when the playbook loaded; the plan shows the same value),
// so an attempt that times out is retried like one that fails. A critical
// step runs under the hard context (the first Ctrl-C lets it finish) and
// re-checks the lock before every retry. Between attempts the runner
// pauses one poll interval, so a retry observes a changed cluster rather
// than the same instant.
//
// A retry runs the whole action again. Every shipped action is written to
// be safe to repeat: ssh-stop on a stopped member proves it is stopped,
// swap keeps the binary it already put in place, ssh-start on a running
// member proves it runs, a backup writes a new snapshot. See the README's
// "Steps" for what this means for playbook authors.
func (r *run) attempts(ctx context.Context, s *schema.Step, crit bool, run func(context.Context) error, retrying func(attempt int, err error)) error {
	sctx := ctx
	if crit {
		sctx = r.hard
	}
	tries := s.Retries + 1
	timedOut := 0
	for n := 1; ; n++ {
		actx, cancel := boundCtx(sctx, s.Bound)
		err := run(actx)
		late := err != nil && errors.Is(actx.Err(), context.DeadlineExceeded) && sctx.Err() == nil
		cancel()
		if err == nil {
			return nil
		}
		if late {
			timedOut++
		}
		if n >= tries || sctx.Err() != nil {
			return boundErr(err, s.Bound, late, n, tries, timedOut)
		}
		retrying(n, err)
		select {
		case <-time.After(r.o.poll()):
		case <-sctx.Done():
			return err
		}
		if crit {
			if lerr := r.checkLock(ctx); lerr != nil {
				return fmt.Errorf("%w; not retrying a critical step without the lock: %v", err, lerr)
			}
		}
	}
}

// boundCtx is ctx limited by one attempt's bound (none when 0).
func boundCtx(ctx context.Context, bound schema.Duration) (context.Context, context.CancelFunc) {
	if bound <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Duration(bound))
}

// boundErr names the bound when the last attempt ran out of it, so the
// operator knows which number to raise.
func boundErr(err error, bound schema.Duration, late bool, n, tries, timedOut int) error {
	switch {
	case !late:
		return err
	case tries == 1:
		return fmt.Errorf("%w (timed out after %s, the step's bound)", err, bound)
	case timedOut == n:
		return fmt.Errorf("%w (all %d attempts timed out, each after %s, the step's bound per attempt)", err, n, bound)
	}
	return fmt.Errorf("%w (attempt %d of %d timed out after %s, the step's bound per attempt)", err, n, tries, bound)
}
