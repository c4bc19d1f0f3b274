package shell

import "strings"

// Quote returns s as a single word for a POSIX shell (sh, dash, bash).
//
// Words made only of characters that no shell treats specially are returned
// as they are, so command lines stay readable in logs and plans. Anything
// else is wrapped in single quotes, inside which a POSIX shell interprets
// nothing at all. An embedded single quote closes the quote, adds an escaped
// quote and reopens; the empty string becomes a pair of single quotes:
//
//	Quote("it's") == `'it'\''s'`
//	Quote("")     == `''`
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	if isPlain(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes every word of argv and joins them with single spaces, giving a
// command line that a POSIX shell splits back into exactly argv.
func Join(argv ...string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Quote(a))
	}
	return b.String()
}

// isPlain reports whether s needs no quoting: letters, digits and a few
// punctuation marks that are never special in a word. '=' is left out because
// a leading NAME=value word is an assignment, '~' because it expands at the
// start of a word, and ':' '@' '%' '+' ',' are kept as they are common in
// paths, URLs and versions and are never special.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '/' || c == ':' || c == '@' || c == '%' || c == '+' || c == ',':
		default:
			return false
		}
	}
	return true
}
