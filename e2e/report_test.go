//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
)

// TestReport_CtrlCThenResume_3_5_to_3_6: the operator presses Ctrl-C while
// the second member is stopped, looks around for a while, and resumes.
// There is one report for the run id, rewritten by the resume: every
// member's "before" is the version the run first found (not what the
// resume saw half-way), its "after" the target, its state how it ended
// (not "interrupted"), and the time the run stood still counts as the
// operator's, not the runner's overhead.
func TestReport_CtrlCThenResume_3_5_to_3_6(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "3.5", fleetKeys)
	o := newOperator(t, c)
	from, to := release(t, "3.5"), release(t, "3.6")

	var order []string
	sent := false
	res := o.watch(ctx, func(e events.Event, p *os.Process) {
		if sent || e.Phase != schema.PhaseMembers {
			return
		}
		if e.Kind == events.MemberStart {
			order = append(order, e.Member)
		}
		if len(order) == 2 && e.Kind == events.StepDone && e.Action == "ssh-stop" {
			t.Logf("%s is stopped: Ctrl-C (SIGINT to pid %d)", e.Member, p.Pid)
			sent = true
			if err := p.Signal(syscall.SIGINT); err != nil {
				t.Errorf("interrupt: %v", err)
			}
		}
	}, "run", "3.5-to-3.6")
	if !sent {
		t.Fatalf("the run ended (exit %d) before the second member's stop", res.code)
	}
	res.want(t, 130)
	first := o.report()
	if first.Result != "interrupted" {
		t.Errorf("report after Ctrl-C: result %q; want interrupted", first.Result)
	}
	for _, m := range first.Members {
		if m.Name == order[1] && !strings.HasPrefix(m.State, "interrupted") {
			t.Errorf("report after Ctrl-C: %s is %q; want interrupted at its step", m.Name, m.State)
		}
	}

	const pause = 3 * time.Second
	t.Logf("the operator looks at the cluster for %v before resuming", pause)
	time.Sleep(pause)
	rs := o.etcdplay(ctx, "resume")
	rs.want(t, exitOK)

	rep := o.report()
	if rep.RunID != first.RunID {
		t.Errorf("report after resume is run %s; want the same run %s, updated in place", rep.RunID, first.RunID)
	}
	if rep.Result != "succeeded" {
		t.Errorf("report after resume: result %q; want succeeded", rep.Result)
	}
	for _, m := range rep.Members {
		t.Logf("report: %s %s -> %s: %s (%d timeline entries)", m.Name, m.VersionBefore, m.VersionAfter, m.State, len(m.Timeline))
		if m.VersionBefore != from || m.VersionAfter != to {
			t.Errorf("report: %s %s -> %s; want %s -> %s (before as the run first found it)", m.Name, m.VersionBefore, m.VersionAfter, from, to)
		}
		if !strings.HasPrefix(m.State, "upgraded") {
			t.Errorf("report: %s is %q; want upgraded, how it ended", m.Name, m.State)
		}
	}
	if rep.Totals.OperatorMS < pause.Milliseconds() {
		t.Errorf("report: operator time %d ms; want at least the %v the run stood still between Ctrl-C and resume", rep.Totals.OperatorMS, pause)
	}
	if rep.Totals.OverheadMS+rep.Totals.OperatorMS > rep.Totals.TotalMS {
		t.Errorf("report: overhead %d ms + operator %d ms exceed the total %d ms: the pause is counted twice", rep.Totals.OverheadMS, rep.Totals.OperatorMS, rep.Totals.TotalMS)
	}
	t.Logf("report: total %d ms, operator (the pause) %d ms, runner overhead %d ms", rep.Totals.TotalMS, rep.Totals.OperatorMS, rep.Totals.OverheadMS)
	md, err := os.ReadFile(filepath.Join(o.clusterState(), "report.md"))
	if err != nil || !strings.Contains(string(md), first.RunID) {
		t.Errorf("report.md does not name run %s (%v)", first.RunID, err)
	}
	others, _ := filepath.Glob(filepath.Join(o.clusterState(), "report*"))
	if len(others) != 2 {
		t.Errorf("state folder holds %v; want one report.md and one report.json for the run", others)
	}
	requireVersions(ctx, t, c, to, "3.6.0")
	requireKeys(ctx, t, c)
}
