package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/etcdplay/etcdplay/internal/golden"
	"github.com/etcdplay/etcdplay/sandbox"
	"github.com/etcdplay/etcdplay/testbed"
)

// TestSandboxScripts runs testdata/sandbox/*.txtar: the sandbox, the demo
// and the README's tutorial, against real clusters, with the built
// binary. Each script gets a HOME of its own inside the bed (the bed user
// must be able to walk down to the sandbox folder, which a 0700 t.TempDir
// forbids), so the commands are exactly the ones people type
// (~/.cache/etcdplay/sandbox is the default folder), and the real bed's
// binaries through ETCDPLAY_BED. Clusters take testbed slots, so they run
// beside other packages' clusters.
func TestSandboxScripts(t *testing.T) {
	// The scripts use 3.5 and 3.6 with the built-in SSH server or, as root
	// on a provisioned machine, OpenSSH; unprovisioned, a sandbox would
	// first build etcd from the module proxy for minutes.
	testbed.Require(t, testbed.Binaries("3.5", "3.6"))
	bed := testbed.Dir() // before any HOME changes
	// The README builds with `go build` before the demo: keep the go
	// command's caches where they are, or a new HOME means a cold build.
	goenv, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	gocache := strings.Fields(string(goenv))
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/sandbox",
		UpdateScripts: golden.Update(),
		Setup: func(env *testscript.Env) error {
			parent := filepath.Join(bed, "sandbox-test")
			if err := os.MkdirAll(parent, 0o755); err != nil {
				return fmt.Errorf("%w (is the bed provisioned? testbed/provision.sh)", err)
			}
			home, err := os.MkdirTemp(parent, "home-")
			if err != nil {
				return fmt.Errorf("%w (is the bed provisioned? testbed/provision.sh)", err)
			}
			if err := os.Chmod(home, 0o755); err != nil {
				return err
			}
			env.Setenv("HOME", home)
			env.Setenv("ETCDPLAY_BED", bed)
			env.Setenv("REPO", repo)
			env.Setenv("NO_COLOR", "1")
			if len(gocache) == 3 {
				env.Setenv("GOCACHE", gocache[0])
				env.Setenv("GOMODCACHE", gocache[1])
				env.Setenv("GOPATH", gocache[2])
			}
			env.Setenv("ETCDPLAY_SANDBOX_DIR", "")
			env.Setenv("ETCDPLAY_SANDBOX_SSH", "")
			env.Defer(func() {
				// A script that failed half way leaves its sandbox up.
				dir := filepath.Join(home, ".cache", "etcdplay", "sandbox")
				if _, err := os.Stat(dir); err == nil {
					if _, err := sandbox.Down(context.Background(), dir); err != nil {
						env.T().Log(err)
					}
				}
				os.RemoveAll(home)
			})
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"sandbox-record": cmdSandboxRecord,
			"sandbox-gone":   cmdSandboxGone, // [FILE]
			"interrupt":      cmdInterrupt,
			"pty-answer":     cmdPtyAnswer,
			"run-leftovers":  cmdRunLeftovers, // DIR
		},
	})
}

// run-leftovers DIR prints what a run started in DIR could leave there:
// DIR's own entries and everything under its backups/ and .etcdplay/ (the
// default backup and state folders). A script compares it before and after
// a command, so it holds whatever the caller's folder already held (a
// tutorial run from the repository leaves backups/ behind).
func cmdRunLeftovers(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: run-leftovers DIR")
	}
	dir := ts.MkAbs(args[0])
	entries, err := os.ReadDir(dir)
	ts.Check(err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	for _, sub := range []string{"backups", ".etcdplay"} {
		_ = filepath.WalkDir(filepath.Join(dir, sub), func(p string, _ fs.DirEntry, err error) error {
			if err == nil {
				rel, _ := filepath.Rel(dir, p)
				names = append(names, rel)
			}
			return nil
		})
	}
	slices.Sort(names)
	fmt.Fprintln(ts.Stdout(), strings.Join(names, "\n"))
}

func sandboxDir(ts *testscript.TestScript) string {
	return filepath.Join(ts.Getenv("HOME"), ".cache", "etcdplay", "sandbox")
}

// sandbox-record notes the sandbox's pids and addresses (supervisor,
// members, sshd) for sandbox-gone, and sets $INV to its inventory.
func cmdSandboxRecord(ts *testscript.TestScript, neg bool, args []string) {
	st, err := sandbox.Load(sandboxDir(ts))
	ts.Check(err)
	pids := []string{strconv.Itoa(st.Supervisor)}
	for _, h := range st.Hosts {
		if p := h.MemberPID(); p != 0 {
			pids = append(pids, strconv.Itoa(p))
		}
		if h.SSHDPID != 0 {
			pids = append(pids, strconv.Itoa(h.SSHDPID))
		}
	}
	ts.Setenv("SANDBOX_PIDS", strings.Join(pids, " "))
	ts.Setenv("SANDBOX_ADDRS", strings.Join(st.Addrs(), " "))
	ts.Logf("sandbox %s: ssh %s, slot %d, addresses %s, pids %s", st.Cluster, st.SSH, st.Slot, strings.Join(st.Addrs(), " "), strings.Join(pids, " "))
}

var addrRE = regexp.MustCompile(`\b127\.0\.\d{1,3}\.\d{1,3}\b`)

