package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Close tears the cluster down: stops writers and clients, SIGTERMs every
// etcd and sshd the cluster started (by pid, plus anything still running
// from its folder and sshd's session children), SIGKILLs what is left
// after a short grace, then checks that no process of the cluster lives and no port
// on its addresses listens, removes the run folder (kept when
// ETCDPLAY_BED_KEEP=1, or when Options.Dir was given) and frees the slot.
// It is safe to call more than once.
func (c *Cluster) Close(ctx context.Context) error {
	c.closeOnce.Do(func() { c.closeErr = c.close(ctx) })
	return c.closeErr
}

func (c *Cluster) close(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, 60*time.Second)
	defer cancel()
	began := time.Now()
	c.mu.Lock()
	writers := c.writers
	c.writers = nil
	c.mu.Unlock()
	for _, w := range writers {
		w.Stop()
	}
	if c.v3 != nil {
		c.v3.Close()
	}
	var errs []error
	for _, h := range c.Hosts {
		if h.stopSSH != nil {
			if err := h.stopSSH(); err != nil {
				errs = append(errs, fmt.Errorf("%s: stop ssh server: %w", h.Name, err))
			}
			h.stopSSH = nil
		}
	}
	if c.SudoersPath != "" {
		// First, so no path below can leave the login user's sudo behind.
		if err := os.Remove(c.SudoersPath); err != nil && !os.IsNotExist(err) {
			errs = append(errs, fmt.Errorf("remove sudo rules: %w", err))
		}
	}
	var pids []int
	for _, h := range c.sshHosts() {
		pids = append(pids, readPIDFile(h.pidFile()))
		if h.sshdPID > 0 {
			pids = append(pids, h.sshdPID)
			pids = append(pids, descendants(h.sshdPID)...)
		}
	}
	if c.Dir != "" {
		for _, p := range procsUnder(c.Dir) {
			pids = append(pids, p)
			pids = append(pids, descendants(p)...)
		}
	}
	// Only pids that still point into our folder (or are sshd's session
	// children) are ours; a stale pid file must not kill a stranger.
	var mine []int
	for _, p := range uniq(pids) {
		if alive(p) {
			mine = append(mine, p)
		}
	}
	if err := terminate(ctx, mine, teardownGrace); err != nil {
		errs = append(errs, err)
	}
	for _, h := range c.sshHosts() {
		if h.sshdExited != nil {
			select {
			case <-h.sshdExited:
			case <-time.After(2 * time.Second):
			}
		}
	}
	if c.Dir != "" {
		if left := procsUnder(c.Dir); len(left) > 0 {
			errs = append(errs, fmt.Errorf("processes still running from %s: %v", c.Dir, left))
		}
	}
	if err := c.waitPortsFree(ctx); err != nil {
		errs = append(errs, err)
	}
	if c.Dir != "" {
		keep := os.Getenv("ETCDPLAY_BED_KEEP") == "1"
		switch {
		case keep:
			_ = os.WriteFile(filepath.Join(c.Dir, "keep"), nil, 0o644)
			c.logf("testbed: kept %s (ETCDPLAY_BED_KEEP=1)", c.Dir)
		case c.ownDir:
			if err := os.RemoveAll(c.Dir); err != nil {
				errs = append(errs, err)
			}
		default:
			_ = os.Remove(filepath.Join(c.Dir, "slot"))
		}
	}
	c.slot.release()
	c.logf("testbed: %s torn down in %v", c.Name, time.Since(began).Round(time.Millisecond))
	if len(errs) > 0 {
		return fmt.Errorf("testbed: teardown of %s: %w", c.Name, errors.Join(errs...))
	}
	return nil
}

// waitPortsFree waits (briefly: the processes are already gone) until
// nothing listens on the cluster's addresses.
func (c *Cluster) waitPortsFree(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		addrs := c.Addrs()
		if c.Bastion != nil {
			addrs = append(addrs, c.Bastion.Addr)
		}
		ls, err := Listening(addrs)
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("still listening after teardown: %s", strings.Join(ls, " "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// teardownGrace is how long Close lets members stop on SIGTERM before
// SIGKILL. A follower of 3.5+ stops in about 1 s, but a leader whose peers
// are stopping at the same moment waits for a leadership transfer that
// cannot happen (7 s, measured), and a follower needs about 1 s; the data is thrown away, so teardown does
// not wait for it. StopMember is the graceful stop.
const teardownGrace = 1500 * time.Millisecond

// sshHosts is every host with an sshd: the members and the bastion.
func (c *Cluster) sshHosts() []*Host {
	if c.Bastion == nil {
		return c.Hosts
	}
	return append([]*Host{c.Bastion}, c.Hosts...)
}
