package ssh

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
)

func TestRunCapturesExitStatusAndOutput(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t)
	res, err := c.Run(ctx(t), Command{Argv: []string{"sh", "-c", "printf out; printf err >&2; exit 7"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitStatus != 7 || string(res.Stdout) != "out" || string(res.Stderr) != "err" || res.Duration <= 0 {
		t.Fatalf("got %+v", res)
	}
	res, err = c.Run(ctx(t), Command{Argv: []string{"cat"}, Stdin: strings.NewReader("fed on stdin")})
	if err != nil || string(res.Stdout) != "fed on stdin" {
		t.Fatalf("stdin: %q %v", res.Stdout, err)
	}
	res, err = c.Run(ctx(t), Command{Script: `printf '%s' "$A"`, Env: map[string]string{"A": "x; touch pwned"}})
	if err != nil || string(res.Stdout) != "x; touch pwned" {
		t.Fatalf("env: %q %v", res.Stdout, err)
	}
	if _, err := c.Run(ctx(t), Command{Argv: []string{"true"}, Env: map[string]string{"A;B": "x"}}); err == nil {
		t.Fatal("a bad environment name was accepted")
	}
}

// Every Argv word reaches the program as one inert argument.
func TestArgvIsInert(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t)
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned")
	words := []string{dir + "; touch " + pwned, "$(touch " + pwned + ")", "`touch " + pwned + "`",
		"' ; touch " + pwned + " ; '", "a\ntouch " + pwned, "*", "", "-n"}
	res, err := c.Run(ctx(t), Command{Argv: append([]string{"printf", `%s\0`}, words...)})
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	got := strings.Split(strings.TrimSuffix(string(res.Stdout), "\x00"), "\x00")
	if strings.Join(got, "|") != strings.Join(words, "|") {
		t.Fatalf("argv changed on the way:\n got %q\nwant %q", got, words)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("an argument ran as a command")
	}
}

func TestConnectionReusedAcrossCommands(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t)
	before := f.srv.AuthAttempts.Load()
	for i := 0; i < 5; i++ {
		if _, err := c.Run(ctx(t), Command{Argv: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
	}
	if f.srv.AuthAttempts.Load() != before {
		t.Fatal("commands logged in again instead of sharing the connection")
	}
}

func TestDroppedConnectionReconnects(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t)
	if _, err := c.Run(ctx(t), Command{Argv: []string{"true"}}); err != nil {
		t.Fatal(err)
	}
	f.srv.DropConnections()
	res, err := c.Run(ctx(t), Command{Argv: []string{"echo", "again"}})
	if err != nil || string(res.Stdout) != "again\n" {
		t.Fatalf("after a drop: %q %v", res.Stdout, err)
	}

	t.Run("host key verified again", func(t *testing.T) {
		f.srv.DropConnections()
		os.WriteFile(f.knownHosts, nil, 0o600)
		_, err := c.Run(ctx(t), Command{Argv: []string{"true"}})
		var u *UnknownHostKeyError
		if !errors.As(err, &u) {
			t.Fatalf("the reconnect skipped host key verification: %v", err)
		}
	})
}

func TestDropDuringCommandIsNotRetried(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t)
	marks := filepath.Join(t.TempDir(), "marks")
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx(t), Command{Script: "echo ran >> " + marks + "; sleep 5"})
		done <- err
	}()
	eventually(t, 5*time.Second, "command started", func() bool { _, err := os.Stat(marks); return err == nil })
	f.srv.DropConnections()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not notice the dropped connection")
	}
	var lost *ConnectionLostError
	if !errors.As(err, &lost) || !strings.Contains(err.Error(), "may or may not have run") {
		t.Fatalf("want ConnectionLostError, got %v", err)
	}
	if b, _ := os.ReadFile(marks); string(b) != "ran\n" {
		t.Fatalf("the command ran %d times", strings.Count(string(b), "ran"))
	}
	if _, err := c.Run(ctx(t), Command{Argv: []string{"true"}}); err != nil {
		t.Fatalf("next command after the drop: %v", err)
	}
}

