package fleet

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/etcdplay/etcdplay/internal/markdown"
)

// The summary is the fleet's closing view: one row per cluster, in the
// fleet's order, in three renderings (text table, markdown for a pull
// request or a ticket, JSON for machines).

// membersDone is "2/3": members the run left upgraded or found on the
// target, of all the cluster's members; "-" when the run touched none
// (skipped, refused before the members).
func membersDone(o Outcome) string {
	n, touched := 0, false
	for _, m := range o.Members {
		if strings.HasPrefix(m.State, "upgraded") || strings.HasPrefix(m.State, "already on") {
			n++
		}
		touched = touched || m.State != "untouched"
	}
	if !touched {
		return "-"
	}
	return fmt.Sprintf("%d/%d", n, len(o.Members))
}

func took(o Outcome) string {
	if o.Took <= 0 {
		return "-"
	}
	return o.Took.Round(100 * time.Millisecond).String()
}

// detail is what the last column says: the reason for anything but
// success (clipped: a step's failure can quote a page of etcd's log; the
// JSON summary and the cluster's report keep all of it), else the report.
func detail(o Outcome) string {
	if o.Status != Succeeded && o.Reason != "" {
		return clip(o.Reason, reasonWidth)
	}
	return o.Report
}

// reasonWidth bounds a reason in the table, the markdown and the progress.
const reasonWidth = 160

// tally is "3 clusters: 2 succeeded, 1 skipped".
func tally(outs []Outcome) string {
	count := map[Status]int{}
	for _, o := range outs {
		count[o.Status]++
	}
	var parts []string
	for _, s := range []Status{Succeeded, Skipped, Failed, Stopped, Interrupted, NotStarted} {
		if count[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", count[s], s))
		}
	}
	noun := "clusters"
	if len(outs) == 1 {
		noun = "cluster"
	}
	return fmt.Sprintf("%d %s: %s", len(outs), noun, strings.Join(parts, ", "))
}

// WriteTable renders the summary for people, then the commands that go
// on with each cluster that did not succeed.
func WriteTable(w io.Writer, outs []Outcome) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tSTATUS\tMEMBERS\tTOOK\tDETAIL")
	for _, o := range outs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Cluster, o.Status, membersDone(o), took(o), detail(o))
	}
	tw.Flush()
	fmt.Fprintln(&b, tally(outs))
	for _, o := range outs {
		if o.Status == Failed || o.Status == Stopped || o.Status == Interrupted {
			if o.Resume != "" {
				fmt.Fprintf(&b, "%s: to continue: %s\n", o.Cluster, o.Resume)
			}
			if o.Rollback != "" {
				fmt.Fprintf(&b, "%s: to roll back: %s\n", o.Cluster, o.Rollback)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown renders the summary as a markdown table, for a pull
// request, a ticket or a change record.
func WriteMarkdown(w io.Writer, outs []Outcome) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### Fleet: %s\n\n", tally(outs))
	b.WriteString("| cluster | inventory | status | members | took | detail |\n|---|---|---|---|---|---|\n")
	for _, o := range outs {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", markdown.Text(o.Cluster), markdown.Code(o.Inventory),
			o.Status, membersDone(o), took(o), markdown.Text(detail(o)))
	}
	var next []string
	for _, o := range outs {
		if o.Resume != "" && (o.Status == Failed || o.Status == Stopped || o.Status == Interrupted) {
			next = append(next, fmt.Sprintf("- %s: %s", markdown.Text(o.Cluster), markdown.Code(o.Resume)))
		}
	}
	if len(next) > 0 {
		b.WriteString("\nTo continue:\n\n" + strings.Join(next, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary is the JSON form: -o json ends a fleet's event stream with it,
// as one line whose kind is "fleet-summary".
type Summary struct {
	// Time and Kind lead, as on every event line, so a reader of the
	// stream that decodes each line as an event reads this one too.
	Time     string           `json:"time,omitempty"`
	Kind     string           `json:"kind"`
	OK       bool             `json:"ok"`
	Tally    string           `json:"tally"`
	Clusters []ClusterSummary `json:"clusters"`
}

// ClusterSummary is one cluster in Summary.
type ClusterSummary struct {
	Cluster   string          `json:"cluster"`
	Inventory string          `json:"inventory"`
	Status    Status          `json:"status"`
	Reason    string          `json:"reason,omitempty"`
	Code      int             `json:"exit_code"`
	RunID     string          `json:"run_id,omitempty"`
	Report    string          `json:"report,omitempty"`
	Resume    string          `json:"resume,omitempty"`
	Rollback  string          `json:"rollback,omitempty"`
	TookMS    int64           `json:"took_ms"`
	Members   []MemberSummary `json:"members,omitempty"`
}

// MemberSummary is one member's end state.
type MemberSummary struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// NewSummary builds the JSON form of outs.
func NewSummary(outs []Outcome) Summary {
	s := Summary{Kind: "fleet-summary", OK: Err(outs) == nil, Tally: tally(outs), Clusters: []ClusterSummary{}}
	for _, o := range outs {
		c := ClusterSummary{Cluster: o.Cluster, Inventory: o.Inventory, Status: o.Status, Reason: o.Reason, Code: o.Code,
			RunID: o.RunID, Report: o.Report, Resume: o.Resume, Rollback: o.Rollback, TookMS: o.Took.Milliseconds()}
		for _, m := range o.Members {
			c.Members = append(c.Members, MemberSummary{Name: m.Name, State: m.State, Before: m.Before, After: m.After})
		}
		s.Clusters = append(s.Clusters, c)
	}
	return s
}

// WriteJSON writes NewSummary(outs) as one line, stamped with at (the
// events' format: UTC, milliseconds).
func WriteJSON(w io.Writer, outs []Outcome, at time.Time) error {
	s := NewSummary(outs)
	s.Time = at.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
