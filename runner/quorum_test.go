package runner

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
)

// Invariant 1 (docs/safety.md) counts voters only. 2 voters + 1 learner: the old gate saw
// "the 2 other members are healthy" and stopped a voter, which leaves one
// of two voters, no quorum. Now the learner alone refuses the run (the
// default members.learners: refuse), and with learners allowed the two
// voters still cannot spare one: refused before anything stops.
func TestLearnerIsNotAVoter(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.m("infra2").learner = true
	h := newHarness(t, fakePlaybook, fc)
	_, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), "learner(s) mid-promotion: infra2") {
		t.Fatalf("exit %d (%v), want 5 naming the learner", exit.Code(err), err)
	}
	if len(fc.stopped()) != 0 {
		t.Fatalf("stopped %v before refusing", fc.stopped())
	}

	pb := strings.Replace(fakePlaybook, "  order: leader-last\n", "  order: leader-last\n  learners: allow\n", 1)
	h = newHarness(t, pb, fc)
	_, err = Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), "2 voter(s), quorum 2") || !strings.Contains(exit.Hint(err), "--allow-quorum-loss") {
		t.Fatalf("exit %d (%v, hint %q), want 5: two voters cannot spare one", exit.Code(err), err, exit.Hint(err))
	}
	if len(fc.stopped()) != 0 {
		t.Fatalf("stopped %v before refusing", fc.stopped())
	}

	// Opted in: the learner stops under a gate that says it cannot cost
	// quorum; each voter's stop is announced as costing it.
	h = newHarness(t, pb, fc)
	h.o.AllowQuorumLoss = true
	if _, err := Apply(context.Background(), h.o); err != nil {
		t.Fatalf("with --allow-quorum-loss: %v", err)
	}
	if !contains(h.messages(events.Gate), "infra2: safety gate: infra2 is a learner") {
		t.Errorf("gates %q", h.messages(events.Gate))
	}
	if w := h.messages(events.Warn); !contains(w, "1 of 2 voters are left and quorum is 2") {
		t.Errorf("warnings %q", w)
	}
}

// The stop gate itself, when preflight was passed (a resume after
// preflight, or a learner that appears mid-run): a voter whose stop
// would leave too few voters is refused without the opt-in.
func TestStopGateRefusesQuorumLoss(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	fc.afterStart = func(f *fakeCluster, name string) {
		if name == "infra0" {
			f.m("infra1").learner = true // now 2 voters: infra0, infra2
		}
	}
	pb := strings.Replace(fakePlaybook, "  order: leader-last\n", "  order: leader-last\n  learners: allow\n", 1)
	h := newHarness(t, pb, fc)
	_, err := Apply(context.Background(), h.o)
	var g *GateError
	if exit.Code(err) != exit.StepFailed || !asGate(err, &g) || g.Member != "infra2" || !strings.Contains(g.Observed, "1 of 2 voters are left") {
		t.Fatalf("exit %d (%v), want the gate refusing to stop voter infra2", exit.Code(err), err)
	}
	if got := fc.stopped(); len(got) != 2 || got[0] != "infra0" || got[1] != "infra1" {
		t.Errorf("stopped %v, want infra0 and the learner infra1 only", got)
	}
}

func asGate(err error, g **GateError) bool { return errors.As(err, g) }
