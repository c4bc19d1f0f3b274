//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/testbed"
)

// TestSSHDrop_MidStop_3_4_to_3_5 is fault (f): the SSH connection to the
// first member's host drops while its stop command is still running,
// after etcd has already stopped (a flaky VPN, a restarted bastion). The
// runner cannot know how far the command got. It must either fail the
// step cleanly ("may or may not have run", exit 6) or reconnect and
// re-check; it must never carry on to the next member blind. Quorum holds
// throughout, and `etcdplay resume` finishes the upgrade.
func TestSSHDrop_MidStop_3_4_to_3_5(t *testing.T) {
	t.Parallel()
	scenario(t, "(f) ssh-drop-mid-command")
	ctx := testContext(t)
	c := startBed(ctx, t, "3.4", faultKeys)
	o := newOperator(t, c)

	// The stop command lingers 3 s after etcd is gone, so the drop lands
	// in the middle of a command whose destructive part already ran.
	o.inventory = o.editInventory("inventory-slow-stop.yaml", func(inv map[string]any) {
		for _, m := range inv["members"].([]any) {
			svc := m.(map[string]any)["service"].(map[string]any)
			svc["stop"] = svc["stop"].(string) + " && sleep 3"
		}
	})
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)

	var once sync.Once
	var dropped sync.WaitGroup
	var victim string
	res := o.watch(ctx, func(e events.Event, _ *os.Process) {
		if e.Kind != events.StepStart || e.Action != "ssh-stop" || e.Phase != schema.PhaseMembers {
			return
		}
		once.Do(func() {
			victim = e.Member
			i := hostIndex(t, c, victim)
			dropped.Add(1)
			go func() {
				defer dropped.Done()
				if err := waitStopped(ctx, c, i); err != nil {
					t.Errorf("%s: %v", victim, err)
					return
				}
				time.Sleep(300 * time.Millisecond)
				n, err := dropSSH(c.Hosts[i])
				if err != nil {
					t.Errorf("drop ssh to %s: %v", victim, err)
					return
				}
				t.Logf("%s's etcd is gone and its stop command still runs: killed %d sshd session processes, the runner's connection drops", victim, n)
			}()
		})
	}, "run", "3.4-to-3.5")
	dropped.Wait()
	if victim == "" {
		t.Fatalf("the run (exit %d) never stopped a member", res.code)
	}

	switch res.code {
	case exitStepFailed:
		failed := res.steps(events.StepFailed, victim, "")
		if len(failed) == 0 || failed[0].Action != "ssh-stop" {
			t.Fatalf("want %s's ssh-stop to fail, got %+v", victim, failed)
		}
		if !strings.Contains(failed[0].Message, "may or may not have run") {
			t.Errorf("the failure does not say the command may or may not have run: %s", failed[0].Message)
		}
		t.Logf("the step failed cleanly: %s", clip(failed[0].Message, 300))
		for _, m := range res.membersTouched() {
			if m != victim {
				t.Errorf("after the drop on %s the run went on to %s", victim, m)
			}
		}
		for _, e := range res.events {
			if e.Member == victim && e.Kind == events.StepStart && e.Action != "move-leader" && e.Action != "ssh-stop" {
				t.Errorf("after the drop the run went on to %s's %s", victim, e.Action)
			}
		}
		requireHealthy2of3(ctx, t, c, victim)
	case exitOK:
		// Reconnected and re-checked: the member must have been proven
		// stopped before the swap, which ssh-stop's own check does.
		t.Log("the runner reconnected, re-checked and carried on")
	default:
		t.Fatalf("etcdplay run: exit %d after the drop; want 6 (failed cleanly) or 0 (reconnected and re-checked)", res.code)
	}

	rs := res
	if res.code != exitOK {
		t.Log("etcdplay resume: re-check the cluster, finish the member and the rest")
		rs = o.etcdplay(ctx, "resume")
		rs.want(t, exitOK)
	}
	st := w.Stop()
	requireVersions(ctx, t, c, release(t, "3.5"), "3.5.0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res, rs))
}

// requireHealthy2of3 fails unless every member but down answers /health:
// quorum held while down was out.
func requireHealthy2of3(ctx context.Context, t *testing.T, c *testbed.Cluster, down string) {
	t.Helper()
	for _, h := range c.Hosts {
		if h.Name == down {
			continue
		}
		if ok, err := testbed.Health(ctx, h.ClientURL); !ok {
			t.Errorf("%s unhealthy while %s is out: %v", h.Name, down, err)
		}
	}
}

// waitStopped waits (up to 20 s) until member i's etcd is gone.
func waitStopped(ctx context.Context, c *testbed.Cluster, i int) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for c.MemberPID(i) != 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcd still running (pid %d): %w", c.MemberPID(i), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// dropSSH kills every session process of h's sshd (its listener's
// children and theirs), so every open connection to h ends at once, as if
// the network had dropped it; the listener stays, so a reconnect works.
func dropSSH(h *testbed.Host) (int, error) {
	b, err := os.ReadFile(filepath.Join(h.Dir, "sshd", "sshd.pid"))
	if err != nil {
		return 0, err
	}
	listener, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, err
	}
	victims := descendants(listener)
	if len(victims) == 0 {
		return 0, fmt.Errorf("sshd (pid %d) has no session process: no connection to drop", listener)
	}
	for _, p := range victims {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	return len(victims), nil
}

// descendants lists every process below pid, from /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parens.
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, ch := range children[p] {
			out = append(out, ch)
			walk(ch)
		}
	}
	walk(pid)
	return out
}
