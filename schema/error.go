package schema

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a 1-based line and column in a YAML file. Columns count runes, as
// yaml.v3 does, so a caret lines up under non-ASCII text too.
type Pos struct {
	Line int `json:"line"`
	Col  int `json:"col"`
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is one problem found while loading a file, at its exact position.
type Error struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
	Msg  string `json:"message"`
	Hint string `json:"hint,omitempty"`
	// Source is the text of the offending line, kept so the error can be
	// shown with a caret without re-reading the file.
	Source string `json:"-"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Format renders the error for people: the position and message, the source
// line with a caret under the column, then the hint when there is one.
func (e *Error) Format() string {
	var b strings.Builder
	b.WriteString(e.Error())
	b.WriteByte('\n')
	if e.Source != "" {
		src, col := excerpt(e.Source, e.Col)
		b.WriteString("    ")
		b.WriteString(src)
		b.WriteString("\n    ")
		b.WriteString(caretPad(src, col))
		b.WriteString("^\n")
	}
	if e.Hint != "" {
		b.WriteString("    hint: ")
		b.WriteString(e.Hint)
		b.WriteByte('\n')
	}
	return b.String()
}

// caretPad returns the whitespace that puts a caret under rune column col of
// line, keeping tabs as tabs so the caret lines up whatever the tab width.
func caretPad(line string, col int) string {
	var b strings.Builder
	i := 1
	for _, r := range line {
		if i >= col {
			break
		}
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
		i++
	}
	for ; i < col; i++ {
		b.WriteByte(' ')
	}
	return b.String()
}

// ErrorList is every problem found in one or more files. It is an error
// itself when not empty, so loaders can return it as such.
type ErrorList []*Error

func (l ErrorList) Len() int      { return len(l) }
func (l ErrorList) Swap(i, j int) { l[i], l[j] = l[j], l[i] }
func (l ErrorList) Less(i, j int) bool {
	a, b := l[i], l[j]
	if a.File != b.File {
		return a.File < b.File
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	if a.Col != b.Col {
		return a.Col < b.Col
	}
	return a.Msg < b.Msg
}

// Sort orders the list by file and position and drops exact duplicates,
// which arise when an alias makes the same node decode twice.
func (l *ErrorList) Sort() {
	sort.Stable(*l)
	out := (*l)[:0]
	for i, e := range *l {
		if i > 0 {
			p := (*l)[i-1]
			if p.File == e.File && p.Line == e.Line && p.Col == e.Col && p.Msg == e.Msg {
				continue
			}
		}
		out = append(out, e)
	}
	*l = out
}

// Err returns the list as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more problems)", l[0].Error(), len(l)-1)
}

// Format renders every error for people, each with its source line and
// caret, in the list's order.
func (l ErrorList) Format() string {
	var b strings.Builder
	for _, e := range l {
		b.WriteString(e.Format())
	}
	return b.String()
}

// excerpt cuts a long source line to maxShown runes around col, marking
// the cuts with "...", and returns the column of the same rune in the cut
// line. Control characters are shown as '?', so a hostile file cannot
// drive the terminal.
func excerpt(line string, col int) (string, int) {
	r := []rune(line)
	for i, c := range r {
		if (c < 0x20 && c != '\t') || c == 0x7f || (c >= 0x80 && c < 0xa0) {
			r[i] = '?'
		}
	}
	if len(r) <= maxShown {
		return string(r), col
	}
	start := max(0, min(col-1-maxShown/2, len(r)-maxShown))
	end := min(len(r), start+maxShown)
	out := string(r[start:end])
	if start > 0 {
		out = "..." + out
		col = col - start + 3
	}
	if end < len(r) {
		out += "..."
	}
	return out, col
}
