package main

import (
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the txtar scripts run the real etcdplay binary: testscript
// re-executes this test binary as "etcdplay", entering main.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"etcdplay": main})
}

// TestScripts runs testdata/script/*.txtar. $REPO is the module root, so
// scripts can use the shipped playbooks, examples and goldens as they are.
func TestScripts(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", repo)
			env.Setenv("HOME", env.WorkDir)
			return nil
		},
	})
}
