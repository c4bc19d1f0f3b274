package runner

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/runner/events/redact"
)

// WritePlanText renders a plan for people. The output depends only on the
// plan (maps sorted, no clock), so the same inputs give byte-identical text.
func WritePlanText(w io.Writer, p *Plan) error {
	p = redactPlan(p)
	var b strings.Builder
	fmt.Fprintf(&b, "plan: %s (%s -> %s)\n", p.Playbook.Name, p.Playbook.From, p.Playbook.To)
	fmt.Fprintf(&b, "file: %s\n", p.Playbook.File)
	if p.Playbook.Guide != "" {
		fmt.Fprintf(&b, "guide: %s\n", p.Playbook.Guide)
	}
	fmt.Fprintf(&b, "cluster: %s (api %s, %d members: %s)\n", p.Cluster, p.API, len(p.Members), strings.Join(p.Members, ", "))
	if p.Offline {
		b.WriteString("mode: offline; nothing contacted, guards are shown as expressions and " + GuardOffline + "\n")
	}
	if d := p.Digests; d != nil {
		fmt.Fprintf(&b, "digests: playbook %s, inventory %s\n", d.Playbook, d.Inventory)
	}
	if l := p.Live; l != nil {
		fmt.Fprintf(&b, "live: cluster version %s, leader %s, healthy %t\n", cmp.Or(l.ClusterVersion, "-"), cmp.Or(l.Leader, "-"), l.Healthy)
		for _, m := range l.Members {
			note := ""
			if m.Leader {
				note += " (leader)"
			}
			if m.Done != "" {
				note += "; " + m.Done + ": skipped"
			}
			fmt.Fprintf(&b, "  %s %s healthy=%t%s\n", m.Name, cmp.Or(m.Server, "-"), m.Healthy, note)
		}
	}
	for _, r := range p.Ready {
		if r.Ready {
			fmt.Fprintf(&b, "ready: %s (%s): ssh, sudo, binary, release and staging proven in %s\n", r.Member, r.Host, r.Took.Round(time.Millisecond))
			continue
		}
		fmt.Fprintf(&b, "NOT READY: %s (%s): %s\n", r.Member, r.Host, r.Error)
		if r.Hint != "" {
			fmt.Fprintf(&b, "  fix: %s\n", r.Hint)
		}
	}
	for _, w := range p.Warnings {
		if p.AllowQuorumLoss && strings.Contains(w, "--allow-quorum-loss") {
			w += ": allowed by --allow-quorum-loss"
		}
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	if len(p.Vars) > 0 {
		b.WriteString("vars:")
		for _, k := range slices.Sorted(maps.Keys(p.Vars)) {
			v, _ := json.Marshal(p.Vars[k])
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
		b.WriteByte('\n')
	}
	for _, ph := range p.Phases {
		b.WriteByte('\n')
		switch ph.Phase {
		case "members":
			note := ""
			if p.Offline && p.Order == "leader-last" {
				note = "; offline the members are listed as in the inventory, the leader moves last at run time"
			}
			if !p.Offline && p.Order == "leader-last" {
				note = "; the order is decided again before each member, the leader at the time goes last"
			}
			fmt.Fprintf(&b, "members (order: %s%s)\n", p.Order, note)
			for _, m := range ph.Members {
				if m.Done != "" {
					fmt.Fprintf(&b, "  member %s: %s, skipped\n", m.Member, m.Done)
					continue
				}
				fmt.Fprintf(&b, "  member %s\n", m.Member)
				writeSteps(&b, m.Steps, "    ")
			}
		case "rollback":
			b.WriteString(p.Playbook.rollbackTitle() + "\n")
			writeSteps(&b, ph.Steps, "  ")
		default:
			fmt.Fprintf(&b, "%s\n", ph.Phase)
			writeSteps(&b, ph.Steps, "  ")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeSteps(b *strings.Builder, list []StepPlan, indent string) {
	for _, s := range list {
		title := s.Name
		if title == "" {
			title = s.Action
		}
		fmt.Fprintf(b, "%s%d. %s\n", indent, s.Index, title)
		in := indent + strings.Repeat(" ", len(fmt.Sprint(s.Index))+2)
		fmt.Fprintf(b, "%s%s: %s\n", in, s.Action, s.Text)
		if len(s.Args) > 0 {
			var kv []string
			for _, k := range slices.Sorted(maps.Keys(s.Args)) {
				kv = append(kv, k+"="+quoteIfSpace(s.Args[k]))
			}
			fmt.Fprintf(b, "%sargs: %s\n", in, strings.Join(kv, " "))
		}
		if s.When != "" {
			fmt.Fprintf(b, "%swhen: %s (%s)\n", in, s.When, s.Guard)
		}
		if s.Check != "" {
			fmt.Fprintf(b, "%scheck: %s\n", in, s.Check)
		}
		if len(s.Facts) > 0 {
			fmt.Fprintf(b, "%sfacts: %s\n", in, formatFacts(s.Facts))
		}
		switch {
		case s.Retries != 0:
			fmt.Fprintf(b, "%stimeout: %s per attempt, retries: %d\n", in, cmp.Or(s.Timeout, "-"), s.Retries)
		case s.Timeout != "":
			fmt.Fprintf(b, "%stimeout: %s\n", in, s.Timeout)
		}
		fmt.Fprintf(b, "%sat: %s\n", in, s.Source)
	}
}

func quoteIfSpace(s string) string {
	if strings.ContainsAny(s, " \t\"") || s == "" {
		return strconv.Quote(s)
	}
	return s
}

// WritePlanJSON renders a plan for machines: indented, keys in a fixed
// order, and guards kept readable (no HTML escaping of < and >).
func WritePlanJSON(w io.Writer, p *Plan) error {
	p = redactPlan(p)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(p)
}

// redactPlan is the plan as it may be shown: vars and arguments named like
// secrets masked, and every text through the one redaction the other
// outputs use (docs/safety.md). The plan itself is not changed.
func redactPlan(p *Plan) *Plan {
	q := *p
	q.Vars = redact.Fields(p.Vars)
	q.Warnings = redactStrings(p.Warnings)
	q.Phases = make([]PhasePlan, len(p.Phases))
	for i, ph := range p.Phases {
		ph.Steps = redactSteps(ph.Steps)
		ms := make([]MemberPlan, len(ph.Members))
		for j, m := range ph.Members {
			m.Steps = redactSteps(m.Steps)
			m.Done = redact.String(m.Done)
			ms[j] = m
		}
		if ph.Members == nil {
			ms = nil
		}
		ph.Members = ms
		q.Phases[i] = ph
	}
	return &q
}

func redactSteps(list []StepPlan) []StepPlan {
	if list == nil {
		return nil
	}
	out := make([]StepPlan, len(list))
	for i, s := range list {
		s.Name, s.Text, s.When, s.Guard = redact.String(s.Name), redact.String(s.Text), redact.String(s.When), redact.String(s.Guard)
		if s.Args != nil {
			s.Args = redact.Value("args", s.Args).(map[string]string)
		}
		s.Facts = redact.Fields(s.Facts)
		out[i] = s
	}
	return out
}

func redactStrings(list []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = redact.String(s)
	}
	return out
}
