package schema

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// scalarPos maps a rune offset into scalar n's value back to the line and
// column of the source character it came from, so a guard error points
// inside the YAML text. It walks the source the way YAML folds it: quotes
// and escapes, folded line breaks, block scalar indentation. Where a style
// is too irregular to follow it returns the best position it has reached.
func (d *Decoder) scalarPos(n *yaml.Node, offset int) Pos {
	start := d.Pos(n)
	if start.Line > len(d.lines) {
		return start
	}
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return d.blockPos(start, offset)
	case n.Style&yaml.DoubleQuotedStyle != 0:
		return d.flowPos(start, offset, '"')
	case n.Style&yaml.SingleQuotedStyle != 0:
		return d.flowPos(start, offset, '\'')
	}
	return d.flowPos(start, offset, 0)
}

// flowPos follows a plain or quoted scalar, which may span lines: a line
// break and the indentation after it fold into one value character.
func (d *Decoder) flowPos(start Pos, offset int, quote rune) Pos {
	line, col := start.Line, start.Col
	src := []rune(strings.TrimRight(d.lines[line-1], "\r"))
	i := col - 1 // rune index into src
	if quote != 0 {
		i++ // skip the opening quote
	}
	for v := 0; ; v++ {
		if i >= len(src) {
			// A line break: the value holds one character for it, and the
			// next line's content starts after its indentation.
			if line >= len(d.lines) {
				return Pos{line, len(src) + 1}
			}
			line++
			src = []rune(strings.TrimRight(d.lines[line-1], "\r"))
			i = 0
			for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
				i++
			}
			if v == offset {
				return Pos{line, i + 1}
			}
			continue
		}
		if v == offset {
			return Pos{line, i + 1}
		}
		switch {
		case quote == '\'' && src[i] == '\'' && i+1 < len(src) && src[i+1] == '\'':
			i += 2
		case quote == '"' && src[i] == '\\' && i+1 < len(src):
			i += 2 + escapeLen(src[i+1])
		default:
			i++
		}
	}
}

// escapeLen is how many hex digits follow a double-quoted escape letter.
func escapeLen(r rune) int {
	switch r {
	case 'x':
		return 2
	case 'u':
		return 4
	case 'U':
		return 8
	}
	return 0
}

// blockPos follows a literal (|) or folded (>) block scalar: content starts
// on the line after the indicator, indented; each line break is one value
// character either way, which is exact for the one-paragraph expressions
// guards are.
func (d *Decoder) blockPos(start Pos, offset int) Pos {
	line := start.Line + 1
	indent := -1
	v := 0
	for ; line <= len(d.lines); line++ {
		src := []rune(strings.TrimRight(d.lines[line-1], "\r"))
		if indent < 0 {
			if strings.TrimSpace(string(src)) == "" {
				continue
			}
			for indent = 0; indent < len(src) && src[indent] == ' '; indent++ {
			}
		}
		content := 0
		if len(src) > indent {
			content = len(src) - indent
		}
		if offset <= v+content {
			return Pos{line, indent + 1 + offset - v}
		}
		v += content + 1
	}
	return start
}
