// Package golden compares test output with golden files, which are
// rewritten with `go test -update` and never edited by hand (style.md).
// It owns the -update flag, so every package's tests share one spelling of
// it and one comparison.
package golden

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files (then read the diff; never edit them by hand)")

// Check compares got with the file at path, or rewrites the file with
// -update.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the output (go test -update rewrites it, then read the diff)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}
