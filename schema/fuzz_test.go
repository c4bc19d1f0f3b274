package schema_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// seeds adds the shipped playbooks, the examples and the broken corpus, so
// the fuzzer starts from files that reach deep into the decoders.
func seeds(f *testing.F, globs ...string) {
	for _, g := range globs {
		files, _ := filepath.Glob(g)
		for _, file := range files {
			if src, err := os.ReadFile(file); err == nil {
				f.Add(src)
			}
		}
	}
}

// checkLoadError: whatever the input, loading never panics, and a failure
// is an ErrorList whose every entry has a real position and renders.
func checkLoadError(t *testing.T, err error) {
	if err == nil {
		return
	}
	var list schema.ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error is not a non-empty ErrorList: %T %v", err, err)
	}
	for _, e := range list {
		if e.Line < 1 || e.Col < 1 || e.File != "fuzz.yaml" || e.Msg == "" {
			t.Fatalf("badly positioned error: %+v", e)
		}
	}
	_ = list.Format()
}

func FuzzLoadPlaybook(f *testing.F) {
	seeds(f, "../playbooks/*.yaml", "testdata/invalid/pb-*.yaml")
	f.Add([]byte("playbook: x\nfrom: \"3.4\"\nto: \"3.5\"\nmembers:\n  steps:\n    - wait: {for: healthy}\n      when: 'semver(member.server) >= semver(\"3.4.0\")'\n"))
	reg := steps.Default()
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := schema.LoadPlaybook("fuzz.yaml", src, reg)
		checkLoadError(t, err)
		if err == nil && p == nil {
			t.Fatal("no error and no playbook")
		}
	})
}

func FuzzLoadInventory(f *testing.F) {
	seeds(f, "../examples/*.yaml", "testdata/invalid/inv-*.yaml")
	f.Fuzz(func(t *testing.T, src []byte) {
		inv, err := schema.LoadInventory("fuzz.yaml", src)
		checkLoadError(t, err)
		if err == nil && inv == nil {
			t.Fatal("no error and no inventory")
		}
	})
}
