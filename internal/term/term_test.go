package term

import "testing"

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"infra0":                   "infra0",
		"evil\x1b]0;owned\x07":     "evil?]0;owned?",
		"two\nlines\tand\u009b31m": "two\nlines\tand?31m",
		"Grüße":                    "Grüße",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Line("a\nb\tc\x1b"); got != "a?b?c?" {
		t.Errorf("Line = %q", got)
	}
}
