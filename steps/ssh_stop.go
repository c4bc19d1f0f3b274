package steps

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
	"gopkg.in/yaml.v3"
)

// SSHStop stops the member's etcd service over SSH with the inventory's
// stop command, then confirms the process and its client port are gone:
// a stop command that returns early must not let a swap race a live etcd.
type SSHStop struct{}

func (*SSHStop) Kind() string { return "ssh-stop" }

func (s *SSHStop) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	d.Fields(n, "ssh-stop", s, func(string, *yaml.Node) {})
}

func (*SSHStop) NeedsMember() bool { return true }

// JSONSchemaShortForm: `ssh-stop:` alone.
func (*SSHStop) JSONSchemaShortForm() map[string]any { return map[string]any{"type": "null"} }

// Bound: a 3.5+ member drains and stops in ~2.5 s on the test bed (docs/etcd-behaviour.md); a minute leaves room for a slow host.
func (*SSHStop) Bound() time.Duration { return time.Minute }

func (*SSHStop) Plan(c *PlanContext) (Plan, error) {
	if c.Member == nil {
		return Plan{Text: "stop the member's service"}, nil
	}
	return Plan{Text: "on " + c.Member.Name + ": " + c.Member.Service.Stop + ", then confirm etcd's process and client port are gone",
		Args: map[string]string{"command": c.Member.Service.Stop}}, nil
}

// Critical: an interrupted stop leaves the member in an unknown state.
func (*SSHStop) Critical() bool { return true }

// Run runs the inventory's stop command, then waits for proof that etcd is
// gone. What counts as proof:
//
//   - the member's client port refuses TCP connections from the operator's
//     machine (a port that does not answer at all proves nothing: it may
//     be a firewall or a hung host),
//   - when the inventory has service.status, it exits non-zero, and
//   - the etcd process found before the stop has exited. A closed client
//     port alone proves nothing about the data dir: etcd closes its client
//     listeners first and releases the data dir only later, after draining
//     open streams for up to 7 s (docs/etcd-behaviour.md, "Stopping a member").
//     The process is found by its command line, which any user may read
//     (the same search member.options uses); where it cannot be found the
//     proof says so and rests on the first two.
//
// All must hold within the step's bound (default 1m). A stop command that
// returns early must not let a swap race a live etcd.
func (s *SSHStop) Run(ctx context.Context, env *Env) error {
	m, err := needMember(env, "ssh-stop")
	if err != nil {
		return err
	}
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return err
	}
	// Before the stop, while the process still runs: which pid to watch.
	proc, err := ReadOptions(ctx, h, m)
	if err != nil {
		return err
	}
	sr, err := runService(ctx, env, "ssh-stop", "stop", func(v schema.Service) string { return v.Stop })
	if err != nil {
		return err
	}
	addr, start := sr.addr, sr.start
	var port portState
	var statusRes ssh.Result
	var running, haveStatus, procLeft bool
	// The port is dialled from here every stopPoll (no round trip); once
	// it refuses, the status command and the wait for the process run at
	// once, side by side, so the proof costs one round trip after etcd
	// exits, not two and a poll interval (docs/performance.md).
	err = poll(ctx, stopPoll, func(ctx context.Context) (bool, error) {
		p := dialPort(ctx, addr)
		if ctx.Err() != nil {
			return false, nil
		}
		if port = p; port != portRefused {
			return false, nil
		}
		var wg sync.WaitGroup
		var left bool
		var procErr error
		if proc.PID > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				left, procErr = processRunsAfter(ctx, h, proc.PID, m.Binary, processWait)
			}()
		}
		r, res, have, err := serviceStatus(ctx, h, m)
		wg.Wait()
		if ctx.Err() != nil {
			return false, nil
		}
		if err = cmp.Or(err, procErr); err != nil {
			return false, err
		}
		running, statusRes, haveStatus, procLeft = r, res, have, left
		return !running && !procLeft, nil
	})
	if err != nil {
		switch {
		case port != portRefused:
			return pollErr(err, fmt.Sprintf("member %s still %s on %s %s after %q (expected the client port closed)",
				m.Name, port, m.Client, since(start), m.Service.Stop))
		case running:
			return pollErr(err, fmt.Sprintf("%q on %s still exits 0 %s after %q (expected non-zero: stopped)%s",
				m.Service.Status, m.Name, since(start), m.Service.Stop, outputTail(statusRes)))
		case procLeft:
			return pollErr(err, fmt.Sprintf("etcd on %s (pid %d) still running %s after %q, though its client port is closed (expected the process gone: etcd releases its data dir last)",
				m.Name, proc.PID, since(start), m.Service.Stop))
		}
		return pollErr(err, fmt.Sprintf("member %s not proven stopped %s after %q", m.Name, since(start), m.Service.Stop))
	}
	proof := "client port closed"
	if haveStatus {
		proof += ", " + m.Service.Status + " says stopped"
	}
	if proc.PID > 0 {
		proof += fmt.Sprintf(", etcd process %d gone", proc.PID)
	} else {
		proof += " (etcd's process not identified: " + proc.Unknown + ")"
	}
	env.info("member stopped", "member", m.Name, "took", since(start), "proof", proof)
	return nil
}

// How ssh-stop polls: the client port from here, and, once it refuses,
// the process on the host for up to processWait in one round trip.
const (
	stopPoll    = 50 * time.Millisecond
	processWait = 2 * time.Second
)

// processRunsAfter reports whether pid is still the etcd process it was
// after waiting up to wait for it to exit, checking on the host every
// 20 ms: its command line (empty once it is a zombie) still starts with
// binary or its base name. A pid reused by another program reads as gone.
// It returns as soon as the process is gone. Where sleep takes no
// fraction the loop ends early and the caller's poll asks again.
func processRunsAfter(ctx context.Context, h Host, pid int, binary string, wait time.Duration) (bool, error) {
	res, err := shScript(ctx, h, `runs() {
  a=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n 1)
  [ -n "$a" ] && { [ "$a" = "$2" ] || [ "$a" = "${2##*/}" ]; }
}
i=0
while runs "$1" "$2"; do
  [ "$i" -ge "$3" ] && exit 0
  i=$((i + 1))
  sleep 0.02 2>/dev/null || exit 0
done
exit 1`, strconv.Itoa(pid), binary, strconv.Itoa(int(wait/(20*time.Millisecond))))
	if err != nil {
		return false, fmt.Errorf("check etcd's process %d: %w", pid, err)
	}
	return res.ExitStatus == 0, nil
}
