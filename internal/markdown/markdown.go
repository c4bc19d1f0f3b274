// Package markdown holds the few escaping rules GitHub-flavoured markdown
// needs, so the views that render for pull-request comments (plan and
// diff -o markdown) share one spelling of them.
package markdown

import "strings"

// Code is s as an inline code span that survives a table cell: pipes are
// escaped (GitHub splits cells on them even inside code), newlines become
// spaces, and a value holding backticks gets a longer fence.
func Code(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", `\|`)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// Text is s safe in a table cell or a list item: pipes and the characters
// markdown would take as emphasis or HTML are escaped, newlines joined.
func Text(s string) string {
	r := strings.NewReplacer("\n", " ", "|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;", "`", "\\`", "[", `\[`, "]", `\]`)
	return r.Replace(s)
}
