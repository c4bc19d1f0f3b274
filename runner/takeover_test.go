package runner

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/target/lock"
)

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// Resume after a crash: the lock still names the crashed run, started on
// this host, whose pid is gone. Resume of that same run takes it over at
// once and says so, instead of refusing for the lease's 30 s; the lock of
// another run, or of a process still alive, is still a refusal.
func TestResumeTakesOverItsCrashedRunsLock(t *testing.T) {
	host, _ := os.Hostname()
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	id := crashJournal(t, h, "infra0", 2, "stop")
	h.locker.held = &lock.Holder{User: "op", Host: host, RunID: id, PID: deadPID(t), Started: time.Now()}
	if _, err := Resume(context.Background(), h.o); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if h.locker.broken != 1 || !contains(h.messages(events.Warn), "took over the lock of this run") {
		t.Errorf("broken %d, warnings %q", h.locker.broken, h.messages(events.Warn))
	}

	for name, holder := range map[string]lock.Holder{
		"another run":    {User: "op", Host: host, RunID: "20261121T000000Z-other", PID: deadPID(t)},
		"a live process": {User: "op", Host: host, RunID: id, PID: os.Getpid()},
		"another host":   {User: "op", Host: host + "-elsewhere", RunID: id, PID: deadPID(t)},
	} {
		t.Run(name, func(t *testing.T) {
			fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
			h := newHarness(t, fakePlaybook, fc)
			crashJournal(t, h, "infra0", 2, "stop")
			h.locker.held = &holder
			_, err := Resume(context.Background(), h.o)
			if exit.Code(err) != exit.Locked || h.locker.broken != 0 || !strings.Contains(err.Error(), "locked by") {
				t.Fatalf("exit %d (%v), broken %d: want a refusal", exit.Code(err), err, h.locker.broken)
			}
		})
	}
}
