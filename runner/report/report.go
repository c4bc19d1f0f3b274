package report

import (
	"cmp"
	"fmt"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// Results of a run.
const (
	Succeeded   = "succeeded"
	Failed      = "failed"
	Interrupted = "interrupted"
	Incomplete  = "incomplete" // no run-done/run-failed/interrupted event: a crash
)

// Outcomes of a step.
const (
	OutcomeDone    = "done"
	OutcomeSkipped = "skipped"
	OutcomeFailed  = "failed"
	OutcomeRunning = "running" // started, never finished (interrupted or crashed)
	// OutcomeInterrupted: the operator's Ctrl-C stopped it (step-interrupted).
	OutcomeInterrupted = "interrupted"
)

// Report is one run, ready to render.
type Report struct {
	RunID    string
	Cluster  string
	Playbook string
	Started  time.Time
	Finished time.Time
	Result   string
	Message  string // the run-failed or interrupted message
	// Steps are the cluster-wide steps: preflight and finish.
	Steps   []Entry
	Members []Member
	Backups []steps.BackupManifest // the run's verified backups, in the order taken
	Journal string                 // path of the run's journal
	Totals  Totals
	// Restore is set on a restore's report.
	Restore *Restore
}

// Member is what happened to one member.
type Member struct {
	Name          string
	VersionBefore string
	VersionAfter  string
	// State is upgraded, skipped (every step skipped: already on the
	// target), untouched, "failed at step N (action)", "interrupted at step
	// N (action)" or "rolled back".
	State    string
	Timeline []Entry
	// Downtime is from the start of the member's stop to the moment it was
	// seen healthy again (the first catch-up wait or gate after its start);
	// 0 when it was not stopped, or not seen healthy again.
	Downtime time.Duration
}

// Entry is one step in a timeline.
type Entry struct {
	// Hop is the step's playbook in an upgrade route (1-based); 0 for a
	// run of one playbook.
	Hop      int
	Phase    schema.Phase
	Index    int
	Steps    int
	Name     string
	Action   string
	Start    time.Time
	Duration time.Duration // for a step still running: at least this long
	Outcome  string
	Message  string // skip reason, failure, or what the step observed
	Spent    events.Spent
}

// Totals say where the run's time went. By holds the time of every step
// and gate by what it counts as (events.Spent); Overhead is what is left:
// the runner's own time (SSH logins, the lock, probes between steps, the
// journal), the figure docs/performance.md aims to keep under 5 %.
type Totals struct {
	Total    time.Duration
	By       map[events.Spent]time.Duration
	Overhead time.Duration
}

// Of is the time spent on s.
func (t Totals) Of(s events.Spent) time.Duration { return t.By[s] }

// Downtime is how long members were down in total.
func (r *Report) Downtime() time.Duration {
	var d time.Duration
	for _, m := range r.Members {
		d += m.Downtime
	}
	return d
}

// Extra is what the events do not carry. Every field is optional.
type Extra struct {
	Cluster  string
	Playbook string
	// Members lists the inventory's members in order, so untouched members
	// appear too; members seen only in events follow, in order of first
	// appearance.
	Members        []string
	VersionsBefore map[string]string
	VersionsAfter  map[string]string
	Backups        []steps.BackupManifest
	JournalPath    string
	// BeforeIsExact keeps VersionsBefore as given (a rollback starts from
	// the version it found); otherwise a member's version when the run
	// first started on it (its member-start event) wins.
	BeforeIsExact bool
	// Done is the state of a member the members phase finished:
	// "upgraded" (the default) or, for a downgrade playbook, "downgraded".
	Done string
	// Restore is the restore a restore run performed.
	Restore *Restore
}

// Build folds evs (in the order emitted) into a Report. The cluster and
// playbook names come from x, or else from the run-start event's
// "cluster" and "playbook" fields.
func Build(evs []events.Event, x Extra) *Report {
	r := &Report{Cluster: x.Cluster, Playbook: x.Playbook, Result: Incomplete,
		Backups: x.Backups, Journal: x.JournalPath, Restore: x.Restore}
	members := map[string]*Member{}
	var order []string
	member := func(name string) *Member {
		m, ok := members[name]
		if !ok {
			m = &Member{Name: name}
			members[name] = m
			order = append(order, name)
		}
		return m
	}
	for _, name := range x.Members {
		member(name)
	}
	open := map[string]int{}                  // member+phase+index -> position in its timeline
	aside := map[events.Spent]time.Duration{} // gates and preflight checks: time outside any step
	down := map[string]*events.Downtime{}
	// firstSeen is each member's server version when the run first started
	// on it (member-start), before any resume probed it half-upgraded.
	firstSeen := map[string]string{}
	// stoppedAt is when the run last stopped (interrupted, failed) or
	// paused to ask; the wait until it goes on is the operator's time,
	// not the runner's.
	var stoppedAt time.Time

	for _, e := range evs {
		e = events.Redact(e)
		if r.RunID == "" {
			r.RunID = e.RunID
		}
		if !e.Time.IsZero() {
			if r.Started.IsZero() || e.Time.Before(r.Started) {
				r.Started = e.Time
			}
			if e.Time.After(r.Finished) {
				r.Finished = e.Time
			}
		}
		if e.Kind == events.RunStart {
			if pb, ok := e.Fields["playbook"].(string); ok && r.Playbook == "" {
				r.Playbook = pb
			}
			if c, ok := e.Fields["cluster"].(string); ok && r.Cluster == "" {
				r.Cluster = c
			}
		}
		if e.Member != "" {
			if down[e.Member] == nil {
				down[e.Member] = &events.Downtime{}
			}
			down[e.Member].See(e)
		}
		if e.Kind == events.MemberStart {
			if v, ok := e.Fields["server"].(string); ok && v != "" && firstSeen[e.Member] == "" {
				firstSeen[e.Member] = v
			}
		}
		switch {
		case e.Kind == events.Interrupted || e.Kind == events.RunFailed || (e.Kind == events.Pause && e.Fields["answer"] == nil):
			stoppedAt = e.Time
		case (e.Kind == events.RunStart || e.Kind == events.Pause) && !stoppedAt.IsZero() && e.Time.After(stoppedAt):
			aside[events.SpentHuman] += e.Time.Sub(stoppedAt)
			stoppedAt = time.Time{}
		}
		switch e.Kind {
		case events.Gate, events.Info:
			if sp := events.SpentOf(e); sp != "" {
				aside[sp] += e.Duration
			}
		case events.RunDone:
			r.Result, r.Message = Succeeded, e.Message
		case events.RunFailed:
			r.Result, r.Message = Failed, e.Message
		case events.Interrupted:
			r.Result, r.Message = Interrupted, e.Message
		case events.MemberStart:
			member(e.Member)
		case events.StepStart, events.StepDone, events.StepSkipped, events.StepFailed, events.StepInterrupted:
			timeline := &r.Steps
			if e.Member != "" {
				timeline = &member(e.Member).Timeline
			}
			key := fmt.Sprintf("%d\x00%s\x00%s\x00%d", e.Hop, e.Member, e.Phase, e.StepIndex)
			i, started := open[key]
			if !started {
				*timeline = append(*timeline, Entry{Hop: e.Hop, Phase: e.Phase, Index: e.StepIndex, Steps: e.Steps,
					Name: e.StepName, Action: e.Action, Start: e.Time, Outcome: OutcomeRunning, Spent: events.SpentOf(e)})
				i = len(*timeline) - 1
			}
			entry := &(*timeline)[i]
			if e.Kind == events.StepStart {
				open[key] = i
				break
			}
			delete(open, key)
			entry.Outcome = map[events.Kind]string{events.StepDone: OutcomeDone,
				events.StepSkipped: OutcomeSkipped, events.StepFailed: OutcomeFailed,
				events.StepInterrupted: OutcomeInterrupted}[e.Kind]
			entry.Message = e.Message
			entry.Duration = e.Duration
			if entry.Duration == 0 && started && !e.Time.IsZero() {
				entry.Duration = e.Time.Sub(entry.Start)
			}
		}
	}

	if !r.Started.IsZero() {
		r.Totals.Total = r.Finished.Sub(r.Started)
	}
	runningUntil(r.Steps, r.Finished)
	for _, name := range order {
		m := members[name]
		runningUntil(m.Timeline, r.Finished)
		m.VersionBefore, m.VersionAfter = x.VersionsBefore[name], x.VersionsAfter[name]
		if v := firstSeen[name]; v != "" && !x.BeforeIsExact {
			m.VersionBefore = v
		}
		m.State = memberState(m.Timeline, evs, name, cmp.Or(x.Done, "upgraded"), r.Result == Interrupted)
		if d := down[name]; d != nil {
			m.Downtime = d.Took()
		}
		r.Members = append(r.Members, *m)
	}
	r.Totals = totals(r, aside)
	return r
}

// memberState reads a member's state from its timeline and whether
// member-done was emitted for it. interrupted says the run ended by the
// operator's Ctrl-C: a member whose last step finished (a critical step
// runs to its end after Ctrl-C) was interrupted after it, as the runner
// itself words it.
func memberState(tl []Entry, evs []events.Event, name, doneWord string, interrupted bool) string {
	// done: member-done came after the member's last step, so a resume
	// that verified a member the run had left interrupted or failed says
	// how it ended, not how the first attempt did.
	done, lastDone, lastStep := false, -1, -1
	for i, e := range evs {
		switch {
		case e.Member != name:
		case e.Kind == events.MemberDone:
			done, lastDone = true, i
		case e.Kind == events.StepStart || e.Kind == events.StepDone || e.Kind == events.StepFailed || e.Kind == events.StepInterrupted:
			lastStep = i
		}
	}
	doneLast := done && lastDone > lastStep
	if len(tl) == 0 && !done {
		return "untouched"
	}
	last := Entry{}
	if len(tl) > 0 {
		last = tl[len(tl)-1]
	}
	switch {
	case doneLast && last.Outcome != OutcomeDone && last.Outcome != OutcomeSkipped && last.Phase != schema.PhaseRollback:
		return doneWord + " (verified after resume)"
	case last.Outcome == OutcomeFailed:
		return fmt.Sprintf("failed at step %d (%s)", last.Index, last.Action)
	case last.Outcome == OutcomeRunning || last.Outcome == OutcomeInterrupted:
		return fmt.Sprintf("interrupted at step %d (%s)", last.Index, last.Action)
	case last.Phase == schema.PhaseRollback:
		return "rolled back"
	case done && allSkipped(tl):
		return "skipped"
	case done:
		return doneWord
	}
	if interrupted {
		return fmt.Sprintf("interrupted after step %d (%s)", last.Index, last.Action)
	}
	return fmt.Sprintf("stopped after step %d (%s)", last.Index, last.Action)
}

// runningUntil gives steps that never finished the time from their start
// to the last event: they ran at least that long, and an interrupted stop
// is still time spent stopping etcd.
func runningUntil(tl []Entry, end time.Time) {
	for i := range tl {
		if e := &tl[i]; e.Outcome == OutcomeRunning && !e.Start.IsZero() && end.After(e.Start) {
			e.Duration = end.Sub(e.Start)
		}
	}
}

func allSkipped(tl []Entry) bool {
	for _, e := range tl {
		if e.Outcome != OutcomeSkipped {
			return false
		}
	}
	return true
}

// totals adds step time by what it counts as, and the time spent outside
// steps (gates, preflight checks); everything else is overhead.
func totals(r *Report, aside map[events.Spent]time.Duration) Totals {
	t := Totals{Total: r.Totals.Total, By: map[events.Spent]time.Duration{}}
	for sp, d := range aside {
		t.By[sp] += d
	}
	add := func(es []Entry) {
		for _, e := range es {
			if e.Spent != "" {
				t.By[e.Spent] += e.Duration
			}
		}
	}
	add(r.Steps)
	for _, m := range r.Members {
		add(m.Timeline)
	}
	t.Overhead = t.Total
	for _, d := range t.By {
		t.Overhead -= d
	}
	t.Overhead = max(t.Overhead, 0)
	return t
}
