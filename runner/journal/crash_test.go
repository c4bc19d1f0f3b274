package journal

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeJournal puts raw bytes in dir's journal, as a crash would leave them.
func writeJournal(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

const (
	line1 = `{"time":"2026-11-21T06:12:00Z","run_id":"r1","kind":"run-start"}`
	line2 = `{"time":"2026-11-21T06:12:01Z","run_id":"r1","kind":"step-start","phase":"members","member":"infra0","step_index":2,"action":"ssh-stop","critical":true}`
	torn  = `{"time":"2026-11-21T06:12:09Z","run_id":"r1","kind":"step-do`
)

func TestReadIgnoresTornLastLine(t *testing.T) {
	for name, content := range map[string]string{
		"cut mid-record":      line1 + "\n" + line2 + "\n" + torn,
		"zeroes after a line": line1 + "\n" + line2 + "\n\x00\x00\x00\x00",
		"cut, then zeroes":    line1 + "\n" + line2 + "\n" + torn + "\x00\x00\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeJournal(t, dir, content)
			recs, warn := mustRead(t, dir)
			if len(recs) != 2 || recs[1].Member != "infra0" || !recs[1].Critical {
				t.Errorf("records %+v", recs)
			}
			if !strings.Contains(warn, "torn last line") || !strings.Contains(warn, FileName+":3") {
				t.Errorf("warning %q should name the torn line 3", warn)
			}
		})
	}
}

func TestReadRefusesDamageBeforeTheEnd(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, line1+"\n"+torn+"\n"+line2+"\n")
	_, _, err := Read(dir)
	if err == nil || !strings.Contains(err.Error(), FileName+":2: damaged record") {
		t.Errorf("err = %v, want a damaged line 2", err)
	}
	if _, err := Open(dir); err == nil {
		t.Error("Open appended to a journal damaged in the middle")
	}
}

func TestReadMissingJournal(t *testing.T) {
	_, _, err := Read(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}

// After a crash tore the last line, the next run opens the journal and
// appends: the torn bytes are cut so the new record is a line of its own,
// and the whole journal reads back clean.
func TestAppendAfterCrashResumesAppending(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, line1+"\n"+line2+"\n"+torn)
	j := mustOpen(t, dir)
	if w := j.Warnings(); len(w) != 1 || !strings.Contains(w[0], "cut off") {
		t.Errorf("warnings %q", w)
	}
	mustAppend(t, j, rec(StepDone, "infra0", 2))
	recs, warn := mustRead(t, dir)
	if warn != "" {
		t.Errorf("warning after repair: %q", warn)
	}
	if len(recs) != 3 || recs[2].Kind != StepDone {
		t.Errorf("records %+v", recs)
	}
}

// A crash exactly between a record and its newline leaves a complete
// record: it is kept, and the newline is added before the next one.
func TestAppendAfterMissingNewline(t *testing.T) {
	dir := t.TempDir()
	writeJournal(t, dir, line1+"\n"+line2)
	if recs, warn := mustRead(t, dir); len(recs) != 2 || warn != "" {
		t.Fatalf("records %d, warning %q", len(recs), warn)
	}
	j := mustOpen(t, dir)
	if len(j.Warnings()) != 0 {
		t.Errorf("warnings %q", j.Warnings())
	}
	mustAppend(t, j, rec(StepDone, "infra0", 2))
	recs, warn := mustRead(t, dir)
	if len(recs) != 3 || warn != "" {
		t.Errorf("records %d, warning %q", len(recs), warn)
	}
}
