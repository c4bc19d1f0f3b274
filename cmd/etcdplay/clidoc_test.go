package main

import (
	"bytes"
	"io"
	"testing"

	"github.com/etcdplay/etcdplay/internal/golden"
)

// TestCLIDoc keeps docs/cli.md equal to what the command tree says; after
// changing a command or flag, -update rewrites it.
func TestCLIDoc(t *testing.T) {
	t.Setenv("HOME", "/home/you") // defaults that name the home folder
	var b bytes.Buffer
	if err := writeCLIDoc(&b, newRoot(io.Discard, io.Discard)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"### etcdplay run", "`--pause`", "#### etcdplay sandbox up", "### etcdplay completion"} {
		if !bytes.Contains(b.Bytes(), []byte(want)) {
			t.Errorf("docs/cli.md lacks %q", want)
		}
	}
	golden.Check(t, "../../docs/cli.md", b.Bytes())
}
