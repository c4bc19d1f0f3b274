package shell

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// hostile holds words that a careless command builder would let a shell
// interpret: separators, substitutions, globs, quotes, newlines, options.
var hostile = []string{
	"",
	"plain",
	"/var/lib/etcd",
	"/var/lib/etcd; touch pwned",
	"a b",
	"it's",
	"''",
	`"double"`,
	"$(touch pwned)",
	"`touch pwned`",
	"${HOME}",
	"$HOME",
	"*",
	"/etc/*.conf",
	"[a-z]?",
	"line1\nline2",
	"tab\there",
	"-rf",
	"--",
	"~",
	"~root/x",
	"a=b",
	"x|y&z>w<v",
	"back\\slash",
	"!history",
	"#comment",
	"{a,b}",
	"\x01ctrl",
	"unicode ✓ é",
}

func TestQuote(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "''"},
		{"plain", "plain"},
		{"/usr/local/bin/etcd", "/usr/local/bin/etcd"},
		{"v3.5.17", "v3.5.17"},
		{"-rf", "-rf"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"/var/lib/etcd; touch pwned", "'/var/lib/etcd; touch pwned'"},
		{"$(id)", "'$(id)'"},
		{"`id`", "'`id`'"},
		{"*", "'*'"},
		{"a\nb", "'a\nb'"},
		{"~", "'~'"},
		{"a=b", "'a=b'"},
	}
	for _, c := range cases {
		if got := Quote(c.in); got != c.want {
			t.Errorf("Quote(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestJoin(t *testing.T) {
	got := Join("etcdctl", "--endpoints", "http://127.0.0.11:2379", "put", "k", "a b")
	want := "etcdctl --endpoints http://127.0.0.11:2379 put k 'a b'"
	if got != want {
		t.Errorf("Join = %q, want %q", got, want)
	}
	if Join() != "" {
		t.Errorf("Join() = %q, want empty", Join())
	}
}

// TestJoinRoundTripsThroughSh hands Join's output to real shells and checks
// that the program they start receives exactly the words we quoted, and that
// no word ran as a command (no file named pwned appears).
func TestJoinRoundTripsThroughSh(t *testing.T) {
	for _, sh := range []string{"sh", "bash", "dash"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			t.Logf("%s not installed; skipped", sh)
			continue
		}
		t.Run(sh, func(t *testing.T) {
			dir := t.TempDir()
			// printf '%s\0' "$@" prints each argument NUL-terminated.
			line := Join(append([]string{"printf", `%s\0`}, hostile...)...)
			cmd := exec.Command(path, "-c", line)
			cmd.Dir = dir
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s -c %q: %v", sh, line, err)
			}
			got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
			if len(got) != len(hostile) {
				t.Fatalf("got %d words, want %d: %q", len(got), len(hostile), got)
			}
			for i := range hostile {
				if got[i] != hostile[i] {
					t.Errorf("word %d: got %q, want %q", i, got[i], hostile[i])
				}
			}
			if ls, _ := exec.Command("ls", "-A", dir).Output(); len(bytes.TrimSpace(ls)) != 0 {
				t.Errorf("a quoted word ran as a command; files created: %s", ls)
			}
		})
	}
}

func TestQuoteEachWordAlone(t *testing.T) {
	for _, w := range hostile {
		out, err := exec.Command("sh", "-c", "printf '%s' "+Quote(w)).Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		if string(out) != w {
			t.Errorf("Quote(%q) round-trips to %q", w, out)
		}
	}
}
