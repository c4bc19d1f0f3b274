package runner

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
)

// failsOnInfra1 upgrades infra0, then fails infra1 after its restart on 3.5.
var failsOnInfra1 = strings.Replace(fakePlaybook, "    - start: {}\n",
	"    - start: {}\n    - when: 'member.name == \"infra1\"'\n      fail: {msg: \"observed a bad thing\"}\n", 1)

// memberCase drives one pass of the member loop: an upgrade of infra0 (the
// first follower) or a rollback of infra1 (after a run failed on it).
type memberCase struct {
	pass   string
	member string
	phase  schema.Phase
	prefix string // how the loop's states start
	stop   string // the pass's first critical step
	// prepare returns a harness whose next run call runs the pass on
	// member.
	prepare func(t *testing.T) (*harness, *fakeCluster)
	run     func(h *harness) (*Result, error)
}

var memberCases = []memberCase{
	{pass: "upgrade", member: "infra0", phase: schema.PhaseMembers, stop: "step 2 (stop)",
		prepare: func(t *testing.T) (*harness, *fakeCluster) {
			fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
			fc.leader = "infra2"
			return newHarness(t, fakePlaybook, fc), fc
		},
		run: func(h *harness) (*Result, error) { return Apply(context.Background(), h.o) }},
	{pass: "rollback", member: "infra1", phase: schema.PhaseRollback, prefix: "rollback ", stop: "step 1 (stop)",
		prepare: func(t *testing.T) (*harness, *fakeCluster) {
			fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
			fc.leader = "infra2"
			h := newHarness(t, failsOnInfra1, fc)
			if _, err := Apply(context.Background(), h.o); exit.Code(err) != exit.StepFailed {
				t.Fatalf("the run before the rollback: %v", err)
			}
			return h, fc
		},
		run: func(h *harness) (*Result, error) { return Rollback(context.Background(), h.o, "") }},
}

func stateOf(res *Result, name string) string {
	for _, m := range res.Members {
		if m.Name == name {
			return m.State
		}
	}
	return ""
}

// An upgrade and a rollback are one loop (runMember): the same gates, the
// same lock care, the same states, journaled in the pass's own phase.
func TestMemberLoopServesUpgradeAndRollback(t *testing.T) {
	for _, c := range memberCases {
		t.Run(c.pass+"/stop gate refuses while another member is unhealthy", func(t *testing.T) {
			h, fc := c.prepare(t)
			stopsBefore := len(fc.stopped())
			// infra2 (the leader, last in both passes) turns unhealthy as
			// the pass reaches the member, after every earlier check.
			h.o.Sink = events.Multi(h.rec, sinkFunc(func(e events.Event) {
				if e.Kind == events.MemberStart && e.Member == c.member {
					fc.mu.Lock()
					fc.m("infra2").sick = true
					fc.mu.Unlock()
				}
			}))
			res, err := c.run(h)
			var g *GateError
			if !errors.As(err, &g) || g.Member != c.member || !strings.Contains(g.Observed, "infra2 unhealthy") {
				t.Fatalf("%v; want the stop gate to refuse %s naming infra2", err, c.member)
			}
			if got := stateOf(res, c.member); got != c.prefix+"refused at "+c.stop {
				t.Errorf("state %q, want %q", got, c.prefix+"refused at "+c.stop)
			}
			if len(fc.stopped()) != stopsBefore {
				t.Errorf("stopped %v after the gate refused", fc.stopped()[stopsBefore:])
			}
			var gate journal.Record
			for _, r := range journalKinds(t, h.o.StateDir) {
				if r.Action == "safety-gate" {
					gate = r
				}
			}
			if gate.Kind != journal.StepFailed || gate.Phase != c.phase || gate.Member != c.member {
				t.Errorf("gate refusal journaled as %+v, want a step-failed in phase %s on %s", gate, c.phase, c.member)
			}
		})
		t.Run(c.pass+"/post gate waits for the member to catch up", func(t *testing.T) {
			h, fc := c.prepare(t)
			fc.m(c.member).lagging = true
			res, err := c.run(h)
			var g *GateError
			if !errors.As(err, &g) || g.Member != c.member || !strings.Contains(g.Observed, "applied index 50") {
				t.Fatalf("%v; want the post gate to refuse %s, behind the leader", err, c.member)
			}
			if got := stateOf(res, c.member); got != c.prefix+"failed the post-member gate" {
				t.Errorf("state %q", got)
			}
			if res.Rollback == "" || !strings.Contains(res.Rollback, "--member "+c.member) {
				t.Errorf("rollback command %q, want it to name %s", res.Rollback, c.member)
			}
		})
		t.Run(c.pass+"/the lock leaves the member before it stops and comes back", func(t *testing.T) {
			h, fc := c.prepare(t)
			al := &avoidingLocker{fakeLocker: h.locker, fc: fc}
			h.o.Locker = al
			res, err := c.run(h)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{c.member + " running", "all"}
			if got := al.calls[:2]; !reflect.DeepEqual(got, want) {
				t.Errorf("Avoid calls %q, want %q first", al.calls, want)
			}
			done := map[string]string{"upgrade": "upgraded", "rollback": "rolled back"}[c.pass]
			if got := stateOf(res, c.member); got != done {
				t.Errorf("state %q, want %q", got, done)
			}
			st := journal.Reconcile(journalKinds(t, h.o.StateDir))
			if ms := st.Member(c.member); (c.pass == "upgrade") != ms.Done || (c.pass == "rollback") != ms.RolledBack {
				t.Errorf("journal: %+v", ms)
			}
		})
	}
}

// TestReadAheadBeforeTheStop: an action that reads ahead (steps.Prefetcher)
// reads while its member still runs, beside the stop gate, and its Run
// on the same member finds exactly that: nothing read for one member
// reaches another's pass. (That a second Run reads afresh is
// steps.TestSwapReadsAheadOfTheStop's.)
func TestReadAheadBeforeTheStop(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra1"
	h := newHarness(t, strings.Replace(fakePlaybook, `    - swap: {to: "3.5"}`, `    - ahead-swap: {to: "3.5"}`, 1), fc)
	if _, err := Apply(context.Background(), h.o); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := []string{
		"infra0 found read on infra0 while running=true (true)",
		"infra2 found read on infra2 while running=true (true)",
		"infra1 found read on infra1 while running=true (true)",
	}
	if !reflect.DeepEqual(fc.readAhead, want) {
		t.Errorf("the swaps found\n%s\nwant\n%s", strings.Join(fc.readAhead, "\n"), strings.Join(want, "\n"))
	}
	for n, v := range fc.versions() {
		if v != "3.5.1" {
			t.Errorf("%s on %s, want 3.5.1", n, v)
		}
	}
}
