package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteText renders changes the way a reviewer reads them, one line per
// changed field:
//
//	to: "3.5" -> "3.6"
//	members: ~ step 3 swap args.to: "3.5" -> "3.6"
//	preflight: + step 2 health
//	finish: - step 1 wait "When all members are upgraded"
//
// "~" is a changed step, "+" an added one, "-" a removed one.
func WriteText(w io.Writer, changes []Change) error {
	var b strings.Builder
	for _, c := range changes {
		if c.Phase == PhasePlaybook {
			for _, d := range c.Details {
				fmt.Fprintf(&b, "%s: %s\n", d.Field, arrow(d))
			}
			continue
		}
		head := fmt.Sprintf("%s: %s step %d %s", c.Phase, symbol(c.Kind), c.Index, c.Action)
		if c.Name != "" {
			head += " " + strconv.Quote(c.Name)
		}
		if c.OldIndex != 0 {
			head += fmt.Sprintf(" (was step %d)", c.OldIndex)
		}
		switch {
		case c.Kind == Removed || len(c.Details) == 0:
			b.WriteString(head + "\n")
		case c.Kind == Added:
			b.WriteString(head + "\n")
			for _, d := range c.Details {
				fmt.Fprintf(&b, "    %s: %s\n", d.Field, strconv.Quote(d.New))
			}
		default:
			for _, d := range c.Details {
				fmt.Fprintf(&b, "%s %s: %s\n", head, d.Field, arrow(d))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func symbol(k Kind) string {
	switch k {
	case Added:
		return "+"
	case Removed:
		return "-"
	}
	return "~"
}

func arrow(d Detail) string {
	q := func(s string) string {
		if s == "" {
			return "(none)"
		}
		return strconv.Quote(s)
	}
	return q(d.Old) + " -> " + q(d.New)
}

// WriteJSON renders changes for machines: {"changes": [...], "same": bool}.
func WriteJSON(w io.Writer, changes []Change) error {
	if changes == nil {
		changes = []Change{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(struct {
		Same    bool     `json:"same"`
		Changes []Change `json:"changes"`
	}{len(changes) == 0, changes})
}
