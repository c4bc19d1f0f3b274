package main

import (
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/etcdplay/etcdplay/internal/golden"
)

// TestMain lets the txtar scripts run the real etcdplay binary: testscript
// re-executes this test binary as "etcdplay", entering main.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"etcdplay": main})
}

// TestScripts runs testdata/script/*.txtar. $REPO is the module root, so
// scripts can use the shipped playbooks, examples and goldens as they are.
// With -update (package golden's flag), a failing `cmp` against a file in
// the script's own archive rewrites the script, and `golden` rewrites the
// golden file it names.
func TestScripts(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: golden.Update(),
		Setup: func(env *testscript.Env) error {
			env.Setenv("REPO", repo)
			env.Setenv("HOME", env.WorkDir)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"golden":  cmdGolden,
			"ci-step": cmdCIStep,
		},
	})
}

// golden stdout|stderr|FILE GOLDEN compares like cmp, through package
// golden: with -update it rewrites GOLDEN (a golden file of the repository,
// often one another package's tests share) instead.
func cmdGolden(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: golden stdout|stderr|FILE GOLDEN")
	}
	ts.Check(golden.Compare(ts.MkAbs(args[1]), []byte(ts.ReadFile(args[0]))))
}
