package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/etcdplay/etcdplay/testbed"
)

// Stopped is what Down stopped and removed.
type Stopped struct {
	Dir        string
	Supervisor int   // its pid, 0 when it was not running
	Members    []int // etcd pids found running
	SSHD       []int // OpenSSH daemons found running
	Leftovers  []int // anything else still running from the folder
}

// Down stops everything the sandbox in dir started, by pid: the
// supervisor (SIGTERM; it stops the members and the SSH servers and
// checks them gone), then anything its folder still runs (a supervisor
// that died leaves its members behind). It checks that no process of the
// sandbox lives and nothing listens on its addresses, and removes the
// folder. A folder without a sandbox (an `up` that failed half way) is
// cleaned the same way.
func Down(ctx context.Context, dir string) (*Stopped, error) {
	if dir == "" {
		dir = DefaultDir()
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoSandbox, dir)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	st, _ := Load(dir)
	out := &Stopped{Dir: dir}
	pidFiles, _ := filepath.Glob(filepath.Join(dir, "host*", "etcd.pid"))
	for _, f := range pidFiles {
		if p := readPID(f); testbed.Alive(p) {
			out.Members = append(out.Members, p)
		}
	}
	var addrs []string
	if st != nil {
		addrs = st.Addrs()
		for _, h := range st.Hosts {
			if testbed.Alive(h.SSHDPID) {
				out.SSHD = append(out.SSHD, h.SSHDPID)
			}
		}
	}
	var errs []error
	if p := supervisorPID(dir); p != 0 {
		out.Supervisor = p
		_ = syscall.Kill(p, syscall.SIGTERM)
		if !waitDead(ctx, p, 90*time.Second) {
			errs = append(errs, fmt.Errorf("supervisor %d did not stop in 90 s: killed", p))
			_ = syscall.Kill(p, syscall.SIGKILL)
			waitDead(ctx, p, 5*time.Second)
		}
	}
	out.Leftovers = testbed.ProcessesUnder(dir)
	if len(out.Leftovers) > 0 {
		if err := testbed.StopUnder(ctx, dir); err != nil {
			errs = append(errs, err)
		}
	}
	if left := testbed.ProcessesUnder(dir); len(left) > 0 {
		errs = append(errs, fmt.Errorf("still running from %s: %v", dir, left))
	}
	if out.Supervisor != 0 && testbed.Alive(out.Supervisor) {
		errs = append(errs, fmt.Errorf("supervisor %d still running", out.Supervisor))
	}
	if len(addrs) > 0 {
		if err := waitPortsFree(ctx, addrs); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("sandbox down in %s: %w (the folder is kept for a look)", dir, errors.Join(errs...))
	}
	if err := os.RemoveAll(dir); err != nil {
		return out, err
	}
	return out, nil
}

func waitDead(ctx context.Context, pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for testbed.Alive(pid) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// waitPortsFree waits briefly (the processes are gone) until nothing
// listens on addrs.
func waitPortsFree(ctx context.Context, addrs []string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ls, err := testbed.Listening(addrs)
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("still listening: %s", strings.Join(ls, " "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
