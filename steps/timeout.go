package steps

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// defaultTimeouts bound each action when the playbook's step gives no
// timeout, so no action ever waits without end. They are generous for
// healthy clusters (a 3.5+ stop takes ~2.5 s, a start ~0.5 s on the bed)
// and short enough that a stuck member is reported while the operator is
// still watching. wait has its own defaults (waitDefaults); confirm waits
// for a human and is bounded only by ctx.
var defaultTimeouts = map[string]time.Duration{
	"health":         30 * time.Second,
	"assert-version": 30 * time.Second,
	"check":          30 * time.Second,
	"backup":         10 * time.Minute,
	"move-leader":    time.Minute,
	"ssh-stop":       time.Minute,
	"swap":           5 * time.Minute,
	"ssh-start":      time.Minute,
	"ssh-run":        5 * time.Minute,
}

// DefaultTimeout is how long an action of kind may take when its step says
// nothing (0: bounded by ctx only). The runner may use it to show the
// bound in a plan.
func DefaultTimeout(kind string) time.Duration { return defaultTimeouts[kind] }

// bounded returns ctx limited by d (when d > 0) and how long the bound is.
func bounded(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// stepBound is the step's timeout, else the action's default.
func stepBound(env *Env, kind string) time.Duration {
	if env.Timeout > 0 {
		return env.Timeout
	}
	return defaultTimeouts[kind]
}

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