func TestCancelKillsRemoteCommand(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	cctx, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	// The pid is of a grandchild, sleeping inside a compound command.
	_, err := c.Run(cctx, Command{Argv: []string{"sh", "-c", `sh -c 'echo $$ > "$1"; exec sleep 300' x "$0"; echo never`, pidFile}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Run took %s to return after its deadline", d)
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid == 0 {
		t.Fatal("no pid recorded")
	}
	eventually(t, 5*time.Second, "remote sleep still alive", func() bool { return !alive(pid) })
	eventually(t, 5*time.Second, "session still open on the server", func() bool { return f.srv.Sessions.Load() == 0 })
}

// alive reports whether pid runs (a zombie awaiting its reaper is dead).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// A daemon that a finished command left behind keeps running: the kill
// switch is only for cancelled or orphaned commands.
func TestFinishedCommandLeavesDaemonsAlone(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	res, err := c.Run(ctx(t), Command{Script: "sleep 30 </dev/null >/dev/null 2>&1 & echo $! > " + pidFile})
	if err != nil || res.ExitStatus != 0 {
		t.Fatal(err, res)
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	time.Sleep(300 * time.Millisecond)
	if !alive(pid) {
		t.Fatal("the background process died with its session")
	}
	syscallKill(pid)
}

func TestKeepaliveDetectsSilentPeer(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.cfg.KeepAliveInterval = 100 * time.Millisecond
	f.cfg.KeepAliveTimeout = 300 * time.Millisecond
	c := f.dial(t)
	time.Sleep(350 * time.Millisecond) // several answered keepalives
	c.mu.Lock()
	first := c.conn
	c.mu.Unlock()
	if first.isDead() {
		t.Fatalf("a live peer was declared dead: %v", first.deadErr)
	}
	f.srv.SetSilent(true)
	eventually(t, 3*time.Second, "silent peer not detected", first.isDead)
	if !strings.Contains(first.deadErr.Error(), "keepalive") {
		t.Fatalf("closed for another reason: %v", first.deadErr)
	}
	f.srv.SetSilent(false)
	if _, err := c.Run(ctx(t), Command{Argv: []string{"true"}}); err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
}

func TestSudoWithoutPasswordFailsFast(t *testing.T) {
	// A fake sudo on the server's PATH answers like sudo -n does when a
	// password would be needed.
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "sudo"), []byte("#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n"), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	f := newFixture(t, fixtureOpts{})
	f.cfg.Sudo = true
	c := f.dial(t)
	_, err := c.Run(ctx(t), Command{Argv: []string{"systemctl", "stop", "etcd"}, Privileged: true})
	var se *SudoError
	if !errors.As(err, &se) || !strings.Contains(exit.Format(err), "NOPASSWD") || !strings.Contains(exit.Format(err), "etcdplay sudoers") {
		t.Fatalf("want SudoError with advice, got %v", err)
	}
	// A command that is not privileged runs as the login user.
	if res, err := c.Run(ctx(t), Command{Argv: []string{"true"}}); err != nil || res.ExitStatus != 0 {
		t.Fatal(err, res)
	}
}

func TestRemoteLine(t *testing.T) {
	c := &Client{cfg: Config{Sudo: true}}
	line, sudo, err := c.remoteLine(Command{Argv: []string{"/usr/bin/mv", "-f", "/var/lib/etcd; touch pwned", "b"}, Privileged: true})
	if err != nil || !sudo || !strings.HasSuffix(line, "\nsudo -n /usr/bin/mv -f '/var/lib/etcd; touch pwned' b") || !strings.Contains(line, "kill -KILL 0") {
		t.Fatalf("privileged argv: %q %v %v", line, err, sudo)
	}
	// Only privileged commands go through sudo, and never as a shell.
	if line, sudo, err := c.remoteLine(Command{Argv: []string{"sha256sum", "x"}}); err != nil || sudo || strings.Contains(line, "sudo") {
		t.Fatalf("unprivileged argv: %q %v %v", line, err, sudo)
	}
	if _, _, err := c.remoteLine(Command{Script: "systemctl stop etcd && rm -rf /", Privileged: true}); err == nil || !strings.Contains(err.Error(), "shell") {
		t.Fatalf("a script under sudo was accepted: %v", err)
	}
	if _, _, err := c.remoteLine(Command{Argv: []string{"x"}, Env: map[string]string{"A": "b"}, Privileged: true}); err == nil {
		t.Fatal("environment under sudo was accepted")
	}
	// Without ssh.sudo a privileged command runs as the login user.
	plain := &Client{cfg: Config{}}
	if line, sudo, err := plain.remoteLine(Command{Argv: []string{"systemctl", "stop", "etcd"}, Privileged: true}); err != nil || sudo || strings.Contains(line, "sudo") {
		t.Fatalf("sudo off: %q %v %v", line, err, sudo)
	}
	if _, _, err := c.remoteLine(Command{}); err == nil {
		t.Fatal("empty command accepted")
	}
	if _, _, err := c.remoteLine(Command{Argv: []string{"x"}, Script: "y"}); err == nil {
		t.Fatal("Argv and Script together accepted")
	}
}

// A script may exit or exec; the daemon-safe cleanup and the exit status
// must survive both.
func TestScriptExitAndExec(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t)
	for script, want := range map[string]int{"exit 5": 5, "exec sh -c 'exit 6'": 6, "false": 1, "case x in x) exit 7;; esac": 7} {
		res, err := c.Run(ctx(t), Command{Script: script})
		if err != nil || res.ExitStatus != want {
			t.Errorf("%q: exit %d, want %d (%v)", script, res.ExitStatus, want, err)
		}
	}
}

// A host that accepts TCP but never speaks SSH must not hang the run.
func TestDialTimeoutOnMuteHost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	f := newFixture(t, fixtureOpts{})
	f.cfg.Port = ln.Addr().(*net.TCPAddr).Port
	f.cfg.ConnectTimeout = 300 * time.Millisecond
	start := time.Now()
	_, err = Dial(ctx(t), f.cfg)
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("dial to a mute host: %v after %s", err, time.Since(start))
	}
	if !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("error does not name the host: %v", err)
	}
}

