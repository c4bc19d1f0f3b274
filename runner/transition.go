package runner

import (
	"errors"
	"fmt"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
)

// A transition is one thing that happened in a run that resume must know
// about: the run starting or ending, a step starting, finishing, being
// skipped or failing (a safety gate's refusal is a failed step too), a
// member done or rolled back. run.happen is the one call for each: the
// journal record and the event are both built from the transition, so
// they cannot disagree about phase, member or step.
//
// What is not a transition is only an event (run.emit): phase and member
// starts, gate passes, warnings, action logs and records, resume's
// reconcile findings, a Preflighter's refusal (nothing ran; a record
// naming the member would make resume and rollback treat it as
// mid-upgrade), and a refusal before the journal is open (reach.go: a host
// that cannot be reached; the lock).
type transition struct {
	kind    events.Kind
	phase   schema.Phase // "" for the run's own start and end
	member  string       // "" for cluster-wide transitions
	step    *stepRef     // nil when the transition is not about a step
	message string       // the event's message and the record's detail
	took    time.Duration
	fields  map[string]any // event only
}

// stepRef names a step within its phase (for members and rollback: within
// the member's step list).
type stepRef struct {
	index, steps int
	name, action string
	critical     bool
	spent        events.Spent // what the step's time counts as in the report
}

// happen journals t and then emits its event. The record is fsynced
// before happen returns (journal.Append), so a crash right after leaves it
// on disk. When the write fails:
//
//   - run-start, step-start and run-done are not emitted either, and the
//     error is returned: the write comes before the step it announces, so
//     a step whose start is not on disk never runs (a crash after it would
//     leave resume blind, and no destructive step may run that resume
//     cannot see); a run is done only once the journal says so.
//   - any other record marks something that did happen: its event is
//     emitted, and the error is returned.
//
// Every caller stops the run on that error (joined to the failure it was
// recording, if any): resume can no longer trust a journal that misses a
// record, so the runner does not go on writing past a hole.
func (r *run) happen(t transition) error {
	rec, journaled := r.recordOf(t)
	var jerr error
	if journaled {
		jerr = r.journal(rec)
	}
	if jerr != nil {
		switch t.kind {
		case events.RunStart, events.StepStart, events.RunDone:
			return jerr
		}
	}
	r.emit(r.eventOf(t))
	return jerr
}

// recordOf is t as the journal keeps it; false for transitions the journal
// does not keep. A rollback adds its steps and rollback-done to the run it
// repairs, but no run-start or run end: a refused rollback must not turn a
// finished run into one that resume would pick up again.
func (r *run) recordOf(t transition) (journal.Record, bool) {
	rec := journal.Record{Phase: t.phase, Member: t.member, Detail: t.message, Hop: r.o.route.number()}
	if t.step != nil {
		rec.StepIndex, rec.Action = t.step.index, t.step.action
	}
	runLevel := false
	switch t.kind {
	case events.RunStart:
		rec.Kind, runLevel = journal.RunStart, true
		rec.PlaybookDigest, rec.InventoryDigest = r.o.PlaybookDigest, r.o.InventoryDigest
	case events.RunDone:
		rec.Kind, runLevel = journal.RunDone, true
	case events.RunFailed:
		rec.Kind, runLevel = journal.RunFailed, true
	case events.Interrupted:
		rec.Kind, runLevel = journal.Interrupted, true
	case events.StepStart:
		rec.Kind = journal.StepStart
		rec.Critical = t.step != nil && t.step.critical
	case events.StepDone:
		rec.Kind = journal.StepDone
	case events.StepSkipped:
		// Resume moves past a skipped step as past a done one.
		rec.Kind, rec.Detail = journal.StepDone, "skipped: "+t.message
	case events.StepFailed, events.StepInterrupted:
		// An interrupted step is a failed one to resume: not done.
		rec.Kind = journal.StepFailed
	case events.MemberDone:
		rec.Kind = journal.MemberDone
		if t.phase == schema.PhaseRollback {
			rec.Kind = journal.RollbackDone
		}
	default:
		return rec, false
	}
	if runLevel && r.mode == modeRollback {
		return rec, false
	}
	return rec, true
}

// eventOf is t as an event.
func (r *run) eventOf(t transition) events.Event {
	e := events.Event{Kind: t.kind, Phase: t.phase, Member: t.member, Message: t.message, Duration: t.took, Fields: t.fields}
	if s := t.step; s != nil {
		e.StepIndex, e.Steps, e.StepName, e.Action, e.Spent = s.index, s.steps, s.name, s.action, s.spent
	}
	return e
}

// journal appends a record. The error names the record, so an operator
// reading it knows what did not happen (or was not recorded) and why.
func (r *run) journal(rec journal.Record) error {
	if r.j == nil {
		return nil
	}
	rec.Time = r.o.now()
	rec.RunID = r.id
	if err := r.j.Append(rec); err != nil {
		what := string(rec.Kind)
		if rec.Action != "" {
			what += fmt.Sprintf(" of %s step %d (%s)", rec.Phase, rec.StepIndex, rec.Action)
		}
		if rec.Member != "" {
			what += " on member " + rec.Member
		}
		switch rec.Kind {
		case journal.StepStart:
			what += ", so the step did not run"
		case journal.RunStart:
			what += ", so the run did not start"
		}
		return exit.New(exit.Internal, fmt.Errorf("journal could not record %s: %w", what, err),
			"the state folder must be writable: "+r.o.StateDir+"; then `etcdplay resume` re-checks the cluster and goes on")
	}
	return nil
}

// alsoJournal keeps both the failure a transition recorded and the
// journal's own failure to record it; the failure's exit code wins.
func alsoJournal(err, jerr error) error {
	if jerr == nil {
		return err
	}
	return errors.Join(err, jerr)
}

// journalWriter is the part of *journal.Journal a run writes to; tests put
// a failing one in its place (Options.openJournal).
type journalWriter interface {
	Append(journal.Record) error
	Path() string
	Close() error
}
