package journal

import (
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/schema"
)

func TestReconcileUsesTheLastRun(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	old := []Record{
		{Time: t0, RunID: "r0", Kind: RunStart, PlaybookDigest: "sha256:old"},
		{Time: t0, RunID: "r0", Kind: MemberDone, Phase: schema.PhaseMembers, Member: "infra0"},
		{Time: t0, RunID: "r0", Kind: RunDone},
	}
	mustAppend(t, j, old...)
	mustAppend(t, j,
		Record{Time: t0, RunID: "r1", Kind: RunStart, PlaybookDigest: "sha256:pb", InventoryDigest: "sha256:inv"},
		rec(StepDone, "infra1", 1),
	)
	recs, _ := mustRead(t, dir)
	s := Reconcile(recs)
	if s.RunID != "r1" || s.PlaybookDigest != "sha256:pb" || s.Finished() || s.Ended != "" {
		t.Errorf("state %+v", s)
	}
	if s.Member("infra0").Done {
		t.Error("a member done in an older run counts as done in this one")
	}
	if m := s.Member("infra1"); m.LastStep != 1 || m.Done {
		t.Errorf("infra1 %+v", m)
	}
	if err := s.CheckDigests("sha256:pb", "sha256:inv"); err != nil {
		t.Error(err)
	}
	if err := s.CheckDigests("sha256:other", "sha256:inv"); err == nil || !strings.Contains(err.Error(), "another playbook") {
		t.Errorf("changed playbook: err = %v", err)
	}
	if err := s.CheckDigests("sha256:pb", "sha256:x"); err == nil || !strings.Contains(err.Error(), "another inventory") {
		t.Errorf("changed inventory: err = %v", err)
	}
	if Reconcile(nil) != nil {
		t.Error("Reconcile(nil) != nil")
	}
}

// The heart of resume: a destructive step started but not known to be
// finished is reported as in flight, with its Critical flag, so the runner
// re-checks the member instead of stopping or swapping it again.
func TestReconcileFindsTheStepInFlight(t *testing.T) {
	stop := rec(StepStart, "infra1", 2)
	stop.Action, stop.Critical = "ssh-stop", true
	recs := []Record{
		{Time: t0, RunID: "r1", Kind: RunStart},
		{Time: t0, RunID: "r1", Kind: StepStart, Phase: schema.PhasePreflight, StepIndex: 1, Action: "health"},
		{Time: t0, RunID: "r1", Kind: StepDone, Phase: schema.PhasePreflight, StepIndex: 1, Action: "health"},
		rec(StepStart, "infra0", 1), rec(StepDone, "infra0", 1),
		rec(StepStart, "infra0", 2), rec(StepDone, "infra0", 2),
		rec(MemberDone, "infra0", 0),
		rec(StepStart, "infra1", 1), rec(StepDone, "infra1", 1),
		stop,
		// crash: no step-done for infra1's stop
	}
	s := Reconcile(recs)
	if s.InFlight != nil {
		t.Errorf("preflight step in flight: %+v", s.InFlight)
	}
	if got := strings.Join(s.Order, ","); got != "infra0,infra1" {
		t.Errorf("order %s", got)
	}
	if m := s.Member("infra0"); !m.Done || m.LastStep != 2 || m.InFlight != nil {
		t.Errorf("infra0 %+v", m)
	}
	m := s.Member("infra1")
	if m.Done || m.LastStep != 1 || m.InFlight == nil || !m.InFlight.Critical || m.InFlight.StepIndex != 2 || m.InFlight.Action != "ssh-stop" {
		t.Errorf("infra1 %+v, in flight %+v", m, m.InFlight)
	}
	if s.Ended != "" || s.Last.Kind != StepStart {
		t.Errorf("ended %q, last %+v", s.Ended, s.Last)
	}
	if m := s.Member("infra2"); m.Name != "infra2" || m.LastStep != 0 {
		t.Errorf("untouched member %+v", m)
	}

	// resume re-checked the member, journaled the outcome, then failed later
	recs = append(recs,
		Record{Time: t0, RunID: "r1", Kind: RunStart, Detail: "resume"},
		rec(StepDone, "infra1", 2),
		rec(StepStart, "infra1", 3), rec(StepFailed, "infra1", 3),
		Record{Time: t0, RunID: "r1", Kind: RunFailed},
	)
	s = Reconcile(recs)
	m = s.Member("infra1")
	if m.InFlight != nil || m.LastStep != 2 || m.Failed == nil || m.Failed.StepIndex != 3 {
		t.Errorf("after resume: %+v", m)
	}
	if s.Ended != RunFailed || s.Finished() {
		t.Errorf("ended %q", s.Ended)
	}

	// the operator rolls infra1 back: it starts from the first step again
	rb := Record{Time: t0, RunID: "r1", Kind: StepStart, Phase: schema.PhaseRollback, Member: "infra1", StepIndex: 1, Action: "ssh-stop", Critical: true}
	s = Reconcile(append(recs, rb))
	if m := s.Member("infra1"); m.InFlight == nil || m.InFlight.Phase != schema.PhaseRollback {
		t.Errorf("rollback step in flight not seen: %+v", m)
	}
	rbDone := rb
	rbDone.Kind = StepDone
	s = Reconcile(append(recs, rb, rbDone,
		Record{Time: t0, RunID: "r1", Kind: RollbackDone, Phase: schema.PhaseRollback, Member: "infra1"}))
	if m := s.Member("infra1"); !m.RolledBack || m.LastStep != 0 || m.Failed != nil || m.InFlight != nil {
		t.Errorf("after rollback: %+v", m)
	}
	if s.Ended != RollbackDone {
		t.Errorf("ended %q", s.Ended)
	}
}

