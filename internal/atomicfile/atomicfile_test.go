package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesWholly(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "run.json")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if err != nil || string(b) != "new" || fi.Mode().Perm() != 0o600 {
		t.Errorf("content %q mode %v err %v", b, fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}

// An unwritable folder is an error, never a silent no-op (rollback reads
// what was written).
func TestWriteReportsErrors(t *testing.T) {
	if err := Write(filepath.Join(t.TempDir(), "missing", "backup.json"), []byte("x"), 0o600); err == nil {
		t.Error("no error writing into a missing folder")
	}
}
