package runner

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/etcdplay/etcdplay/internal/markdown"
)

// WritePlanMarkdown renders a plan as a pull-request comment: what the
// playbook is and which guide it encodes, then per phase a table of the
// steps (each step's name is the guide's sentence it encodes), the
// guards with their outcome, and where each step is written. The members
// phase is one table, since every member runs the same steps (a live plan,
// whose guards were evaluated per member, has one per member, and adds the
// cluster as seen and the members already done). Like
// WritePlanText, the output depends only on the plan.
func WritePlanMarkdown(w io.Writer, p *Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### Plan: %s on %s\n\n", markdown.Text(p.Playbook.Name), markdown.Code(p.Cluster))
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	row("playbook", markdown.Code(p.Playbook.File)+fmt.Sprintf(" (%s → %s)", p.Playbook.From, p.Playbook.To))
	if p.Playbook.Guide != "" {
		row("guide", markdown.Text(p.Playbook.Guide))
	}
	row("cluster", fmt.Sprintf("%s, api %s, %d members: %s", markdown.Code(p.Cluster), p.API, len(p.Members), markdown.Text(strings.Join(p.Members, ", "))))
	row("order", markdown.Code(p.Order))
	if p.Offline {
		row("mode", "offline: nothing contacted; guards are "+GuardOffline)
	}
	if d := p.Digests; d != nil {
		row("digests", "playbook "+markdown.Code(d.Playbook)+", inventory "+markdown.Code(d.Inventory))
	}
	if l := p.Live; l != nil {
		row("live", fmt.Sprintf("cluster version %s, leader %s, healthy %t", cmp.Or(l.ClusterVersion, "-"), cmp.Or(l.Leader, "-"), l.Healthy))
	}
	if len(p.Vars) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(p.Vars)) {
			kv = append(kv, markdown.Code(fmt.Sprintf("%s=%v", k, p.Vars[k])))
		}
		row("vars", strings.Join(kv, " "))
	}
	for _, ph := range p.Phases {
		switch ph.Phase {
		case "members":
			fmt.Fprintf(&b, "\n#### members (order %s)\n\n", p.Order)
			var todo []MemberPlan
			for _, m := range ph.Members {
				if m.Done != "" {
					fmt.Fprintf(&b, "- %s: %s, skipped\n", markdown.Code(m.Member), markdown.Text(m.Done))
					continue
				}
				todo = append(todo, m)
			}
			if len(todo) == 0 {
				continue
			}
			if p.Live != nil {
				// guards were evaluated per member: one table each
				for _, m := range todo {
					fmt.Fprintf(&b, "\nmember %s:\n\n", markdown.Code(m.Member))
					writeStepTable(&b, m.Steps)
				}
				continue
			}
			var names []string
			for _, m := range todo {
				names = append(names, markdown.Code(m.Member))
			}
			fmt.Fprintf(&b, "Each of %s, one at a time:\n\n", strings.Join(names, ", "))
			writeStepTable(&b, todo[0].Steps)
		case "rollback":
			b.WriteString("\n#### " + p.Playbook.rollbackTitle() + "\n\n")
			writeStepTable(&b, ph.Steps)
		default:
			fmt.Fprintf(&b, "\n#### %s\n\n", ph.Phase)
			writeStepTable(&b, ph.Steps)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeStepTable(b *strings.Builder, list []StepPlan) {
	b.WriteString("| # | step | action | guard / check | bound | at |\n|--:|---|---|---|---|---|\n")
	for _, s := range list {
		title := s.Name
		if title == "" {
			title = s.Text
		}
		action := markdown.Code(s.Action)
		if len(s.Args) > 0 {
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(s.Args)) {
				kv = append(kv, k+"="+quoteIfSpace(s.Args[k]))
			}
			action += " " + markdown.Code(strings.Join(kv, " "))
		}
		guard := ""
		if s.When != "" {
			guard = markdown.Code(s.When) + " → " + markdown.Text(s.Guard)
		}
		if s.Check != "" {
			if guard != "" {
				guard += "; "
			}
			guard += "check " + markdown.Text(s.Check)
		}
		if len(s.Facts) > 0 {
			guard += " (" + markdown.Code(formatFacts(s.Facts)) + ")"
		}
		bound := s.Timeout
		if s.Retries != 0 {
			bound = fmt.Sprintf("%s per attempt, %d retries", cmp.Or(s.Timeout, "-"), s.Retries)
		}
		fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s |\n", s.Index, markdown.Text(title), action, guard, markdown.Text(bound), markdown.Code(s.Source))
	}
}
