package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/target/lock"
)

func journalKinds(t *testing.T, dir string) []journal.Record {
	t.Helper()
	recs, _, err := journal.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestUpgradeLeaderLast: the happy path. Followers go in inventory order,
// the leader last; every member ends on 3.5; the journal ends run-done;
// the report is written; the lock is released.
func TestUpgradeLeaderLast(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra1"
	h := newHarness(t, fakePlaybook, fc)
	res, err := Apply(context.Background(), h.o)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got, want := fc.stopped(), []string{"infra0", "infra2", "infra1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stop order %v, want %v (followers in inventory order, then the leader)", got, want)
	}
	for n, v := range fc.versions() {
		if v != "3.5.1" {
			t.Errorf("%s on %s, want 3.5.1", n, v)
		}
	}
	for _, m := range res.Members {
		if m.State != "upgraded" || m.Before != "3.4.23" || m.After != "3.5.1" {
			t.Errorf("member %+v, want upgraded 3.4.23 -> 3.5.1", m)
		}
	}
	recs := journalKinds(t, h.o.StateDir)
	if last := recs[len(recs)-1]; last.Kind != journal.RunDone {
		t.Errorf("journal ends with %s, want run-done", last.Kind)
	}
	if st := journal.Reconcile(recs); !st.Finished() || len(st.Members) != 3 {
		t.Errorf("journal state %+v", st)
	}
	for _, f := range []string{"report.md", "report.json", "run.json", "journal.jsonl"} {
		if _, err := os.Stat(filepath.Join(h.o.StateDir, f)); err != nil {
			t.Errorf("state folder: %v", err)
		}
	}
	if h.locker.acquired != 1 || h.locker.released != 1 {
		t.Errorf("lock acquired %d released %d, want 1 and 1", h.locker.acquired, h.locker.released)
	}
	// the guard "member.isLeader" is evaluated at the step with fresh facts:
	// after its own restart no member leads any more in the fake (the leader
	// moved away), so every member skips it, journaled as a skipped step-done.
	if got := h.messages(events.StepSkipped); len(got) != 3 || !strings.Contains(got[0], "guard false: member.isLeader (member.isLeader=false)") {
		t.Errorf("skipped steps %q", got)
	}
	md, _ := os.ReadFile(filepath.Join(h.o.StateDir, "report.md"))
	if !bytes.Contains(md, []byte("infra1")) || !bytes.Contains(md, []byte("upgraded")) {
		t.Errorf("report.md:\n%s", md)
	}
}

// TestOrderFollowsLeadershipMoves: the order is re-decided at every member
// boundary. Leadership moves to infra2 after infra1's restart; leader-last
// then takes infra0 next and infra2 last, so no stop hits the leader.
func TestOrderFollowsLeadershipMoves(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra0"
	fc.afterStart = func(f *fakeCluster, name string) {
		if name == "infra1" {
			f.leader = "infra2"
		}
	}
	h := newHarness(t, fakePlaybook, fc)
	if _, err := Apply(context.Background(), h.o); err != nil {
		t.Fatal(err)
	}
	if got, want := fc.stopped(), []string{"infra1", "infra0", "infra2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stop order %v, want %v", got, want)
	}
}

// Invariant 1 (docs/safety.md): no member is stopped unless every other member is healthy.
// infra2 turns unhealthy while infra0 restarts; the runner refuses to stop
// infra1 (the leader goes last, so infra1 was next) and stops there.
func TestRefusesToStopWhenAnotherMemberIsUnhealthy(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	fc.afterStart = func(f *fakeCluster, name string) {
		if name == "infra0" {
			f.m("infra2").sick = true
		}
	}
	h := newHarness(t, fakePlaybook, fc)
	h.o.GateTimeout = time.Second
	res, err := Apply(context.Background(), h.o)
	if code := exit.Code(err); code != exit.StepFailed {
		t.Fatalf("exit %d (%v), want %d", code, err, exit.StepFailed)
	}
	var g *GateError
	if !errors.As(err, &g) || g.Member != "infra1" || !strings.Contains(g.Observed, "infra2 unhealthy") ||
		!strings.Contains(g.Expected, "every other voter healthy") {
		t.Fatalf("error %v, want a gate refusing to stop infra1 naming infra2", err)
	}
	if got := fc.stopped(); !reflect.DeepEqual(got, []string{"infra0"}) {
		t.Errorf("stopped %v, want only infra0", got)
	}
	if res.Members[1].State != "refused at step 2 (stop)" {
		t.Errorf("infra1 state %q", res.Members[1].State)
	}
}

