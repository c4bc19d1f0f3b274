package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"testing"
)

// TestValidateBrokenCorpus is the done-criterion through the CLI:
// every file of the broken corpus makes `etcdplay validate` exit 3 with at
// least one file:line:col message, and the shipped files exit 0.
func TestValidateBrokenCorpus(t *testing.T) {
	files, _ := filepath.Glob("../../schema/testdata/invalid/*.yaml")
	if len(files) < 25 {
		t.Fatalf("corpus has %d files", len(files))
	}
	for _, f := range files {
		var out, errb bytes.Buffer
		code := run([]string{"validate", f}, &out, &errb)
		pos := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(f) + `:[1-9][0-9]*:[1-9][0-9]*: \S`)
		if code != 3 || !pos.Match(errb.Bytes()) {
			t.Errorf("%s: exit %d, stderr:\n%s", f, code, errb.String())
		}
	}
	shipped, _ := filepath.Glob("../../playbooks/*.yaml")
	examples, _ := filepath.Glob("../../examples/*.yaml")
	var out, errb bytes.Buffer
	if code := run(append([]string{"validate"}, append(shipped, examples...)...), &out, &errb); code != 0 {
		t.Errorf("shipped files: exit %d\n%s", code, errb.String())
	}
}
