package main

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"gopkg.in/yaml.v3"
)

// workflow is the part of a GitHub Actions workflow the test reads.
type workflow struct {
	On struct {
		PullRequest struct {
			Paths []string `yaml:"paths"`
		} `yaml:"pull_request"`
	} `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		Steps []struct {
			Name string `yaml:"name"`
			Uses string `yaml:"uses"`
			Run  string `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// TestCIWorkflowCallsRealCommands: the example workflow (which cannot run
// here) parses, triggers on playbooks and inventories, may comment, and
// every etcdplay command line in it names a command and flags this CLI
// has, with -o markdown only where it is supported.
func TestCIWorkflowCallsRealCommands(t *testing.T) {
	b, err := os.ReadFile("../../examples/ci/etcdplay-review.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("workflow does not parse: %v", err)
	}
	if p := strings.Join(wf.On.PullRequest.Paths, " "); !strings.Contains(p, "playbooks/") || !strings.Contains(p, "inventories/") {
		t.Errorf("pull_request paths %q, want playbooks and inventories", p)
	}
	if wf.Permissions["pull-requests"] != "write" {
		t.Errorf("permissions %v: commenting needs pull-requests: write", wf.Permissions)
	}
	seen := map[string]bool{}
	for _, job := range wf.Jobs {
		for _, st := range job.Steps {
			for _, argv := range etcdplayCalls(st.Run) {
				if err := checkCall(argv); err != nil {
					t.Error(err)
				}
				t.Logf("ok: %s", strings.Join(argv, " "))
				seen[argv[1]] = true
			}
		}
	}
	for _, want := range []string{"validate", "diff", "plan"} {
		if !seen[want] {
			t.Errorf("the workflow never runs etcdplay %s (ran %v)", want, seen)
		}
	}
	// the check itself can fail
	for _, bad := range []string{"etcdplay plann x -i y", "etcdplay plan x -i y --offlin", "etcdplay status -i y -o markdown"} {
		if err := checkCall(strings.Fields(bad)); err == nil {
			t.Errorf("%q passed the check", bad)
		}
	}
	if got := etcdplayCalls("echo 'etcdplay review'\n# etcdplay frob\nx=1 && etcdplay list"); len(got) != 1 || got[0][1] != "list" {
		t.Errorf("calls %q, want only etcdplay list", got)
	}
}

// shellStop ends a command's words: redirections, pipes, lists.
var shellStop = regexp.MustCompile(`^(\d?>>?|\|\|?|&&|;|2>&1|\))$`)

// commandStart are the words after which a shell command begins.
var commandStart = map[string]bool{"!": true, "if": true, "then": true, "do": true, "||": true, "&&": true, ";": true, "|": true, "else": true}

// etcdplayCalls finds the etcdplay command lines in a run script, each as
// its words (quotes removed, shell operators cut off).
func etcdplayCalls(script string) [][]string {
	script = strings.ReplaceAll(script, "\\\n", " ")
	var out [][]string
	for _, line := range strings.Split(script, "\n") {
		words := strings.Fields(line)
		for i, w := range words {
			if strings.Trim(w, `"'`) != "etcdplay" || (i > 0 && !commandStart[words[i-1]]) {
				continue // not a command: a word of an echo, a comment
			}
			var argv []string
			for _, a := range words[i:] {
				if shellStop.MatchString(a) || strings.HasPrefix(a, ">") || strings.HasPrefix(a, "2>") {
					break
				}
				argv = append(argv, strings.Trim(a, `"'`))
			}
			if len(argv) > 1 {
				out = append(out, argv)
			}
		}
	}
	return out
}

// checkCall says whether argv names a command of this CLI with flags it
// has.
func checkCall(argv []string) error {
	line := strings.Join(argv, " ")
	root := newRoot(io.Discard, io.Discard)
	cmd, rest, err := root.Find(argv[1:])
	if err != nil || cmd == root {
		return fmt.Errorf("%q: no such command (%v)", line, err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return fmt.Errorf("%q: %v", line, err)
	}
	if o, _ := cmd.Flags().GetString("output"); o == "markdown" && !markdownCommands[cmd.Name()] {
		return fmt.Errorf("%q: %s has no -o markdown", line, cmd.Name())
	}
	return nil
}

// ci-step WORKFLOW NAME FILE writes the run script of the workflow's step
// called NAME to FILE, so a script can run it as the CI runner would.
func cmdCIStep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: ci-step WORKFLOW NAME FILE")
	}
	var wf workflow
	ts.Check(yaml.Unmarshal([]byte(ts.ReadFile(args[0])), &wf))
	for _, job := range wf.Jobs {
		for _, st := range job.Steps {
			if st.Name == args[1] {
				ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(st.Run), 0o644))
				return
			}
		}
	}
	ts.Fatalf("no step %q in %s", args[1], args[0])
}
