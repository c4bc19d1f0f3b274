package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
)

// PauseAt says where a run stops to ask the operator (run --pause): at
// safe points only, where no member is stopped and the previous one has
// passed its post-member gate (docs/safety.md invariant 2).
type PauseAt string

// Where a run pauses.
const (
	PauseNever PauseAt = ""
	// PauseMember asks before each member and before finish.
	PauseMember PauseAt = "member"
	// PausePhase asks before the members phase and before finish.
	PausePhase PauseAt = "phase"
)

// ParsePauseAt reads a --pause value.
func ParsePauseAt(s string) (PauseAt, error) {
	switch p := PauseAt(s); p {
	case PauseNever, PauseMember, PausePhase:
		return p, nil
	}
	return PauseNever, fmt.Errorf("--pause %q: want member or phase", s)
}

// PausePoint is a safe point where the run waits for the operator.
type PausePoint struct {
	// Next is what comes after the pause: "host2 (3.5.35 → 3.6)", or
	// "the finish phase".
	Next string
	// Member is the next member, "" before a phase.
	Member string
	Phase  schema.Phase
	// Upgraded are the members this run has upgraded so far, in order.
	Upgraded []string
	// Rollback is the member a rollback answer would put back: the last
	// one upgraded, while the playbook has rollback steps; "" otherwise.
	Rollback string
}

// Answer is the operator's decision at a pause.
type Answer int

// The answers to a pause.
const (
	Continue Answer = iota
	// Stop ends the run like an interruption: journaled, resumable.
	Stop
	// RollBack stops, then puts PausePoint.Rollback back (the caller runs
	// Rollback once Apply has returned; see Result.RollbackRequested).
	RollBack
)

func (a Answer) String() string {
	switch a {
	case Stop:
		return "stop"
	case RollBack:
		return "rollback"
	}
	return "continue"
}

// errStopped is the operator's "stop" at a pause: an interruption, not a
// failure.
var errStopped = errors.New("stopped by the operator")

// pause asks the operator at a safe point, if the run was told to pause
// there. It returns errStopped for stop and rollback answers.
func (r *run) pause(ctx context.Context, at PauseAt, pt PausePoint) error {
	if r.o.Pause == PauseNever || r.o.Ask == nil || (at == PauseMember && r.o.Pause != PauseMember) {
		return nil
	}
	pt.Upgraded = append([]string(nil), r.upgraded...)
	if n := len(r.upgraded); n > 0 && len(r.pb.Rollback) > 0 {
		pt.Rollback = r.upgraded[n-1]
	}
	r.where = "the pause before " + pt.Next
	ph := pt.Phase
	r.emit(events.Event{Kind: events.Pause, Phase: ph, Member: pt.Member, Message: "paused before " + pt.Next})
	ans, err := r.o.Ask(ctx, pt)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("pause before %s: %w", pt.Next, err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.emit(events.Event{Kind: events.Pause, Phase: ph, Member: pt.Member, Message: "operator answered " + ans.String(),
		Fields: map[string]any{"answer": ans.String()}})
	switch ans {
	case Stop:
		return errStopped
	case RollBack:
		if pt.Rollback == "" {
			return fmt.Errorf("pause before %s: nothing to roll back", pt.Next)
		}
		r.rollbackRequested = pt.Rollback
		return errStopped
	}
	return nil
}