// Invariant 2 (docs/safety.md): the next member is not touched until the previous one is
// healthy, caught up and on the expected version. infra0 restarts but its
// applied index stays behind the leader's commit index.
func TestNextMemberWaitsUntilPreviousCaughtUp(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	fc.m("infra0").lagging = true
	h := newHarness(t, fakePlaybook, fc)
	res, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.StepFailed {
		t.Fatalf("exit %d (%v), want 6", exit.Code(err), err)
	}
	for _, want := range []string{"member infra0", "applied index 50 (leader committed 100)", "applied index >= 100", "server on 3.5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if got := fc.stopped(); !reflect.DeepEqual(got, []string{"infra0"}) {
		t.Errorf("stopped %v: the next member was touched", got)
	}
	if res.Members[0].State != "failed the post-member gate" || res.Members[1].State != "untouched" {
		t.Errorf("states %+v", res.Members)
	}
}

// Invariant 2 (docs/safety.md), version half: a member that comes back on the old version
// (the swap did nothing) fails the gate.
func TestPostGateWantsTheTargetVersion(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	pb := strings.Replace(fakePlaybook, `    - swap: {to: "3.5"}`+"\n", "", 1)
	h := newHarness(t, pb, fc)
	_, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.StepFailed || !strings.Contains(err.Error(), "observed server 3.4.23, healthy") {
		t.Fatalf("got %v", err)
	}
}

// Every member must be on `from` or already on `to`: a 3.3 member is a
// preflight refusal (exit 5) and nothing is stopped.
func TestPreflightRefusesUnexpectedVersion(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.m("infra1").version = "3.3.27"
	h := newHarness(t, fakePlaybook, fc)
	res, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Refused {
		t.Fatalf("exit %d (%v), want 5", exit.Code(err), err)
	}
	if !strings.Contains(err.Error(), "infra1 runs 3.3.27") || !strings.Contains(err.Error(), "on 3.4 (the playbook's from) or already on 3.5") {
		t.Errorf("message %q", err)
	}
	if len(fc.stopped()) != 0 || res.Outcome != OutcomeRefused || res.Resume != "" {
		t.Errorf("stopped %v, outcome %s, resume %q", fc.stopped(), res.Outcome, res.Resume)
	}
}

// A preflight gate also wants every member healthy at the start.
func TestPreflightRefusesUnhealthyMember(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.m("infra2").sick = true
	h := newHarness(t, fakePlaybook, fc)
	_, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), "infra2 unhealthy") {
		t.Fatalf("got %v", err)
	}
}

// A failing preflight step is a refusal too: nothing has changed.
func TestPreflightStepFailureIsRefusal(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	pb := strings.Replace(fakePlaybook, "preflight:\n  - noop: {}", "preflight:\n  - fail: {msg: \"observed auth enabled; expected auth off\"}", 1)
	h := newHarness(t, pb, fc)
	_, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), "preflight, preflight step 1/2 fail: observed auth enabled; expected auth off") {
		t.Fatalf("got %v", err)
	}
	if len(fc.stopped()) != 0 {
		t.Errorf("stopped %v", fc.stopped())
	}
}

// A member already on `to` is skipped as done, never stopped.
func TestMemberAlreadyOnTargetIsSkipped(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	fc.m("infra1").version, fc.m("infra1").binary = "3.5.35", "3.5.35"
	h := newHarness(t, fakePlaybook, fc)
	res, err := Apply(context.Background(), h.o)
	if err != nil {
		t.Fatal(err)
	}
	if got := fc.stopped(); !reflect.DeepEqual(got, []string{"infra0", "infra2"}) {
		t.Errorf("stopped %v", got)
	}
	if res.Members[1].State != "already on 3.5.35" {
		t.Errorf("infra1: %q", res.Members[1].State)
	}
}