// sandbox-gone checks that the sandbox left nothing behind: its folder is
// removed, no recorded pid lives, no process runs from the folder, and
// nothing listens on its addresses (recorded, or those the last command
// printed, or those in FILE).
func cmdSandboxGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! sandbox-gone")
	}
	dir := sandboxDir(ts)
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		ts.Fatalf("%s still exists (%v)", dir, err)
	}
	for _, f := range strings.Fields(ts.Getenv("SANDBOX_PIDS")) {
		p, _ := strconv.Atoi(f)
		if testbed.Alive(p) {
			ts.Fatalf("pid %d is still running", p)
		}
	}
	if left := testbed.ProcessesUnder(dir); len(left) > 0 {
		ts.Fatalf("processes still running from %s: %v", dir, left)
	}
	addrs := strings.Fields(ts.Getenv("SANDBOX_ADDRS"))
	if len(addrs) == 0 {
		from := "stdout"
		if len(args) == 1 {
			from = args[0]
		}
		addrs = addrRE.FindAllString(ts.ReadFile(from), -1)
	}
	if len(addrs) == 0 {
		ts.Fatalf("no sandbox addresses recorded or printed")
	}
	// Packages test in parallel: once down freed the slot, another
	// cluster may take it and listen on these addresses. Check while
	// holding the slot; if another cluster got it first, it found the
	// addresses free before using them, which is the same proof.
	var k int
	if _, err := fmt.Sscanf(addrs[0], "127.0.%d.", &k); err != nil {
		ts.Fatalf("address %s is not a bed slot address", addrs[0])
	}
	release, ok, err := testbed.TrySlot(k)
	ts.Check(err)
	if !ok {
		ts.Logf("nothing left: no process; slot %d was already taken by another cluster, which found %s free", k, strings.Join(uniqStrings(addrs), " "))
		return
	}
	defer release()
	ls, err := testbed.Listening(addrs)
	ts.Check(err)
	if len(ls) > 0 {
		ts.Fatalf("still listening: %v", ls)
	}
	ts.Logf("nothing left: no process, nothing listening on %s", strings.Join(uniqStrings(addrs), " "))
}

func uniqStrings(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// interrupt PATTERN CMD ARGS... runs a command as an operator would, and
// presses Ctrl-C (SIGINT) the moment its progress (stderr) matches
// PATTERN. It expects exit status 130 and leaves the output in
// interrupted.stdout and interrupted.stderr.
func cmdInterrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: interrupt PATTERN CMD ARGS...")
	}
	re, err := regexp.Compile(args[0])
	ts.Check(err)
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = append(os.Environ(), "HOME="+ts.Getenv("HOME"), "ETCDPLAY_BED="+ts.Getenv("ETCDPLAY_BED"), "NO_COLOR=1")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	ts.Check(err)
	ts.Check(cmd.Start())
	var stderr strings.Builder
	sent := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			stderr.WriteString(line + "\n")
			if !sent && re.MatchString(line) {
				_ = cmd.Process.Signal(syscall.SIGINT)
				sent = true
			}
		}
	}()
	timer := time.AfterFunc(5*time.Minute, func() { _ = cmd.Process.Kill() })
	<-done // the pipe is read to its end before Wait closes it
	err = cmd.Wait()
	timer.Stop()
	ts.Check(os.WriteFile(ts.MkAbs("interrupted.stdout"), []byte(stdout.String()), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs("interrupted.stderr"), []byte(stderr.String()), 0o644))
	if !sent {
		ts.Fatalf("%q never appeared (exit %v); stderr:\n%s", args[0], err, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		ts.Fatalf("exit %v after Ctrl-C, want 130; stderr:\n%s", err, stderr.String())
	}
}

// pty-answer ANSWERS CMD ARGS... runs CMD with a pseudo-terminal as stdin
// (so `run --pause` may ask) and answers each pause prompt in turn with
// the next of the space-separated ANSWERS, as a person at the keyboard
// would, only once the prompt is on screen. It writes answered.stdout,
// answered.stderr and answered.exit (the exit code) for the script to
// check; it fails only if a prompt comes when no answer is left, or the
// command never ends.
func cmdPtyAnswer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: pty-answer 'ANSWER...' CMD ARGS...")
	}
	answers := strings.Fields(args[0])
	master, slave, err := pty.Open()
	ts.Check(err)
	defer master.Close()
	go func() { _, _ = io.Copy(io.Discard, master) }() // the terminal's echo
	cmd := exec.Command(args[1], args[2:]...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = append(os.Environ(), "HOME="+ts.Getenv("HOME"), "ETCDPLAY_BED="+ts.Getenv("ETCDPLAY_BED"), "NO_COLOR=1")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	cmd.Stdin = slave
	pipe, err := cmd.StderrPipe()
	ts.Check(err)
	ts.Check(cmd.Start())
	slave.Close()
	var stderr strings.Builder
	prompts, extra := 0, false
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		seen := 0 // prompts already answered, counted in stderr
		for {
			n, rerr := pipe.Read(buf)
			stderr.Write(buf[:n])
			for strings.Count(stderr.String(), "? [c/s") > seen {
				if seen >= len(answers) {
					extra = true
					_ = cmd.Process.Signal(syscall.SIGINT)
					break
				}
				fmt.Fprintln(master, answers[seen])
				seen++
			}
			prompts = seen
			if rerr != nil {
				return
			}
		}
	}()
	timer := time.AfterFunc(5*time.Minute, func() { _ = cmd.Process.Kill() })
	<-done
	err = cmd.Wait()
	timer.Stop()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	ts.Check(os.WriteFile(ts.MkAbs("answered.stdout"), []byte(stdout.String()), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs("answered.stderr"), []byte(stderr.String()), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs("answered.exit"), []byte(strconv.Itoa(code)+"\n"), 0o644))
	ts.Logf("answered %d prompts, exit %d", prompts, code)
	if extra {
		ts.Fatalf("a prompt came after the last answer; stderr:\n%s", stderr.String())
	}
}
