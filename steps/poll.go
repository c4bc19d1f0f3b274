package steps

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// errTimedOut tells a poll's caller that the bound ran out, as opposed to
// the run being cancelled from outside.
var errTimedOut = errors.New("timed out")

// poll calls check every interval until it reports done, returns an error,
// or ctx ends. A check that is still not done when ctx ends yields
// errTimedOut (deadline) or ctx's error (cancelled), so the caller can say
// what it last observed.
func poll(ctx context.Context, interval time.Duration, check func(ctx context.Context) (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		done, err := check(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return errTimedOut
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// pollQuickly is poll for conditions that usually hold within a moment of
// a change (a member just started is healthy, caught up, the cluster
// version moves on etcd's next check): every quickInterval for the first
// quickFor, then every interval. A fixed half-second poll made every
// member wait up to half a second longer than etcd needed
// (docs/performance.md).
func pollQuickly(ctx context.Context, interval time.Duration, check func(ctx context.Context) (bool, error)) error {
	start := time.Now()
	for {
		done, err := check(ctx)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		next := interval
		if time.Since(start) < quickFor {
			next = quickInterval
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return errTimedOut
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// pollQuickly's first stretch.
const (
	quickInterval = 100 * time.Millisecond
	quickFor      = 5 * time.Second
)

// since renders an elapsed time the way messages show it ("45s", "1.2s").
func since(start time.Time) string {
	d := time.Since(start)
	if d >= 10*time.Second {
		d = d.Round(time.Second)
	} else {
		d = d.Round(100 * time.Millisecond)
	}
	return d.String()
}

// pollErr turns a poll's error into the step's: out of time, it is msg
// (which says what was last observed, and when); cancelled, msg with the
// cause; any other error (evidence the check found) is returned as it is.
func pollErr(err error, msg string) error {
	switch {
	case errors.Is(err, errTimedOut):
		return errors.New(msg)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", msg, err)
	}
	return err
}

// note keeps what a poll observed, unless the observation was cut short by
// ctx ending: "no answer in time" from the last, interrupted probe would
// hide what the wait really saw.
func note(ctx context.Context, last *string, seen string) {
	if ctx.Err() == nil {
		*last = seen
	}
}
