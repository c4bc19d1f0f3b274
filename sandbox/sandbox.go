package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/etcdplay/etcdplay/testbed"
)

// SSH modes: who answers on each host's port 2222.
const (
	SSHAuto    = "auto"
	SSHOpenSSH = "openssh" // OpenSSH's sshd as the bed runs it (root, the etcdtest user)
	SSHBuiltin = "builtin" // sshserver, in the supervisor, as the current user
)

// Options describe the sandbox Up starts.
type Options struct {
	// Dir is the sandbox folder (default DefaultDir()).
	Dir string
	// Version is a version or role from testbed/versions.txt (default
	// "3.5").
	Version string
	// Members is the number of members (default 3).
	Members int
	// SSH is auto (default; also $ETCDPLAY_SANDBOX_SSH), openssh or builtin.
	SSH string
	// Also lists more versions to have in the cache and in the
	// inventory's releases (the demo's upgrade target). The next minor
	// after Version, when versions.txt has one, is always added, so the
	// shipped playbook from Version runs as the printed next steps say.
	Also []string
	// Executable is the etcdplay binary the supervisor runs (default
	// os.Executable()); Arg0 its argv[0] (default os.Args[0]).
	Executable, Arg0 string
	// Progress receives the steps (nil: quiet).
	Progress *Progress
	// Timeout bounds the wait for the cluster (default 3 min).
	Timeout time.Duration
}

// ErrExists is returned by Up when the folder already holds a sandbox.
var ErrExists = errors.New("a sandbox already exists")

// ChooseSSH resolves the SSH mode: OpenSSH when asked, or when auto and
// this is root with /usr/sbin/sshd and the bed user (testbed/provision.sh
// made the machine a bed); the built-in server otherwise. It says why.
func ChooseSSH(mode string) (string, string, error) {
	if mode == "" {
		mode = os.Getenv("ETCDPLAY_SANDBOX_SSH")
	}
	if mode == "" {
		mode = SSHAuto
	}
	root := os.Geteuid() == 0
	_, sshdErr := os.Stat("/usr/sbin/sshd")
	_, userErr := user.Lookup(testbed.User)
	switch mode {
	case SSHBuiltin:
		return SSHBuiltin, "asked for", nil
	case SSHOpenSSH:
		switch {
		case !root:
			return "", "", errors.New("--ssh openssh needs root (sshd switches to the bed user); use --ssh builtin")
		case sshdErr != nil:
			return "", "", errors.New("--ssh openssh needs /usr/sbin/sshd (apt-get install openssh-server); use --ssh builtin")
		case userErr != nil:
			return "", "", fmt.Errorf("--ssh openssh needs the user %s: run testbed/provision.sh as root, or use --ssh builtin", testbed.User)
		}
		return SSHOpenSSH, "asked for", nil
	case SSHAuto:
		switch {
		case !root:
			return SSHBuiltin, "not root", nil
		case sshdErr != nil:
			return SSHBuiltin, "no /usr/sbin/sshd", nil
		case userErr != nil:
			return SSHBuiltin, "no user " + testbed.User + " (testbed/provision.sh makes one)", nil
		}
		return SSHOpenSSH, "root, /usr/sbin/sshd and user " + testbed.User + " present", nil
	}
	return "", "", fmt.Errorf("ssh mode %q: want auto, openssh or builtin", mode)
}

// Versions is what Up puts in the cache for version: itself, the next
// minor's pinned version when versions.txt has one, and also.
func Versions(version string, also []string) ([]string, error) {
	v, err := testbed.Resolve(version)
	if err != nil {
		return nil, err
	}
	out := []string{v}
	if next := nextMinor(v); next != "" {
		if nv, err := testbed.Resolve(next); err == nil {
			out = append(out, nv)
		}
	}
	for _, a := range also {
		av, err := testbed.Resolve(a)
		if err != nil {
			return nil, err
		}
		out = append(out, av)
	}
	seen := map[string]bool{}
	var uniq []string
	for _, v := range out {
		if !seen[v] {
			seen[v] = true
			uniq = append(uniq, v)
		}
	}
	return uniq, nil
}

// nextMinor is "3.6" for "3.5.35".
func nextMinor(v string) string {
	f := strings.SplitN(v, ".", 3)
	if len(f) < 2 {
		return ""
	}
	minor, err := strconv.Atoi(f[1])
	if err != nil {
		return ""
	}
	return f[0] + "." + strconv.Itoa(minor+1)
}

// Up gets the binaries, starts the supervisor (`etcdplay sandbox serve`,
// detached) and waits until it reports the cluster healthy. It returns
// while the cluster keeps running.
func Up(ctx context.Context, o Options) (*State, error) {
	if o.Dir == "" {
		o.Dir = DefaultDir()
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if o.Version == "" {
		o.Version = "3.5"
	}
	if o.Members <= 0 {
		o.Members = 3
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Minute
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("%w in %s", ErrExists, dir)
	}
	mode, why, err := ChooseSSH(o.SSH)
	if err != nil {
		return nil, err
	}
	versions, err := Versions(o.Version, o.Also)
	if err != nil {
		return nil, err
	}
	version := versions[0]
	if err := EnsureBinaries(ctx, versions, o.Progress); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	exe := o.Executable
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	arg0 := o.Arg0
	if arg0 == "" {
		arg0 = os.Args[0]
	}
	logf, err := os.OpenFile(filepath.Join(dir, logFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	cmd := &exec.Cmd{
		Path: exe,
		Args: []string{arg0, "sandbox", "serve", "--dir", dir, "--version", version,
			"--members", strconv.Itoa(o.Members), "--ssh", mode},
		Dir:   dir, // never hold the caller's working folder
		Stdin: devnull, Stdout: logf, Stderr: logf,
		// Its own session: Ctrl-C in the terminal that ran `up` must not
		// reach the cluster, and it outlives `up`.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	o.Progress.Logf("ssh: %s (%s); sandbox folder %s", mode, why, Tilde(dir))
	behind := "OpenSSH sshd"
	if mode == SSHBuiltin {
		behind = "the built-in SSH server"
	}
	step := o.Progress.Step(fmt.Sprintf("start %d members of etcd %s, each behind %s", o.Members, version, behind))
	if err := cmd.Start(); err != nil {
		step(err)
		return nil, err
	}
	_ = os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// A start that failed leaves nothing behind: the log's end is in the
	// error, and a half-made folder would make the next up refuse.
	fail := func(err error) (*State, error) {
		step(err)
		stopSupervisor(cmd.Process.Pid, exited)
		if _, derr := Down(context.WithoutCancel(ctx), dir); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, err
	}
	deadline := time.NewTimer(o.Timeout)
	defer deadline.Stop()
	for {
		if s, err := Load(dir); err == nil {
			step(nil)
			return s, nil
		}
		select {
		case err := <-exited:
			exited <- err
			return fail(fmt.Errorf("the sandbox supervisor exited (%v) before the cluster was up:\n%s", err, testbed.Tail(filepath.Join(dir, logFile), 12)))
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-deadline.C:
			return fail(fmt.Errorf("the cluster was not up after %v:\n%s", o.Timeout, testbed.Tail(filepath.Join(dir, logFile), 12)))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stopSupervisor ends a supervisor Up gave up on; it tears its cluster
// down itself on SIGTERM.
func stopSupervisor(pid int, exited chan error) {
	select {
	case err := <-exited: // already gone
		exited <- err
		return
	default:
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(90 * time.Second):
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-exited
	}
}
