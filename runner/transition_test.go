package runner

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
)

// failingJournal is a real journal that refuses the records failOn picks,
// as a full disk would.
type failingJournal struct {
	*journal.Journal
	failOn func(journal.Record) bool
}

func (f failingJournal) Append(r journal.Record) error {
	if f.failOn(r) {
		return errors.New("write journal.jsonl: no space left on device")
	}
	return f.Journal.Append(r)
}

func failJournal(h *harness, failOn func(journal.Record) bool) {
	h.o.journalOpener = func(dir string) (journalWriter, error) {
		j, err := journal.Open(dir)
		if err != nil {
			return nil, err
		}
		return failingJournal{j, failOn}, nil
	}
}

// A destructive step whose start cannot be journaled never runs: a crash
// after it would leave resume blind. The run stops with an error naming
// the step, and no step-start event claims it began.
func TestJournalFailureStopsBeforeDestructiveStep(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	h := newHarness(t, fakePlaybook, fc)
	failJournal(h, func(r journal.Record) bool { return r.Kind == journal.StepStart && r.Critical })
	res, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Internal {
		t.Fatalf("exit %d (%v), want %d", exit.Code(err), err, exit.Internal)
	}
	for _, want := range []string{"journal could not record step-start of members step 2 (stop) on member infra0, so the step did not run", "no space left on device"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if got := fc.stopped(); len(got) != 0 {
		t.Errorf("stopped %v; a step whose start is not journaled must not run", got)
	}
	for _, e := range h.rec.Events() {
		if e.Kind == events.StepStart && e.Action == "stop" {
			t.Errorf("a step-start event for a step that never ran: %+v", e)
		}
	}
	if res.Outcome != OutcomeFailed || !strings.Contains(exit.Hint(err), "state folder must be writable") {
		t.Errorf("outcome %s, hint %q", res.Outcome, exit.Hint(err))
	}
	if got := h.messages(events.RunFailed); len(got) != 1 || !strings.Contains(got[0], "step-start") {
		t.Errorf("run-failed events %q", got)
	}
}

// A record of something that did happen (here infra0's member-done) that
// cannot be written stops the run before the next member: the event still
// says it happened, and nothing runs past the hole in the journal.
func TestJournalFailureAfterMemberStopsTheRun(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	h := newHarness(t, fakePlaybook, fc)
	failJournal(h, func(r journal.Record) bool { return r.Kind == journal.MemberDone })
	_, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Internal || !strings.Contains(err.Error(), "journal could not record member-done on member infra0") {
		t.Fatalf("exit %d (%v), want a journal error naming infra0's member-done", exit.Code(err), err)
	}
	if got := fc.stopped(); len(got) != 1 || got[0] != "infra0" {
		t.Errorf("stopped %v, want only infra0", got)
	}
	if got := h.messages(events.MemberDone); len(got) != 1 || !strings.HasPrefix(got[0], "infra0") {
		t.Errorf("member-done events %q", got)
	}
}

// A run is done only once the journal says so: otherwise it ends failed,
// with no run-done event, and the error names the record.
func TestRunDoneNotJournaledIsAFailure(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	failJournal(h, func(r journal.Record) bool { return r.Kind == journal.RunDone || r.Kind == journal.RunFailed })
	res, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Internal || !strings.Contains(err.Error(), "journal could not record run-done") {
		t.Fatalf("exit %d (%v), want a journal error naming run-done", exit.Code(err), err)
	}
	if res.Outcome != OutcomeFailed || len(h.messages(events.RunDone)) != 0 || len(h.messages(events.RunFailed)) != 1 {
		t.Errorf("outcome %s, run-done %q, run-failed %q", res.Outcome, h.messages(events.RunDone), h.messages(events.RunFailed))
	}
	if !strings.Contains(err.Error(), "run-failed") {
		t.Errorf("error %q does not also name the run-failed record that could not be written", err)
	}
}

// Journal and events come from one call per transition, so they agree on
// phase, member and step for every record, also for a safety gate that
// refuses during a rollback (the gate's record said rollback, its event
// said members).
func TestJournalAndEventsAgree(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	pb := strings.Replace(fakePlaybook, "    - start: {}\n", "    - start: {}\n    - when: 'member.name == \"infra1\"'\n      fail: {msg: \"observed a bad thing\"}\n", 1)
	h := newHarness(t, pb, fc)
	if _, err := Apply(context.Background(), h.o); exit.Code(err) != exit.StepFailed {
		t.Fatalf("run: %v", err)
	}
	fc.m("infra1").lagging = true
	_, err := Rollback(context.Background(), h.o, "")
	var g *GateError
	if !errors.As(err, &g) || !strings.HasPrefix(g.Gate, "after rolling back") {
		t.Fatalf("rollback: %v, want the post gate to refuse", err)
	}

	var recs []journal.Record
	for _, r := range journalKinds(t, h.o.StateDir) {
		switch r.Kind {
		case journal.StepStart, journal.StepDone, journal.StepFailed, journal.MemberDone, journal.RollbackDone:
			recs = append(recs, r)
		}
	}
	var evs []events.Event
	for _, e := range h.rec.Events() {
		switch e.Kind {
		case events.StepStart, events.StepDone, events.StepSkipped, events.StepFailed, events.StepInterrupted, events.MemberDone:
			evs = append(evs, e)
		}
	}
	if len(recs) != len(evs) {
		t.Fatalf("%d step and member records, %d such events", len(recs), len(evs))
	}
	gate := false
	for i, r := range recs {
		e := evs[i]
		if r.Phase != e.Phase || r.Member != e.Member || r.StepIndex != e.StepIndex || r.Action != e.Action {
			t.Errorf("record %d %s %s/%s/%d/%s, event %s %s/%s/%d/%s", i, r.Kind, r.Phase, r.Member, r.StepIndex, r.Action,
				e.Kind, e.Phase, e.Member, e.StepIndex, e.Action)
		}
		if r.Action == "safety-gate" {
			gate = true
			if r.Phase != "rollback" {
				t.Errorf("the rollback's gate refusal is journaled in phase %q", r.Phase)
			}
		}
	}
	if !gate {
		t.Error("no safety-gate record: the scenario did not reach the rollback's post gate")
	}
}
