// Package term makes text from outside (member names and errors read from
// the cluster, command output from hosts) safe to print on a terminal:
// control characters, escape sequences among them, are shown as '?', so a
// member named "\x1b]0;..." cannot retitle, recolour or rewrite the
// operator's screen.
package term

import "strings"

// Printable replaces control characters but newline and tab with '?'.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		return line(r)
	}, s)
}

// Line is Printable for one table cell or line: newlines and tabs become
// '?' too.
func Line(s string) string { return strings.Map(line, s) }

func line(r rune) rune {
	if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
		return '?'
	}
	return r
}

// spinnerFrames are the frames of every progress spinner etcdplay draws
// (a run's step line, a fleet's block, the sandbox's build), so they all
// turn alike.
var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Spinner is the spinner's frame for tick n (any n ≥ 0).
func Spinner(n int) string { return spinnerFrames[n%len(spinnerFrames)] }
