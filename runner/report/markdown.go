package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
)

// Markdown renders r for people: a summary, where the time went, a table
// of members, the cluster-wide steps, one timeline per member, and the
// backup manifest.
func (r *Report) Markdown() []byte {
	var b strings.Builder
	title := "etcdplay run"
	if r.RunID != "" {
		title += " " + r.RunID
	}
	fmt.Fprintf(&b, "# %s\n\n", title)

	b.WriteString("| | |\n|---|---|\n")
	row(&b, "cluster", cmp.Or(r.Cluster, "-"))
	row(&b, "playbook", cmp.Or(r.Playbook, "-"))
	row(&b, "result", r.Result)
	if r.Message != "" {
		row(&b, "message", r.Message)
	}
	row(&b, "started", clock(r.Started, true))
	row(&b, "finished", clock(r.Finished, true))
	row(&b, "total", duration(r.Totals.Total))
	if r.Journal != "" {
		row(&b, "journal", "`"+r.Journal+"`")
	}

	b.WriteString("\n## Time\n\n| spent in | time | share |\n|---|--:|--:|\n")
	for _, l := range timeLines {
		d := r.Totals.Of(l.spent)
		if d == 0 && l.optional {
			continue
		}
		row(&b, l.label, duration(d), share(d, r.Totals.Total))
	}
	row(&b, "runner overhead (SSH logins, lock, probes between steps, journal)", duration(r.Totals.Overhead), share(r.Totals.Overhead, r.Totals.Total))
	row(&b, "**total**", duration(r.Totals.Total), share(r.Totals.Total, r.Totals.Total))
	if d := r.Downtime(); d > 0 {
		fmt.Fprintf(&b, "\nMembers were down %s in all (from the start of each stop until the member was healthy again).\n", duration(d))
	}

	b.WriteString("\n## Members\n\n")
	if len(r.Members) == 0 {
		b.WriteString("No member was reached.\n")
	} else {
		b.WriteString("| member | before | after | state | down |\n|---|---|---|---|--:|\n")
		for _, m := range r.Members {
			down := "-"
			if m.Downtime > 0 {
				down = duration(m.Downtime)
			}
			row(&b, m.Name, cmp.Or(m.VersionBefore, "-"), cmp.Or(m.VersionAfter, "-"), m.State, down)
		}
	}

	if len(r.Steps) > 0 {
		b.WriteString("\n## Cluster steps\n\n")
		timeline(&b, r.Steps, true)
	}
	for _, m := range r.Members {
		fmt.Fprintf(&b, "\n## %s\n\n", cell(m.Name))
		fmt.Fprintf(&b, "%s → %s: %s\n\n", cmp.Or(m.VersionBefore, "-"), cmp.Or(m.VersionAfter, "-"), cell(m.State))
		if len(m.Timeline) == 0 {
			b.WriteString("No step ran.\n")
			continue
		}
		timeline(&b, m.Timeline, hasRollback(m.Timeline))
	}

	if r.Restore != nil {
		var names []string
		for _, m := range r.Members {
			names = append(names, m.Name)
		}
		r.Restore.markdown(&b, names)
	}
	for _, m := range r.Backups {
		title := "Backup"
		if len(r.Backups) > 1 {
			title += " of " + m.Member
		}
		fmt.Fprintf(&b, "\n## %s\n\n| | |\n|---|---|\n", cell(title))
		f := m.Fields()
		for _, k := range slices.Sorted(maps.Keys(f)) {
			row(&b, k, value(f[k]))
		}
	}
	return []byte(b.String())
}

// timeLines are the rows of the Time table, in order; optional rows show
// only when time was spent there.
var timeLines = []struct {
	spent    events.Spent
	label    string
	optional bool
}{
	{events.SpentEtcdStop, "etcd stops (ssh-stop)", false},
	{events.SpentEtcdStart, "etcd starts (ssh-start)", false},
	{events.SpentCatchUp, "catch-up waits (wait for healthy / caught-up / version, post-member gates)", false},
	{events.SpentLeader, "leadership hand-off (move-leader)", false},
	{events.SpentWait, "configured waits (wait duration)", true},
	{events.SpentStaging, "transfers (releases staged in preflight)", false},
	{events.SpentSwap, "binary swaps (swap)", false},
	{events.SpentBackup, "backups (backup)", false},
	{events.SpentCheck, "checks (health, assert-version, check, ssh-run, stop gates)", false},
	{events.SpentHuman, "the operator (confirm, pauses, stops before a resume)", true},
}

// timeline writes one step per row; the phase column only when the
// timeline spans phases.
func timeline(b *strings.Builder, es []Entry, withPhase bool) {
	if withPhase {
		b.WriteString("| phase | # | step | start | took | outcome |\n|---|--:|---|---|--:|---|\n")
	} else {
		b.WriteString("| # | step | start | took | outcome |\n|--:|---|---|--:|---|\n")
	}
	for _, e := range es {
		idx := fmt.Sprint(e.Index)
		if e.Steps > 0 {
			idx = fmt.Sprintf("%d/%d", e.Index, e.Steps)
		}
		if e.Hop > 0 {
			// an upgrade route: the hop's playbook, then the step in it
			idx = fmt.Sprintf("hop %d · %s", e.Hop, idx)
		}
		outcome := e.Outcome
		if e.Message != "" {
			outcome += ": " + e.Message
		}
		took := duration(e.Duration)
		if e.Outcome == OutcomeRunning {
			took = "≥" + took
		}
		cells := []string{idx, stepLabel(e), clock(e.Start, false), took, outcome}
		if withPhase {
			cells = append([]string{string(e.Phase)}, cells...)
		}
		row(b, cells...)
	}
}

// stepLabel is the action, or "name (action)" when the step has its own
// name.
func stepLabel(e Entry) string {
	switch {
	case e.Name != "" && e.Action != "" && e.Name != e.Action:
		return e.Name + " (" + e.Action + ")"
	case e.Action != "":
		return e.Action
	}
	return cmp.Or(e.Name, "-")
}

func hasRollback(es []Entry) bool {
	for _, e := range es {
		if e.Phase != es[0].Phase {
			return true
		}
	}
	return false
}

func row(b *strings.Builder, cells ...string) {
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" " + cell(c) + " |")
	}
	b.WriteString("\n")
}

// cell keeps a value inside its table cell: no pipe ends it, no newline
// breaks the row.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\r\n", " ")
	return strings.ReplaceAll(s, "\n", " ")
}

// clock shows a time in UTC; with the date for the summary, without it in
// timelines (a run rarely spans midnight, and the summary has the date).
func clock(t time.Time, date bool) string {
	switch {
	case t.IsZero():
		return "-"
	case date:
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return t.UTC().Format("15:04:05.0")
}

// duration rounds for reading: milliseconds under a second, tenths above.
func duration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func share(d, total time.Duration) string {
	if total <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(d)/float64(total))
}

// value shows a manifest value: strings as they are, anything else as
// compact JSON (maps come out with sorted keys).
func value(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