// Re-running a finished upgrade is a no-op: nothing stopped, preflight
// skipped (it asserts the old version), finish checks run, exit 0.
func TestRerunOfFinishedUpgradeIsNoop(t *testing.T) {
	fc := newFakeCluster("3.5.1", "infra0", "infra1", "infra2")
	pb := strings.Replace(fakePlaybook, "preflight:\n  - noop: {}", "preflight:\n  - fail: {msg: would fail on 3.5}", 1)
	h := newHarness(t, pb, fc)
	res, err := Apply(context.Background(), h.o)
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.stopped()) != 0 {
		t.Errorf("stopped %v", fc.stopped())
	}
	for _, m := range res.Members {
		if m.State != "already on 3.5.1" {
			t.Errorf("%s: %q", m.Name, m.State)
		}
	}
	if got := h.messages(events.StepDone); len(got) != 1 { // finish's noop
		t.Errorf("steps done %q, want finish's only", got)
	}
}

// A step failure stops the rollout where it is: the error names member,
// step and what was observed and expected; the summary lists every member;
// the exact resume and rollback commands are given; exit 6.
func TestStepFailureStopsWithSummaryAndCommands(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra0"
	pb := strings.Replace(fakePlaybook, "    - start: {}\n", "    - start: {}\n    - when: 'member.name == \"infra2\"'\n      fail: {msg: \"observed 3.4.23; expected 3.5.*\"}\n", 1)
	h := newHarness(t, pb, fc)
	h.o.StateRoot = "/tmp/state dir"
	res, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.StepFailed {
		t.Fatalf("exit %d (%v)", exit.Code(err), err)
	}
	if want := `member infra2, members step 5/6 fail: observed 3.4.23; expected 3.5.*`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q\nwant %q", err, want)
	}
	states := map[string]string{}
	for _, m := range res.Members {
		states[m.Name] = m.State
	}
	want := map[string]string{"infra1": "upgraded", "infra2": "failed at step 5 (fail)", "infra0": "untouched"}
	if !reflect.DeepEqual(states, want) {
		t.Errorf("states %v, want %v", states, want)
	}
	if res.Resume != `etcdplay resume -i inv.yaml --state-dir '/tmp/state dir'` ||
		res.Rollback != `etcdplay rollback -i inv.yaml --state-dir '/tmp/state dir' --member infra2` {
		t.Errorf("commands %q / %q", res.Resume, res.Rollback)
	}
	if !strings.Contains(exit.Hint(err), res.Rollback) {
		t.Errorf("hint %q", exit.Hint(err))
	}
	var b bytes.Buffer
	WriteSummary(&b, res)
	for _, s := range []string{"infra2  failed at step 5 (fail)", "infra0  untouched", "infra1  upgraded", "to continue: etcdplay resume", "to roll back: etcdplay rollback"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, b.String())
		}
	}
	recs := journalKinds(t, h.o.StateDir)
	st := journal.Reconcile(recs)
	if st.Member("infra2").Failed == nil || st.Ended != journal.RunFailed {
		t.Errorf("journal: %+v", st)
	}
	if h.locker.released != 1 {
		t.Error("lock not released after a failure")
	}
}

// A lock held by another run is exit 7 naming the holder; nothing runs.
func TestLockHeldNamesHolder(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	h.locker.held = &lock.Holder{User: "alice", Host: "ops1", RunID: "20261121T050000Z-abcdef", PID: 4242,
		Started: time.Date(2026, 11, 21, 5, 0, 0, 0, time.UTC)}
	res, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Locked {
		t.Fatalf("exit %d (%v), want 7", exit.Code(err), err)
	}
	if !strings.Contains(err.Error(), "locked by alice@ops1 (run 20261121T050000Z-abcdef") {
		t.Errorf("message %q", err)
	}
	if res.Outcome != OutcomeLocked || len(fc.stopped()) != 0 {
		t.Errorf("outcome %s, stopped %v", res.Outcome, fc.stopped())
	}
	if _, err := os.Stat(filepath.Join(h.o.StateDir, journal.FileName)); err == nil {
		t.Error("a refused run wrote a journal")
	}
}