// Through a pass-through sudo (checks that it is called as "sudo -n
// PROGRAM ..."), privileged commands run one program with its arguments;
// scripts and uploads never go through sudo.
func TestThroughSudo(t *testing.T) {
	bin := t.TempDir()
	log := filepath.Join(bin, "calls")
	os.WriteFile(filepath.Join(bin, "sudo"), []byte("#!/bin/sh\necho \"sudo $*\" >> "+log+"\n[ \"$1\" = -n ] || { echo 'sudo: bad call' >&2; exit 99; }\nshift\ncase \"$1\" in sh|bash|*/sh|*/bash) echo 'sudo: a shell' >&2; exit 98;; esac\nexec \"$@\"\n"), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	f := newFixture(t, fixtureOpts{})
	f.cfg.Sudo = true
	c := f.dial(t)
	res, err := c.Run(ctx(t), Command{Argv: []string{"printf", "%s", "a b; c"}, Privileged: true})
	if err != nil || string(res.Stdout) != "a b; c" {
		t.Fatalf("argv: %q %v", res.Stdout, err)
	}
	res, err = c.Run(ctx(t), Command{Script: "echo \"$X\"; exit 3", Env: map[string]string{"X": "it's"}})
	if err != nil || string(res.Stdout) != "it's\n" || res.ExitStatus != 3 {
		t.Fatalf("script: %+v %v", res, err)
	}
	local := filepath.Join(t.TempDir(), "bin")
	want := writeRandom(t, local, 200<<10, 0o700)
	dst := filepath.Join(t.TempDir(), "bin")
	if err := c.Upload(ctx(t), local, dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, want) {
		t.Fatal("upload differs")
	}
	calls, _ := os.ReadFile(log)
	if string(calls) != "sudo -n printf %s a b; c\n" {
		t.Fatalf("sudo calls: %q, want exactly the one privileged printf", calls)
	}
}
