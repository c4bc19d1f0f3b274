package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/etcdplay/etcdplay/internal/shell"
)

// Operations on one member of a running cluster, and the helpers that
// wait for members.

// Host returns host i (0-based).
func (c *Cluster) Host(i int) *Host { return c.Hosts[i] }

// MemberPID returns the pid in host i's etcd.pid, 0 when stopped.
func (c *Cluster) MemberPID(i int) int {
	p := readPIDFile(c.Hosts[i].pidFile())
	if !alive(p) {
		return 0
	}
	return p
}

// StopMember stops member i through its service script over SSH (SIGTERM,
// then wait): a graceful stop, as an operator's `systemctl stop`. In a
// production-shaped cluster the bed runs the root-owned script itself, so
// its stops and starts never depend on the sudo rules a test is probing.
func (c *Cluster) StopMember(ctx context.Context, i int) error {
	_, err := c.service(ctx, i, "stop")
	return err
}

// StartMember starts member i through its service script (as StopMember)
// and waits until it reports healthy on the version installed on that host.
func (c *Cluster) StartMember(ctx context.Context, i int) error {
	if _, err := c.service(ctx, i, "start"); err != nil {
		return err
	}
	return c.waitMember(ctx, c.Hosts[i])
}

func (c *Cluster) service(ctx context.Context, i int, verb string) (string, error) {
	if c.Production {
		return c.runService(ctx, c.Hosts[i], verb)
	}
	return c.SSH(ctx, i, shell.Join(c.Hosts[i].Service, verb))
}

// KillMember SIGKILLs member i (no graceful leadership transfer) and waits
// until it is gone.
func (c *Cluster) KillMember(ctx context.Context, i int) error {
	p := c.MemberPID(i)
	if p == 0 {
		return fmt.Errorf("%s: etcd not running", c.Hosts[i].Name)
	}
	return terminate(ctx, []int{p}, 0)
}

// WaitHealthy waits until every member answers /health true on the version
// installed on its host. A member whose process died fails the wait at once,
// with the end of its log.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, 60*time.Second)
	defer cancel()
	return parallel(c.Hosts, func(h *Host) error { return c.waitMember(ctx, h) })
}

func (c *Cluster) waitMember(ctx context.Context, h *Host) error {
	ctx, cancel := withDefaultTimeout(ctx, 60*time.Second)
	defer cancel()
	var last error
	for {
		pid := readPIDFile(h.pidFile())
		if !alive(pid) {
			return fmt.Errorf("%s: etcd (pid %d) is not running: %s", h.Name, pid, logExcerpt(filepath.Join(h.Dir, "etcd.log")))
		}
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		last = c.memberReady(pctx, h)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not healthy: %v (%w): %s", h.Name, last, ctx.Err(), logExcerpt(filepath.Join(h.Dir, "etcd.log")))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) memberReady(ctx context.Context, h *Host) error {
	ok, err := health(ctx, c.http(), h.ClientURL)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("/health is false")
	}
	v, err := serverVersion(ctx, c.http(), h.ClientURL)
	if err != nil {
		return err
	}
	if v.Server != h.version {
		return fmt.Errorf("/version says %s, want %s", v.Server, h.version)
	}
	return nil
}

// InstallVersion puts version's binaries into host h's bin folder (each
// file replaced atomically; etcdutl removed when the version has none), as
// a stand-in for a machine that drifted to another version. It does not
// restart the member.
func InstallVersion(h *Host, version string) error {
	v, err := Resolve(version)
	if err != nil {
		return err
	}
	if err := CheckBinaries(v); err != nil {
		return err
	}
	return installBinaries(h, v)
}

// installBinaries hard-links the cached binaries into the host (they are
// 20-90 MB each; a link is instant and the cache files stay root-owned, so
// the bed user can only replace them by rename, never write through them),
// and falls back to a copy across filesystems.
func installBinaries(h *Host, version string) error {
	names := binaryNames(version)
	for _, name := range names {
		src := filepath.Join(BinDir(version), name)
		dst := filepath.Join(h.BinDir, name)
		tmp := dst + ".bed-tmp"
		os.Remove(tmp)
		if err := os.Link(src, tmp); err != nil {
			if err := copyFile(src, tmp, 0o755); err != nil {
				return fmt.Errorf("install %s %s: %w", version, name, err)
			}
		}
		if err := os.Rename(tmp, dst); err != nil {
			return err
		}
	}
	if !hasEtcdutl(version) {
		if err := os.Remove(filepath.Join(h.BinDir, "etcdutl")); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	h.version = version
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}
