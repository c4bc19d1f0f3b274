package steps

import (
	"context"
	"fmt"
	"strings"
	"sync"
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
	cmd := which(*m.Service)
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
	sc, err := serviceCommand(ctx, h, m, cmd)
	if err != nil {
		return nil, err
	}
	res, err := h.Run(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("%q on %s: %w", cmd, m.Name, err)
	}
	if res.ExitStatus != 0 {
		return nil, fmt.Errorf("%q on %s exited %d%s", cmd, m.Name, res.ExitStatus, outputTail(res))
	}
	run.res = res
	return run, nil
}

// serviceCommand is how a service command runs: as the operator wrote it
// (a shell line, as the login user) without ssh.sudo; with it, as one
// exact command under sudo -n, its program resolved to the absolute path
// `etcdplay sudoers` prints (privileged.go).
func serviceCommand(ctx context.Context, h Host, m *schema.MemberConfig, cmd string) (ssh.Command, error) {
	if !sudoOn(m) {
		return ssh.Command{Script: cmd}, nil
	}
	prog := strings.Fields(cmd)
	f := HostFacts{Programs: map[string]string{}}
	if len(prog) > 0 && !strings.HasPrefix(prog[0], "/") {
		p, err := resolveProgram(ctx, h, prog[0])
		if err != nil {
			return ssh.Command{}, fmt.Errorf("%q on %s: %w", cmd, m.Name, err)
		}
		f.Programs[prog[0]] = p
	}
	argv, err := ServiceArgv(cmd, f)
	if err != nil {
		return ssh.Command{}, fmt.Errorf("service command on %s: %w", m.Name, err)
	}
	return ssh.Command{Argv: argv, Privileged: true}, nil
}

// resolved caches command -v answers per host connection: a status
// command polled every 200 ms should not cost two round trips each time.
var resolved sync.Map // resolvedKey -> string

type resolvedKey struct {
	h    Host
	name string
}

// resolveProgram is `command -v name` as the login user.
func resolveProgram(ctx context.Context, h Host, name string) (string, error) {
	k := resolvedKey{h, name}
	if p, ok := resolved.Load(k); ok {
		return p.(string), nil
	}
	res, err := shScript(ctx, h, `command -v "$1"`, name)
	if err != nil {
		return "", err
	}
	p := strings.TrimSpace(string(res.Stdout))
	if res.ExitStatus != 0 || !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("%s not found on the host (command -v as the login user)", name)
	}
	resolved.Store(k, p)
	return p, nil
}

// Preflight (ssh-stop): with ssh.sudo, sudo allows the exact stop and
// status commands; a refusal prints the missing sudoers lines.
func (*SSHStop) Preflight(ctx context.Context, env *Env) error {
	return preflightService(ctx, env, "ssh-stop", func(v schema.Service) string { return v.Stop })
}

// Preflight (ssh-start): as ssh-stop's, for start and status.
func (*SSHStart) Preflight(ctx context.Context, env *Env) error {
	return preflightService(ctx, env, "ssh-start", func(v schema.Service) string { return v.Start })
}

func preflightService(ctx context.Context, env *Env, kind string, which func(schema.Service) string) error {
	m, err := needMember(env, kind)
	if err != nil || !sudoOn(m) {
		return err
	}
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return err
	}
	var cmds []PrivilegedCommand
	for _, c := range []string{which(*m.Service), m.Service.Status} {
		if c == "" {
			continue
		}
		sc, err := serviceCommand(ctx, h, m, c)
		if err != nil {
			return err
		}
		cmds = append(cmds, PrivilegedCommand{Argv: sc.Argv, Purpose: kind})
	}
	return checkSudo(ctx, h, m, cmds)
}