func TestReconcileClusterWideInFlightAndFinish(t *testing.T) {
	s := Reconcile([]Record{
		{RunID: "r1", Kind: RunStart},
		{RunID: "r1", Kind: StepStart, Phase: schema.PhaseFinish, StepIndex: 1, Action: "assert-version"},
	})
	if s.InFlight == nil || s.InFlight.Phase != schema.PhaseFinish {
		t.Errorf("finish step in flight: %+v", s.InFlight)
	}
	s = Reconcile([]Record{
		{RunID: "r1", Kind: RunStart},
		{RunID: "r1", Kind: StepStart, Phase: schema.PhaseFinish, StepIndex: 1},
		{RunID: "r1", Kind: StepDone, Phase: schema.PhaseFinish, StepIndex: 1},
		{RunID: "r1", Kind: RunDone},
	})
	if s.InFlight != nil || !s.Finished() {
		t.Errorf("finished run: %+v", s)
	}
}

// A route's hops share one run id; each hop runs its own playbook, so the
// state is the last hop's alone: a member done in hop 1 is still to do in
// hop 2, and the hop's own digests are the ones resume checks.
func TestReconcileFoldsTheLastHopOnly(t *testing.T) {
	hop := func(r Record, n int) Record { r.Hop = n; return r }
	recs := []Record{
		{Time: t0, RunID: "r1", Hop: 1, Kind: RunStart, PlaybookDigest: "sha256:patch"},
		hop(rec(MemberDone, "infra0", 0), 1),
		hop(rec(StepDone, "infra1", 4), 1),
		{Time: t0, RunID: "r1", Hop: 1, Kind: RunDone},
		{Time: t0, RunID: "r1", Hop: 2, Kind: RunStart, PlaybookDigest: "sha256:minor"},
		hop(rec(StepDone, "infra1", 1), 2),
	}
	s := Reconcile(recs)
	if s.Hop != 2 || s.PlaybookDigest != "sha256:minor" || s.Finished() {
		t.Errorf("state hop %d digest %s finished %v", s.Hop, s.PlaybookDigest, s.Finished())
	}
	if s.Member("infra0").Done {
		t.Error("a member done in hop 1 counts as done in hop 2")
	}
	if m := s.Member("infra1"); m.LastStep != 1 {
		t.Errorf("infra1 last step %d, want hop 2's 1", m.LastStep)
	}
	if s := Reconcile(recs[:4]); s.Hop != 1 || !s.Finished() {
		t.Errorf("after hop 1's run-done: hop %d finished %v", s.Hop, s.Finished())
	}
}
