package schema_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/internal/golden"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// load loads src as what it looks like, the way `etcdplay validate` does.
func load(name string, src []byte) error {
	_, _, err := schema.LoadFile(name, src, steps.Default())
	return err
}

// TestInvalidCorpus loads every broken file in testdata/invalid and checks
// that it fails with positioned messages exactly as its .err golden says.
func TestInvalidCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) < 25 {
		t.Fatalf("the broken corpus has %d files, want at least 25", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			err = load(f, src)
			var list schema.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("loaded without error (%v); every corpus file must be rejected", err)
			}
			for _, e := range list {
				if e.File != f || e.Line < 1 || e.Col < 1 || e.Msg == "" {
					t.Errorf("badly positioned error: %+v", e)
				}
			}
			golden.Check(t, strings.TrimSuffix(f, ".yaml")+".err", []byte(list.Format()))
		})
	}
}

// TestShippedAndExamplesLoad: the shipped playbooks and example inventories
// load clean.
func TestShippedAndExamplesLoad(t *testing.T) {
	files, _ := filepath.Glob("../playbooks/*.yaml")
	more, _ := filepath.Glob("../examples/*.yaml")
	files = append(files, more...)
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := load(f, src); err != nil {
			var list schema.ErrorList
			if errors.As(err, &list) {
				t.Errorf("%s:\n%s", f, list.Format())
			} else {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
}

// A file over MaxFileSize is refused at 1:1 before any parsing.
func TestFileSizeLimit(t *testing.T) {
	src := []byte("cluster: big\n# " + strings.Repeat("x", schema.MaxFileSize) + "\n")
	err := load("big.yaml", src)
	var list schema.ErrorList
	if !errors.As(err, &list) || len(list) != 1 || list[0].Line != 1 || !strings.Contains(list[0].Msg, "over the 1048576-byte limit") {
		t.Fatalf("got %v", err)
	}
}
