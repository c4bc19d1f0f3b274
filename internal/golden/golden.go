// Package golden compares test output with golden files, which are
// rewritten with `go test -update` and never edited by hand (style.md).
// It owns the -update flag, so every package's tests (the CLI's txtar
// scripts included) share one spelling of it and one comparison.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files (then read the diff; never edit them by hand)")

// Update reports whether the test binary was given -update: for
// rewriters other than Check, such as testscript's UpdateScripts.
func Update() bool { return *update }

// Check compares got with the file at path, or rewrites the file with
// -update.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if err := Compare(path, got); err != nil {
		t.Error(err)
	}
}

// Compare is Check for callers without a testing.TB (a txtar script's
// command): nil when got is the file's content, or with -update once the
// file is rewritten; otherwise an error showing both.
func Compare(path string, got []byte) error {
	if *update {
		return os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(want, got) {
		return fmt.Errorf("%s differs from the output (go test -update rewrites it, then read the diff)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
	return nil
}
