//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/testbed"
)

// etcdplayBin is the binary TestMain builds from ./cmd/etcdplay: the tests
// run what a user runs, never the packages behind it.
var etcdplayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "etcdplay-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	etcdplayBin = filepath.Join(dir, "etcdplay")
	if err := build(etcdplayBin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build etcdplay:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build runs `go build -o out ./cmd/etcdplay` from the module root.
func build(out string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd := exec.Command("go", "build", "-o", out, "./cmd/etcdplay")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w\n%s", err, b)
	}
	return nil
}

// Exit codes, from docs/architecture.md (internal/exit).
const (
	exitOK          = 0
	exitInvalid     = 3
	exitUnreachable = 4
	exitPreflight   = 5
	exitStepFailed  = 6
	exitLocked      = 7
)

// operator is one person at one machine with the bed's inventory: their
// own home (no ~/.ssh/config, no agent), a state folder and a backup
// folder, as `etcdplay run ... --state-dir --backup-dir` would use.
type operator struct {
	t         *testing.T
	c         *testbed.Cluster
	inventory string
	home      string
	stateDir  string
	backupDir string
}

func newOperator(t *testing.T, c *testbed.Cluster) *operator {
	t.Helper()
	dir := t.TempDir()
	o := &operator{t: t, c: c, inventory: c.InventoryPath,
		home:      filepath.Join(dir, "home"),
		stateDir:  filepath.Join(dir, "state"),
		backupDir: filepath.Join(dir, "backups")}
	for _, d := range []string{o.home, o.stateDir, o.backupDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// result is one finished etcdplay command.
type result struct {
	args   []string
	code   int
	events []events.Event
	stderr string
	took   time.Duration
}

// etcdplay runs one command to its end: run PLAYBOOK, resume, rollback
// get this operator's inventory, state and backup folders and -o json.
func (o *operator) etcdplay(ctx context.Context, args ...string) *result {
	o.t.Helper()
	return o.watch(ctx, nil, args...)
}

// watch is etcdplay with a look at every event as it arrives: watchFn may
// act on the running process (kill it, drop a connection). The command's
// events, exit code and stderr are logged as a narration of the run.
func (o *operator) watch(ctx context.Context, watchFn func(events.Event, *os.Process), args ...string) *result {
	o.t.Helper()
	args = o.withFlags(args)
	cmd := exec.CommandContext(ctx, etcdplayBin, args...)
	cmd.Env = o.env()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		o.t.Fatal(err)
	}
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	o.t.Logf("$ etcdplay %s", strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		o.t.Fatalf("start etcdplay: %v", err)
	}
	r := &result{args: args}
	var mu sync.Mutex
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e events.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			o.t.Errorf("etcdplay printed a line that is not an event: %q: %v", sc.Text(), err)
			continue
		}
		mu.Lock()
		r.events = append(r.events, e)
		mu.Unlock()
		narrate(o.t, e)
		if watchFn != nil {
			watchFn(e, cmd.Process)
		}
	}
	err = cmd.Wait()
	r.took = time.Since(start)
	r.stderr = stderr.String()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	case errors.As(err, &ee):
		r.code = -1 // killed by a signal
	default:
		o.t.Fatalf("etcdplay %s: %v\n%s", strings.Join(args, " "), err, r.stderr)
	}
	o.t.Logf("etcdplay %s: exit %d after %v", args[0], r.code, r.took.Round(time.Millisecond))
	if r.code != 0 {
		o.t.Logf("its stderr ends:\n%s", lastLines(r.stderr, 12))
	}
	return r
}

// command runs an etcdplay command whose output is not events (plan,
// sudoers, status) with this operator's environment, and returns what it
// printed and its exit code.
func (o *operator) command(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	o.t.Helper()
	cmd := exec.CommandContext(ctx, etcdplayBin, args...)
	cmd.Env = o.env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	o.t.Logf("$ etcdplay %s", strings.Join(args, " "))
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		code = ee.ExitCode()
	default:
		o.t.Fatalf("etcdplay %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	o.t.Logf("etcdplay %s: exit %d", args[0], code)
	return out.String(), errb.String(), code
}

// withFlags adds what every run, upgrade, resume and rollback of this operator
// needs; other commands are passed as they are.
func (o *operator) withFlags(args []string) []string {
	switch args[0] {
	case "run", "resume", "rollback", "upgrade", "restore":
	default:
		return args
	}
	out := append([]string{}, args...)
	return append(out, "-i", o.inventory, "--state-dir", o.stateDir, "--backup-dir", o.backupDir, "-o", "json")
}

// env is a clean operator environment: their own HOME (so no
// ~/.ssh/config or known_hosts of this machine leaks in) and no agent.
func (o *operator) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "SSH_AUTH_SOCK", "NO_COLOR":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+o.home, "NO_COLOR=1")
}

// narrate logs the events a person would follow: steps finishing, failing
// or skipped, warnings and the end of the run.
func narrate(t *testing.T, e events.Event) {
	t.Helper()
	where := e.Member
	if where == "" {
		where = string(e.Phase)
	}
	switch e.Kind {
	case events.StepDone, events.StepSkipped, events.StepFailed:
		t.Logf("  %-9s %2d/%-2d %-14s %-12s %6v  %s", where, e.StepIndex, e.Steps, e.Action, e.Kind,
			e.Duration.Round(time.Millisecond), clip(e.Message, 160))
	case events.Warn, events.RunDone, events.RunFailed, events.Interrupted:
		t.Logf("  %-9s %s: %s", where, e.Kind, clip(e.Message, 300))
	}
}

func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// want fails the test unless the command exited with code.
func (r *result) want(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("etcdplay %s: exit %d, want %d\nstderr:\n%s", strings.Join(r.args, " "), r.code, code, lastLines(r.stderr, 40))
	}
}

// expect is want without stopping the test: what else the run did is
// worth seeing too.
func (r *result) expect(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Errorf("etcdplay %s: exit %d, want %d\nstderr:\n%s", r.args[0], r.code, code, lastLines(r.stderr, 20))
	}
}

// steps returns the events of kind k for member (any member when "") and
// action (any when "").
func (r *result) steps(k events.Kind, member, action string) []events.Event {
	var out []events.Event
	for _, e := range r.events {
		if e.Kind == k && (member == "" || e.Member == member) && (action == "" || e.Action == action) {
			out = append(out, e)
		}
	}
	return out
}

// membersTouched lists the members any member-phase step started on, in
// order of first start.
func (r *result) membersTouched() []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range r.events {
		if e.Kind == events.StepStart && e.Phase == schema.PhaseMembers && !seen[e.Member] {
			seen[e.Member] = true
			out = append(out, e.Member)
		}
	}
	return out
}

// failure is the message of the first step-failed or run-failed event.
func (r *result) failure() string {
	for _, e := range r.events {
		if e.Kind == events.StepFailed || e.Kind == events.RunFailed {
			return e.Message
		}
	}
	return ""
}

// output is everything a person sees: event messages and stderr.
func (r *result) output() string {
	var b strings.Builder
	for _, e := range r.events {
		b.WriteString(e.Message)
		b.WriteByte('\n')
	}
	b.WriteString(r.stderr)
	return b.String()
}
