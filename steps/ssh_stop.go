package steps

import (
	"context"
	"fmt"
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
//     be a firewall or a hung host), and
//   - when the inventory has service.status, it exits non-zero.
//
// Both must hold within the step's bound (default 1m). A stop command that
// returns early must not let a swap race a live etcd.
func (s *SSHStop) Run(ctx context.Context, env *Env) error {
	sr, err := runService(ctx, env, "ssh-stop", "stop", func(v schema.Service) string { return v.Stop })
	if err != nil {
		return err
	}
	m, h, addr, start := sr.m, sr.h, sr.addr, sr.start
	var port portState
	var statusRes ssh.Result
	var running, haveStatus bool
	err = poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		p := dialPort(ctx, addr)
		if ctx.Err() != nil {
			return false, nil
		}
		if port = p; port != portRefused {
			return false, nil
		}
		r, res, have, err := serviceStatus(ctx, h, m)
		if ctx.Err() != nil {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		running, statusRes, haveStatus = r, res, have
		return !running, nil
	})
	if err != nil {
		if port != portRefused {
			return pollErr(err, fmt.Sprintf("member %s still %s on %s %s after %q (expected the client port closed)",
				m.Name, port, m.Client, since(start), m.Service.Stop))
		}
		return pollErr(err, fmt.Sprintf("%q on %s still exits 0 %s after %q (expected non-zero: stopped)%s",
			m.Service.Status, m.Name, since(start), m.Service.Stop, outputTail(statusRes)))
	}
	proof := "client port closed"
	if haveStatus {
		proof += ", " + m.Service.Status + " says stopped"
	}
	env.info("member stopped", "member", m.Name, "took", since(start), "proof", proof)
	return nil
}
