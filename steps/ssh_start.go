package steps

import (
	"context"
	"fmt"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
	"gopkg.in/yaml.v3"
)

// SSHStart starts the member's etcd service over SSH with the inventory's
// start command: the guides restart each member "with the same
// configuration", so etcdplay never edits the configuration.
type SSHStart struct{}

func (*SSHStart) Kind() string { return "ssh-start" }

func (s *SSHStart) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	d.Fields(n, "ssh-start", s, func(string, *yaml.Node) {})
}

func (*SSHStart) NeedsMember() bool { return true }

// JSONSchemaShortForm: `ssh-start:` alone.
func (*SSHStart) JSONSchemaShortForm() map[string]any { return map[string]any{"type": "null"} }

// Bound: a member starts in under a second on the test bed; a minute leaves room for a slow disk.
func (*SSHStart) Bound() time.Duration { return time.Minute }

func (*SSHStart) Plan(c *PlanContext) (Plan, error) {
	if c.Member == nil {
		return Plan{Text: "start the member's service"}, nil
	}
	return Plan{Text: "on " + c.Member.Name + ": " + c.Member.Service.Start,
		Args: map[string]string{"command": c.Member.Service.Start}}, nil
}

// Critical: an interrupted start leaves the member in an unknown state.
func (*SSHStart) Critical() bool { return true }

// Run runs the inventory's start command, then waits until the client
// port accepts connections and, when the inventory has service.status,
// status exits 0. It fails at once, without waiting out the bound, when
// status says stopped twice in a row: etcd died at start (a removed flag,
// a refused data dir), and the operator should read why now, not in ten
// minutes. Health and catching up are wait's job.
func (s *SSHStart) Run(ctx context.Context, env *Env) error {
	sr, err := runService(ctx, env, "ssh-start", "start", func(v schema.Service) string { return v.Start })
	if err != nil {
		return err
	}
	m, h, addr, start, startRes := sr.m, sr.h, sr.addr, sr.start, sr.res
	port := portSilent
	var statusRes ssh.Result
	stoppedInARow := 0
	var asked time.Time
	// The port is dialled every startPoll (no round trip), the status
	// command asked every startStatusPoll while the port is closed and
	// once more when it opens: the member counts as started within a
	// round trip of its port opening (docs/performance.md).
	err = poll(ctx, startPoll, func(ctx context.Context) (bool, error) {
		p := dialPort(ctx, addr)
		if ctx.Err() != nil {
			return false, nil
		}
		port = p
		if port != portOpen && !asked.IsZero() && time.Since(asked) < startStatusPoll {
			return false, nil
		}
		asked = time.Now()
		running, res, have, err := serviceStatus(ctx, h, m)
		if ctx.Err() != nil {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		statusRes = res
		if have && !running {
			if stoppedInARow++; stoppedInARow >= 2 {
				return false, fmt.Errorf("%q on %s says stopped %s after %q (expected running): etcd exited at start%s%s",
					m.Service.Status, m.Name, since(start), m.Service.Start, outputTail(res), startTail(startRes))
			}
			return false, nil
		}
		stoppedInARow = 0
		return port == portOpen && (!have || running), nil
	})
	if err != nil {
		return pollErr(err, fmt.Sprintf("member %s's client port %s still %s %s after %q (expected it to accept connections)%s",
			m.Name, m.Client, port, since(start), m.Service.Start, outputTail(statusRes)))
	}
	env.info("member started", "member", m.Name, "took", since(start))
	return nil
}

// How ssh-start polls: the client port from here, the status command on
// the host.
const (
	startPoll       = 50 * time.Millisecond
	startStatusPoll = 250 * time.Millisecond
)

// startTail adds what the start command printed, when it printed anything.
func startTail(res ssh.Result) string {
	if t := outputTail(res); t != "" {
		return "; start said" + t
	}
	return ""
}