// --break-lock asks first: no breaks nothing (exit 7), yes breaks and runs.
func TestBreakLockAsksFirst(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	h.locker.held = &lock.Holder{User: "bob", Host: "ops2", RunID: "r1"}
	h.o.BreakLock = true
	var asked string
	h.o.Confirm = func(ctx context.Context, msg string) (bool, error) { asked = msg; return false, nil }
	if _, err := Apply(context.Background(), h.o); exit.Code(err) != exit.Locked || h.locker.broken != 0 {
		t.Fatalf("declined: exit %d, broken %d", exit.Code(err), h.locker.broken)
	}
	if !strings.Contains(asked, "bob@ops2") {
		t.Errorf("question %q does not name the holder", asked)
	}
	h.o.Confirm = func(ctx context.Context, msg string) (bool, error) { return true, nil }
	if _, err := Apply(context.Background(), h.o); err != nil {
		t.Fatalf("confirmed: %v", err)
	}
	if h.locker.broken != 1 || len(fc.stopped()) != 3 {
		t.Errorf("broken %d, stopped %v", h.locker.broken, fc.stopped())
	}
}

// Ctrl-C during a critical step: the step finishes (it runs under the hard
// context), is journaled done, then the run journals interrupted and
// stops with exit 130 before the next step.
func TestInterruptLetsCriticalStepFinish(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	fc.block, fc.blocked = make(chan struct{}), make(chan struct{}, 1)
	pb := strings.Replace(fakePlaybook, "    - stop: {}\n", "    - stop: {}\n    - block: {}\n", 1)
	h := newHarness(t, pb, fc)
	soft, cancel := context.WithCancel(context.Background())
	h.o.Hard = context.Background()
	go func() {
		<-fc.blocked
		cancel() // the first Ctrl-C
		time.Sleep(20 * time.Millisecond)
		close(fc.block) // the critical part ends on its own
	}()
	res, err := Apply(soft, h.o)
	if exit.Code(err) != exit.Interrupted {
		t.Fatalf("exit %d (%v), want 130", exit.Code(err), err)
	}
	recs := journalKinds(t, h.o.StateDir)
	var tail []string
	for _, r := range recs[len(recs)-3:] {
		tail = append(tail, string(r.Kind)+":"+r.Action)
	}
	if want := []string{"step-start:block", "step-done:block", "interrupted:"}; !reflect.DeepEqual(tail, want) {
		t.Errorf("journal tail %v, want %v", tail, want)
	}
	if fc.versions()["infra0"] != "stopped" || len(fc.starts) != 0 {
		t.Errorf("versions %v starts %v: the run went on after the critical step", fc.versions(), fc.starts)
	}
	if res.Members[0].State != "interrupted after step 3 (block)" || res.Resume == "" {
		t.Errorf("result %+v", res)
	}

	// resume finishes the run; its report covers the part before the
	// interruption too (events.jsonl keeps every event of the run).
	fc.blocked = make(chan struct{}, 8)
	if _, err := Resume(context.Background(), h.o); err != nil {
		t.Fatalf("resume: %v", err)
	}
	var rep struct {
		RunID   string `json:"run_id"`
		Result  string
		Members []struct {
			Name     string
			Timeline []struct{ Action, Outcome string }
		}
	}
	b, _ := os.ReadFile(filepath.Join(h.o.StateDir, "report.json"))
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	var infra0 []string
	for _, m := range rep.Members {
		if m.Name == "infra0" {
			for _, e := range m.Timeline {
				infra0 = append(infra0, e.Action+":"+e.Outcome)
			}
		}
	}
	if rep.RunID != res.RunID || rep.Result != "succeeded" || len(infra0) < 9 || infra0[2] != "block:done" {
		t.Errorf("report of the resumed run: %s %s, infra0 timeline %v", rep.RunID, rep.Result, infra0)
	}
}

// A non-critical step is cancelled at once by Ctrl-C.
func TestInterruptCancelsNonCriticalAtOnce(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Apply(ctx, h.o)
	if exit.Code(err) != exit.Interrupted || len(fc.stopped()) != 0 {
		t.Fatalf("exit %d (%v), stopped %v", exit.Code(err), err, fc.stopped())
	}
}

// A cluster member the inventory does not list would be neither upgraded
// nor counted for quorum: preflight refuses.
func TestPreflightRefusesMemberMissingFromInventory(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2", "infra3")
	h := newHarness(t, fakePlaybook, fc)
	wrapped := &unlistedCluster{fakeCluster: fc, unlisted: "infra3"}
	h.o.Cluster = wrapped
	_, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), "members the inventory does not list: infra3") {
		t.Fatalf("got %v", err)
	}
}

// unlistedCluster reports one member as etcdprobe does for a member the
// inventory does not name: no Endpoint.
type unlistedCluster struct {
	*fakeCluster
	unlisted string
}

