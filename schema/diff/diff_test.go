package diff

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/etcdplay/etcdplay/internal/golden"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

func load(t *testing.T, file string) *schema.Playbook {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := schema.LoadPlaybook(file, src, steps.Default())
	if err != nil {
		t.Fatal(err)
	}
	return pb
}

// TestCompareGolden: old.yaml is the shipped 3.4-to-3.5 playbook; new.yaml
// adds a preflight check, removes a finish step, changes arguments, a
// guard, retries and a timeout, renames a rollback step and flips a var.
// Insertion must not shift every later step into a change.
func TestCompareGolden(t *testing.T) {
	newPb := load(t, "testdata/new.yaml")
	changes := Compare(load(t, "testdata/old.yaml"), newPb)
	var text, js bytes.Buffer
	if err := WriteText(&text, changes); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&js, changes); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "changes.txt"), text.Bytes())
	var md bytes.Buffer
	if err := WriteMarkdown(&md, Header{Old: "testdata/old.yaml", New: "testdata/new.yaml", Guide: newPb.Guide}, changes); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "changes.md"), md.Bytes())
	golden.Check(t, filepath.Join("testdata", "changes.json"), js.Bytes())
	kinds := map[Kind]int{}
	for _, c := range changes {
		kinds[c.Kind]++
	}
	if kinds[Added] != 1 || kinds[Removed] != 1 {
		t.Errorf("kinds %v, want exactly one added and one removed step", kinds)
	}
}

func TestSamePlaybookHasNoChanges(t *testing.T) {
	a, b := load(t, "testdata/old.yaml"), load(t, "testdata/old.yaml")
	if c := Compare(a, b); len(c) != 0 {
		t.Errorf("changes %+v", c)
	}
	var js bytes.Buffer
	WriteJSON(&js, nil)
	if js.String() != "{\n  \"same\": true,\n  \"changes\": []\n}\n" {
		t.Errorf("json %q", js.String())
	}
}

// Steps that move as a block keep their identity.
func TestReorderedStepIsRemovedAndAdded(t *testing.T) {
	a := load(t, "testdata/old.yaml")
	b := load(t, "testdata/old.yaml")
	b.Finish[0], b.Finish[2] = b.Finish[2], b.Finish[0]
	changes := Compare(a, b)
	if len(changes) == 0 {
		t.Fatal("a reorder shows no change")
	}
	for _, c := range changes {
		if c.Phase != "finish" {
			t.Errorf("change outside finish: %+v", c)
		}
	}
}
