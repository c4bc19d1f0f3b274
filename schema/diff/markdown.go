package diff

import (
	"fmt"
	"io"
	"strings"

	"github.com/etcdplay/etcdplay/internal/markdown"
)

// Header names what a markdown diff compares, for the comment's title.
type Header struct {
	Old, New string // the playbooks as the reviewer named them
	// Guide is the new playbook's guide: the upgrade guide its steps cite.
	Guide string
}

// WriteMarkdown renders changes as a pull-request comment: a summary
// line, the top-level fields as a table, then per phase each changed step
// with its name (the guide's sentence it encodes) and a table of old and
// new values.
func WriteMarkdown(w io.Writer, h Header, changes []Change) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### Playbook diff: %s → %s\n\n", markdown.Code(h.Old), markdown.Code(h.New))
	if h.Guide != "" {
		fmt.Fprintf(&b, "Guide: %s\n\n", markdown.Text(h.Guide))
	}
	if len(changes) == 0 {
		b.WriteString("No change: the two playbooks run the same steps.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	count := map[Kind]int{}
	for _, c := range changes {
		count[c.Kind]++
	}
	fmt.Fprintf(&b, "**%d %s**: %d changed, %d added, %d removed.\n", len(changes), plural(len(changes), "change"),
		count[Changed], count[Added], count[Removed])

	phase := ""
	for _, c := range changes {
		if c.Phase != phase {
			phase = c.Phase
			if !strings.HasSuffix(b.String(), "\n\n") {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "#### %s\n\n", phase)
			if phase == PhasePlaybook {
				b.WriteString("| field | old | new |\n|---|---|---|\n")
			}
		}
		if c.Phase == PhasePlaybook {
			for _, d := range c.Details {
				fmt.Fprintf(&b, "| %s | %s | %s |\n", markdown.Code(d.Field), cell(d.Old), cell(d.New))
			}
			continue
		}
		title := fmt.Sprintf("%s step %d %s", mark(c.Kind), c.Index, markdown.Code(c.Action))
		if c.Name != "" {
			title += ": " + markdown.Text(c.Name)
		}
		if c.OldIndex != 0 {
			title += fmt.Sprintf(" (was step %d)", c.OldIndex)
		}
		fmt.Fprintf(&b, "- %s\n", title)
		if len(c.Details) == 0 {
			continue
		}
		b.WriteString("\n  | field | old | new |\n  |---|---|---|\n")
		for _, d := range c.Details {
			fmt.Fprintf(&b, "  | %s | %s | %s |\n", markdown.Code(d.Field), cell(d.Old), cell(d.New))
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mark(k Kind) string {
	switch k {
	case Added:
		return "**added**"
	case Removed:
		return "**removed**"
	}
	return "**changed**"
}

func cell(s string) string {
	if s == "" {
		return "–"
	}
	return markdown.Code(s)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
