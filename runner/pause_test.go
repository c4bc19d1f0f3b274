package runner

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
)

// --pause member: the run asks before each member; "stop" after the first
// ends it like an interruption (exit 130, journaled, resumable) with
// exactly one member upgraded, and resume finishes the rest.
func TestPauseMemberStopThenResume(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	h := newHarness(t, fakePlaybook, fc)
	var asked []PausePoint
	h.o.Pause = PauseMember
	h.o.Ask = func(_ context.Context, pt PausePoint) (Answer, error) {
		asked = append(asked, pt)
		if len(asked) == 1 {
			return Continue, nil
		}
		return Stop, nil
	}
	res, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Interrupted {
		t.Fatalf("exit %d (%v), want 130", exit.Code(err), err)
	}
	if want := "stopped at the pause before infra1 (3.4.23 → 3.5), as the operator answered; resume with: etcdplay resume -i "; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
	if got := fc.stopped(); !reflect.DeepEqual(got, []string{"infra0"}) {
		t.Errorf("stopped %v, want only infra0", got)
	}
	if len(asked) != 2 || asked[0].Member != "infra0" || asked[1].Member != "infra1" ||
		!reflect.DeepEqual(asked[1].Upgraded, []string{"infra0"}) || asked[1].Rollback != "infra0" || asked[0].Rollback != "" {
		t.Errorf("pauses %+v", asked)
	}
	if res.Outcome != OutcomeInterrupted || res.Resume == "" {
		t.Errorf("result %+v", res)
	}
	recs := journalKinds(t, h.o.StateDir)
	if last := recs[len(recs)-1]; last.Kind != journal.Interrupted {
		t.Errorf("journal ends with %s, want interrupted", last.Kind)
	}
	if got := h.messages(events.Pause); len(got) != 4 || got[3] != "infra1: operator answered stop" {
		t.Errorf("pause events %q", got)
	}

	h.o.Pause, h.o.Ask = PauseNever, nil
	if _, err := Resume(context.Background(), h.o); err != nil {
		t.Fatalf("resume: %v", err)
	}
	for n, v := range fc.versions() {
		if v != "3.5.1" {
			t.Errorf("after resume %s on %s, want 3.5.1", n, v)
		}
	}
	if got := fc.stopped(); len(got) != 3 || got[0] != "infra0" {
		t.Errorf("stopped %v: infra0 must not be stopped twice", got)
	}
}

// --pause phase asks before the members and before finish, and a
// rollback answer names the member to put back.
func TestPausePhaseAndRollbackAnswer(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	h := newHarness(t, fakePlaybook, fc)
	var asked []string
	h.o.Pause = PausePhase
	h.o.Ask = func(_ context.Context, pt PausePoint) (Answer, error) {
		asked = append(asked, pt.Next)
		return Continue, nil
	}
	if _, err := Apply(context.Background(), h.o); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if want := []string{"the members phase", "the finish phase"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("asked before %q, want %q", asked, want)
	}

	fc = newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	h = newHarness(t, fakePlaybook, fc)
	h.o.Pause = PauseMember
	n := 0
	h.o.Ask = func(_ context.Context, pt PausePoint) (Answer, error) {
		if n++; n == 2 {
			return RollBack, nil
		}
		return Continue, nil
	}
	res, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Interrupted || res.RollbackRequested != "infra0" {
		t.Errorf("exit %d (%v), rollback requested %q: want 130 and infra0", exit.Code(err), err, res.RollbackRequested)
	}
}

func TestParsePauseAt(t *testing.T) {
	for in, want := range map[string]PauseAt{"": PauseNever, "member": PauseMember, "phase": PausePhase} {
		if got, err := ParsePauseAt(in); err != nil || got != want {
			t.Errorf("ParsePauseAt(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParsePauseAt("step"); err == nil || !strings.Contains(err.Error(), "want member or phase") {
		t.Errorf("ParsePauseAt(step) = %v", err)
	}
}