func (u *unlistedCluster) Cluster(ctx context.Context) (*etcdprobe.Cluster, error) {
	c, err := u.fakeCluster.Cluster(ctx)
	if err == nil {
		for i := range c.Members {
			if c.Members[i].Name == u.unlisted {
				c.Members[i].Endpoint = ""
			}
		}
	}
	return c, err
}

// A lock lost mid-run (broken by another operator, lease expired) stops
// the run before the next critical step.
func TestLostLockStopsBeforeCriticalStep(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	h := newHarness(t, fakePlaybook, fc)
	lost := &lossyLocker{fakeLocker: h.locker}
	h.o.Locker = lost
	fc.afterStart = func(f *fakeCluster, name string) { lost.lost = true }
	_, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.StepFailed || !strings.Contains(err.Error(), "refusing a critical step without the lock") {
		t.Fatalf("got %v", err)
	}
	if got := fc.stopped(); !reflect.DeepEqual(got, []string{"infra0"}) {
		t.Errorf("stopped %v", got)
	}
}

type lossyLocker struct {
	*fakeLocker
	lost bool
}

func (l *lossyLocker) Check(ctx context.Context) error {
	if l.lost {
		return errors.New("lock fake: lock lost: its key is gone")
	}
	return l.fakeLocker.Check(ctx)
}

// Ctrl-C during a non-critical step cancels it at once; however its error
// is worded, the run is interrupted (130), not failed.
func TestInterruptDuringNonCriticalStep(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	fc.blocked = make(chan struct{}, 1)
	pb := strings.Replace(fakePlaybook, "    - move-leader: {}\n", "    - slow: {}\n    - move-leader: {}\n", 1)
	h := newHarness(t, pb, fc)
	soft, cancel := context.WithCancel(context.Background())
	go func() { <-fc.blocked; cancel() }()
	res, err := Apply(soft, h.o)
	if exit.Code(err) != exit.Interrupted {
		t.Fatalf("exit %d (%v), want 130", exit.Code(err), err)
	}
	if len(fc.stopped()) != 0 || res.Members[0].State != "interrupted at step 1 (slow)" {
		t.Errorf("stopped %v, state %q", fc.stopped(), res.Members[0].State)
	}
	if res.Rollback != "" {
		t.Errorf("rollback %q offered for a member that was never stopped", res.Rollback)
	}
}

// No member answering is exit 4, with nothing changed.
func TestUnreachableClusterIsExit4(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	for _, m := range fc.members {
		m.running = false
	}
	h := newHarness(t, fakePlaybook, fc)
	_, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.Unreachable || !strings.Contains(err.Error(), "no member answered") {
		t.Fatalf("got %v", err)
	}
}

// sinkFunc lets a test act on an event as the runner emits it.
type sinkFunc func(events.Event)

func (f sinkFunc) Emit(e events.Event) { f(e) }

// Ctrl-C between members: the first member is upgraded, the next one is
// never touched, and the summary offers resume but no rollback of a member
// that was not changed.
func TestInterruptBetweenMembersOffersNoRollback(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	h := newHarness(t, fakePlaybook, fc)
	soft, cancel := context.WithCancel(context.Background())
	h.o.Hard = context.Background()
	h.o.Sink = events.Multi(h.rec, sinkFunc(func(e events.Event) {
		if e.Kind == events.MemberStart && e.Member == "infra1" {
			cancel() // Ctrl-C as the second member is about to start
		}
	}))
	res, err := Apply(soft, h.o)
	if exit.Code(err) != exit.Interrupted {
		t.Fatalf("exit %d (%v), want 130", exit.Code(err), err)
	}
	if got := fc.stopped(); !reflect.DeepEqual(got, []string{"infra0"}) {
		t.Errorf("stopped %v, want only infra0", got)
	}
	states := map[string]string{}
	for _, m := range res.Members {
		states[m.Name] = m.State
	}
	if states["infra0"] != "upgraded" || states["infra1"] != "untouched" {
		t.Errorf("member states %v, want infra0 upgraded and infra1 untouched", states)
	}
	if res.Resume == "" || res.Rollback != "" {
		t.Errorf("resume %q, rollback %q: want a resume command and no rollback of an untouched member", res.Resume, res.Rollback)
	}
}
