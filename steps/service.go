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
// Service) over SSH and fails on a non-zero exit. The caller then polls for
// proof under the same ctx, which carries the step's bound.
func runService(ctx context.Context, env *Env, kind, field string, which func(schema.Service) string) (*serviceRun, error) {
	m, err := needMember(env, kind)
	if err != nil {
		return nil, err
	}
	cmd := which(m.Service)
	if cmd == "" {
		return nil, fmt.Errorf("the inventory gives no service.%s for %s", field, m.Name)
	}
	addr, err := clientAddr(m)
	if err != nil {
		return nil, err
	}
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return nil, err
	}
	run := &serviceRun{m: m, h: h, addr: addr, start: time.Now(), cmd: cmd}
	res, err := h.Run(ctx, ssh.Command{Script: cmd})
	if err != nil {
		return nil, fmt.Errorf("%q on %s: %w", cmd, m.Name, err)
	}
	if res.ExitStatus != 0 {
		return nil, fmt.Errorf("%q on %s exited %d%s", cmd, m.Name, res.ExitStatus, outputTail(res))
	}
	run.res = res
	return run, nil
}
