package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	xssh "golang.org/x/crypto/ssh"

	"github.com/etcdplay/etcdplay/internal/shell"
)

// Command is one remote command.
type Command struct {
	// Argv is the program and its arguments. Every word is shell-quoted, so
	// values from an inventory or a playbook stay single, inert arguments.
	Argv []string
	// Script is POSIX sh text run as it is. It is the escape hatch for
	// commands a playbook author wrote (ssh-run, service commands): reviewed
	// code, never a place for inventory values. Set Argv or Script, not both.
	Script string
	// Env is exported to the command (names must be shell identifiers;
	// values are quoted).
	Env map[string]string
	// Stdin feeds the command; nil means no input.
	Stdin io.Reader
	// Privileged marks a command that needs root on hosts where the
	// inventory says ssh.sudo: it then runs as exactly "sudo -n ARGV...",
	// one program with its arguments and no shell, so a sudoers rule can
	// name it (docs/production.md). It must be an Argv command without
	// Env (sudo resets the environment). Everything else runs as the
	// login user.
	Privileged bool
}

// String is the command as shown in messages (its first line for a script).
func (c Command) String() string {
	s := c.Script
	if len(c.Argv) > 0 {
		s = shell.Join(c.Argv...)
	}
	if first, _, ok := strings.Cut(s, "\n"); ok {
		s = first + " ..."
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// Result is what a finished command left behind. A non-zero ExitStatus is
// not a Go error: callers decide what it means.
type Result struct {
	ExitStatus int
	Signal     string // set when the command died of a signal
	Stdout     []byte
	Stderr     []byte
	Duration   time.Duration
}

// ConnectionLostError is a connection that dropped while a command was in
// flight. The command may or may not have run; it is never re-run blindly.
type ConnectionLostError struct {
	Host    string
	Command string
	Err     error
}

func (e *ConnectionLostError) Error() string {
	return fmt.Sprintf("ssh %s: connection lost during %s; the command may or may not have run (%v)", e.Host, e.Command, e.Err)
}

func (e *ConnectionLostError) Unwrap() error { return e.Err }

// Hint for a lost connection.
func (e *ConnectionLostError) Hint() string {
	return "check the host's state before continuing; 'etcdplay resume' re-checks the cluster first"
}

// SudoError is a sudo that cannot run without a password (or at all).
type SudoError struct {
	Host    string
	Command string
	Stderr  string
}

func (e *SudoError) Error() string {
	return fmt.Sprintf("ssh %s: sudo refused to run %s: %s", e.Host, e.Command, strings.TrimSpace(e.Stderr))
}

// Hint says how to make sudo work non-interactively.
func (e *SudoError) Hint() string {
	return "etcdplay runs 'sudo -n PROGRAM ARGS' and never types a password or a shell: allow the login user exactly the lines 'etcdplay sudoers -i INVENTORY' prints (NOPASSWD), or connect as a user that needs no sudo and set ssh.sudo: false"
}

var sudoRefusal = regexp.MustCompile(`(?m)^sudo: (a password is required|a terminal is required|no tty present|.*is not in the sudoers file|.*is not allowed to execute|.*may not run sudo)`)
var sudoMissing = regexp.MustCompile(`sudo: (command )?not found`)

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// killSwitch makes a command die with its session. sshd makes each
// session's shell a process group leader; a watcher in that group waits for
// EOF on the session's stdin, which arrives when the client closes the
// session (cancel) or the connection is lost, and then kills the whole
// group. When the shell ends normally its EXIT trap kills the watcher
// first, so daemons the command left in the group keep running. The signal
// request alone is not enough: sshd before 8.1 ignores it, and when the
// connection itself is lost (etcdplay killed, network gone) nobody can send
// one; without a pty sshd then leaves the command running.
//
// It runs in the login shell itself (no extra sh -c), so a command costs
// one fork more than with plain ssh: the watcher.
const killSwitch = `exec 3<&0 </dev/null
( while read -r _; do :; done <&3; kill -KILL 0 ) >/dev/null 2>&1 &
w=$!
trap 'kill -KILL $w 2>/dev/null' EXIT
`

// testNoSignal makes cancel skip the signal request, as with an sshd that
// does not support it, so tests can prove the kill switch alone works.
var testNoSignal bool

// remoteLine builds the exact text sent in the exec request. The remote
// login shell must be a POSIX shell (sh, bash, dash, ksh, zsh).
func (c *Client) remoteLine(cmd Command) (string, bool, error) {
	if (len(cmd.Argv) == 0) == (cmd.Script == "") {
		return "", false, errors.New("a command needs exactly one of Argv or Script")
	}
	sudo := cmd.Privileged && c.cfg.Sudo
	if sudo {
		// Never a shell under sudo: only a rule allowing a shell (that is,
		// full root) would let it run.
		if cmd.Script != "" {
			return "", false, fmt.Errorf("refusing to run a shell script under sudo (%s): privileged commands are one program with its arguments", cmd)
		}
		if len(cmd.Env) > 0 {
			return "", false, fmt.Errorf("refusing to pass environment through sudo to %s: sudo resets it", cmd)
		}
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(cmd.Env)) {
		if !envName.MatchString(k) {
			return "", false, fmt.Errorf("environment name %q is not a shell identifier", k)
		}
		fmt.Fprintf(&b, "export %s=%s\n", k, shell.Quote(cmd.Env[k]))
	}
	if cmd.Stdin == nil {
		// With Stdin the session's stdin carries data and cannot be the
		// kill switch; such commands (uploads) end on EOF by themselves.
		b.WriteString(killSwitch)
	}
	switch {
	case sudo:
		// The kill switch stays in the login shell and sudo runs the one
		// program, exactly as a sudoers rule names it. A cancelled
		// privileged command is not killed (root's process is out of the
		// login user's reach): privileged commands are short (install, mv)
		// or bounded by the service manager (start, stop).
		b.WriteString(shell.Join(append([]string{"sudo", "-n"}, cmd.Argv...)...))
	case len(cmd.Argv) > 0:
		b.WriteString(shell.Join(cmd.Argv...))
	default:
		// A subshell, so that exit or exec in the script cannot skip the
		// trap; eval of one quoted word, so the script parses on its own.
		b.WriteString("( eval " + shell.Quote(cmd.Script) + " )")
	}
	line := b.String()
	return line, sudo, nil
}

// Run runs cmd and waits for it. Errors are transport failures (with the
// host named), a refused sudo (*SudoError), a connection lost mid-command
// (*ConnectionLostError) or ctx ending, in which case the remote command is
// killed and Run returns at once.
func (c *Client) Run(ctx context.Context, cmd Command) (Result, error) {
	line, sudo, err := c.remoteLine(cmd)
	if err != nil {
		return Result{}, fmt.Errorf("ssh %s: %w", c.t, err)
	}
	sess, cn, err := c.session(ctx)
	if err != nil {
		return Result{}, err
	}
	defer sess.Close()
	var stdout, stderr syncBuffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	var stdin io.WriteCloser
	if cmd.Stdin != nil {
		sess.Stdin = cmd.Stdin
	} else if stdin, err = sess.StdinPipe(); err != nil {
		return Result{}, fmt.Errorf("ssh %s: %w", c.t, err)
	}
	start := time.Now()
	result := func() Result {
		return Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Duration: time.Since(start)}
	}
	if err := sess.Start(line); err != nil {
		if cn.isDead() {
			return result(), &ConnectionLostError{Host: c.t.String(), Command: cmd.String(), Err: err}
		}
		return result(), fmt.Errorf("ssh %s: start %s: %w", c.t, cmd, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		if !testNoSignal {
			sess.Signal(xssh.SIGKILL) // OpenSSH 8.1+ kills the process group
		}
		if stdin != nil {
			stdin.Close()
		}
		sess.Close()
		select { // give the channel a moment to close, for the output so far
		case <-done:
		case <-time.After(time.Second):
		}
		return result(), fmt.Errorf("ssh %s: %s: %w (remote command killed)", c.t, cmd, ctx.Err())
	}
	if stdin != nil {
		stdin.Close()
	}
	res := result()
	var exit *xssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.ExitStatus = exit.ExitStatus()
		res.Signal = exit.Signal()
	default:
		// No exit status: the channel died with the connection (or sshd
		// could not report one). Either way the command's fate is unknown.
		select {
		case <-cn.dead:
			err = cn.deadErr
		case <-time.After(500 * time.Millisecond):
		}
		return res, &ConnectionLostError{Host: c.t.String(), Command: cmd.String(), Err: err}
	}
	if sudo && res.ExitStatus != 0 {
		if (res.ExitStatus == 1 && sudoRefusal.Match(res.Stderr)) || (res.ExitStatus == 127 && sudoMissing.Match(res.Stderr)) {
			return res, &SudoError{Host: c.t.String(), Command: cmd.String(), Stderr: string(res.Stderr)}
		}
	}
	return res, nil
}

// syncBuffer is written by the session's copy goroutines and read by Run,
// possibly while a cancelled command is still being torn down.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}
