package steps

import (
	"context"
	"fmt"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// serviceRun is what ssh-stop and ssh-start share once the inventory's
// service command has run on the member: what they then poll for proof.
type serviceRun struct {
	m     *schema.MemberConfig
	h     Host
	addr  string     // the member's client host:port, dialed for proof
	start time.Time  // when the command was sent
	res   ssh.Result // what the command printed
	cmd   string     // the command, for messages
}

// runService runs the member's service command (picked by which from its
// Service) over SSH under the step's bound, and fails on a non-zero exit.
// The returned context carries the bound; the caller polls under it and
// calls cancel.
func runService(ctx context.Context, env *Env, kind, field string, which func(schema.Service) string) (context.Context, context.CancelFunc, *serviceRun, error) {
	none := func() {}
	m, err := needMember(env, kind)
	if err != nil {
		return ctx, none, nil, err
	}
	cmd := which(m.Service)
	if cmd == "" {
		return ctx, none, nil, fmt.Errorf("the inventory gives no service.%s for %s", field, m.Name)
	}
	addr, err := clientAddr(m)
	if err != nil {
		return ctx, none, nil, err
	}
	ctx, cancel := bounded(ctx, stepBound(env, kind))
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		cancel()
		return ctx, none, nil, err
	}
	run := &serviceRun{m: m, h: h, addr: addr, start: time.Now(), cmd: cmd}
	res, err := h.Run(ctx, ssh.Command{Script: cmd})
	if err != nil {
		cancel()
		return ctx, none, nil, fmt.Errorf("%q on %s: %w", cmd, m.Name, err)
	}
	if res.ExitStatus != 0 {
		cancel()
		return ctx, none, nil, fmt.Errorf("%q on %s exited %d%s", cmd, m.Name, res.ExitStatus, outputTail(res))
	}
	run.res = res
	return ctx, cancel, run, nil
}
