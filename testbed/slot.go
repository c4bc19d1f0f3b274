package testbed

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A slot is a set of loopback addresses one cluster owns for its life:
// slot k uses 127.0.k.11, 127.0.k.12, ... Clusters in parallel test binaries
// (go test runs packages in parallel) take different slots. Ownership is an
// flock on Dir()/slots/<k>.lock, which the kernel releases when the owner
// dies, so a held lock always means a live owner.

// MaxSlots bounds the slot search.
const MaxSlots = 32

// slotAddr is the address of member i (0-based) in slot k.
func slotAddr(k, i int) string { return fmt.Sprintf("127.0.%d.%d", k, 11+i) }

type slot struct {
	k    int
	file *os.File
}

func (s *slot) release() {
	if s != nil && s.file != nil {
		_ = syscall.Flock(int(s.file.Fd()), syscall.LOCK_UN)
		s.file.Close()
		s.file = nil
	}
}

// acquireSlot takes the first free slot whose addresses have nothing
// listening. Run folders left by a dead owner of that slot are cleaned first:
// their processes are killed (they are ours: their command lines point into
// the folder) and the folder removed unless it was kept for debugging.
func acquireSlot(ctx context.Context, members int, self string) (*slot, error) {
	dir := filepath.Join(Dir(), "slots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var busy []string
	for k := 0; k < MaxSlots; k++ {
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(k)+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		s := &slot{k: k, file: f}
		// The lock file names the last owner's run folder: it is dead (we
		// hold its lock), so whatever it left is stale.
		prev := ""
		if b, err := os.ReadFile(f.Name()); err == nil {
			if fields := strings.Fields(string(b)); len(fields) == 2 {
				prev = fields[1]
			}
		}
		cleanStale(ctx, k, self, prev)
		// A production-shaped cluster's bastion sits below the members.
		addrs := []string{bastionAddr(k)}
		for i := 0; i < members; i++ {
			addrs = append(addrs, slotAddr(k, i))
		}
		ls, err := Listening(addrs)
		if err != nil {
			s.release()
			return nil, err
		}
		if len(ls) > 0 {
			busy = append(busy, fmt.Sprintf("slot %d: %s", k, strings.Join(ls, " ")))
			s.release()
			continue
		}
		_ = f.Truncate(0)
		_, _ = f.WriteAt([]byte(fmt.Sprintf("%d %s\n", os.Getpid(), self)), 0)
		return s, nil
	}
	return nil, fmt.Errorf("testbed: no free slot of %d (held by live owners, or ports taken by strangers: %s)", MaxSlots, strings.Join(busy, "; "))
}

// cleanStale kills what earlier, dead owners of slot k left running and
// removes their run folders (kept ones stay, minus their processes).
func cleanStale(ctx context.Context, k int, self, prev string) {
	removeStaleSudoers(k)
	runs, _ := filepath.Glob(filepath.Join(Dir(), "run", "*", "slot"))
	if prev != "" && filepath.Dir(prev) != filepath.Join(Dir(), "run") {
		runs = append(runs, filepath.Join(prev, "slot"))
	}
	for _, marker := range runs {
		run := filepath.Dir(marker)
		if run == self {
			continue
		}
		b, err := os.ReadFile(marker)
		if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(k) {
			continue
		}
		var pids []int
		for _, p := range procsUnder(run) {
			pids = append(pids, p)
			pids = append(pids, descendants(p)...)
		}
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_ = terminate(cctx, pids, teardownGrace)
		cancel()
		if _, err := os.Stat(filepath.Join(run, "keep")); err == nil || filepath.Dir(run) != filepath.Join(Dir(), "run") {
			// kept, or a caller's own folder (Options.Dir): stop, don't delete
			_ = os.Remove(marker) // processes gone; it no longer claims the slot
			continue
		}
		_ = os.RemoveAll(run)
	}
}

// lockFile takes a blocking exclusive flock on path and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// CleanStale stops what dead owners left on every slot that is free now
// (a test binary killed before its Close) and removes their run folders,
// except kept ones. Start does this for the slot it takes; CleanStale does
// it for all, e.g. before a sandbox starts or at the start of CI.
func CleanStale(ctx context.Context) error {
	dir := filepath.Join(Dir(), "slots")
	locks, err := filepath.Glob(filepath.Join(dir, "*.lock"))
	if err != nil {
		return err
	}
	for _, l := range locks {
		k, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(l), ".lock"))
		if err != nil {
			continue
		}
		f, err := os.OpenFile(l, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close() // a live owner
			continue
		}
		prev := ""
		if b, err := os.ReadFile(l); err == nil {
			if fields := strings.Fields(string(b)); len(fields) == 2 {
				prev = fields[1]
			}
		}
		cleanStale(ctx, k, "", prev)
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
	return nil
}

// TrySlot takes slot k if no cluster holds it, for a check that must know
// nobody else is using the slot's addresses (a test asserting that a torn
// down cluster left nothing listening). ok is false when another cluster
// holds the slot: it took the slot only after finding nothing listening on
// its addresses, so whatever listens there now is its own.
func TrySlot(k int) (release func(), ok bool, err error) {
	dir := filepath.Join(Dir(), "slots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(k)+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false, nil
	}
	s := &slot{k: k, file: f}
	return s.release, true, nil
}
