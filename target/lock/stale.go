package lock

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// HolderDeadHere reports whether the holder ran on this host and its
// process is gone: the usual case after a crash or a killed terminal,
// when the operator simply runs `resume` again. On v3 the runner can then
// wait out the lease (at most its TTL) instead of refusing; on v2 it can
// name the dead pid when it suggests --break-lock. A reused pid makes this
// answer false, never wrongly true, so waiting on it is always safe.
func (e *HeldError) HolderDeadHere() bool {
	if e.Holder == nil || e.Holder.PID <= 0 {
		return false
	}
	host, err := os.Hostname()
	if err != nil || host != e.Holder.Host {
		return false
	}
	return errors.Is(syscall.Kill(e.Holder.PID, 0), syscall.ESRCH)
}

// DeadRunHere reports whether the holder is run runID, started on this
// host, and its process is gone: the lock a crashed run left behind, which
// `resume` of that same run may take over at once instead of waiting out
// the lease or asking for --break-lock.
func (e *HeldError) DeadRunHere(runID string) bool {
	return e.Holder != nil && runID != "" && e.Holder.RunID == runID && e.HolderDeadHere()
}

// LockHint says what the refused operator can do next: wait for the
// holder, or break a lock whose run is dead. The runner shows it under
// the refusal (exit 7).
func (e *HeldError) LockHint() string {
	if e.Expires && e.HolderDeadHere() {
		return fmt.Sprintf("its process (pid %d) is gone from this host; the lease lapses within %s, or add --break-lock", e.Holder.PID, DefaultTTL)
	}
	return "wait for that run to finish; if it is dead, add --break-lock"
}
