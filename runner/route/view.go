package route

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/etcdplay/etcdplay/internal/markdown"
)

// WriteText renders the route for people: where the cluster is, each hop
// with the release it installs and why, and the releases the inventory
// must list.
func WriteText(w io.Writer, r *Route) error {
	var b strings.Builder
	fmt.Fprintf(&b, "route for %s: %s -> %s (--to %s)\n", cmp.Or(r.Cluster, "-"), r.From, r.To, r.Target)
	fmt.Fprintf(&b, "live: %s; cluster version %s\n", members(r.Live), cmp.Or(r.Live.Cluster, "-"))
	if len(r.Hops) == 0 {
		fmt.Fprintf(&b, "every member already runs %s or newer: nothing to do\n", r.To)
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOP\tPLAYBOOK\tKIND\tINSTALLS\tWHY")
	for i, h := range r.Hops {
		fmt.Fprintf(tw, "%d/%d\t%s\t%s\t%s\t%s\n", i+1, len(r.Hops), h.Playbook, h.Kind, h.Release, h.Why)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nreleases the inventory lists for it: %s\n", join(r))
	b.WriteString("each hop is a whole run of its playbook: its preflight (with a verified backup), the members one at a time, its finish\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON renders the route for machines.
func WriteJSON(w io.Writer, r *Route) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteMarkdown renders the route as a pull-request comment, like
// `plan -o markdown`.
func WriteMarkdown(w io.Writer, r *Route) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### Route: %s to %s\n\n", markdown.Code(cmp.Or(r.Cluster, "-")), markdown.Code(r.Target))
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| from | %s (lowest member), cluster version %s |\n", markdown.Code(r.From.String()), markdown.Code(cmp.Or(r.Live.Cluster, "-")))
	fmt.Fprintf(&b, "| to | %s |\n", markdown.Code(r.To.String()))
	fmt.Fprintf(&b, "| live | %s |\n", markdown.Text(members(r.Live)))
	if len(r.Hops) == 0 {
		fmt.Fprintf(&b, "\nEvery member already runs %s or newer: nothing to do.\n", markdown.Code(r.To.String()))
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "| releases | %s |\n", markdown.Text(join(r)))
	b.WriteString("\n| hop | playbook | kind | installs | why |\n|---|---|---|---|---|\n")
	for i, h := range r.Hops {
		fmt.Fprintf(&b, "| %d/%d | %s | %s | %s | %s |\n", i+1, len(r.Hops), markdown.Code(h.Playbook), h.Kind, markdown.Code(h.Release.String()), markdown.Text(h.Why))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func members(l Live) string {
	var out []string
	for _, m := range l.Members {
		out = append(out, m.Name+" "+cmp.Or(m.Server, "down"))
	}
	return strings.Join(out, ", ")
}

func join(r *Route) string {
	var out []string
	for _, v := range r.Releases {
		out = append(out, v.String())
	}
	return strings.Join(out, ", ")
}
