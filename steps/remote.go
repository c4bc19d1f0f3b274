package steps

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// hostOf reaches a member's machine, saying which member failed.
func hostOf(ctx context.Context, env *Env, member string) (Host, error) {
	if env.Hosts == nil {
		return nil, fmt.Errorf("no ssh access to %s (the run was opened without hosts)", member)
	}
	h, err := env.Hosts.Host(ctx, member)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// runArgs runs a program with its arguments (every word quoted), and
// turns a non-zero exit into an error that shows what the command said.
func runArgs(ctx context.Context, h Host, argv ...string) (ssh.Result, error) {
	res, err := h.Run(ctx, ssh.Command{Argv: argv})
	if err != nil {
		return res, err
	}
	if res.ExitStatus != 0 {
		return res, fmt.Errorf("%s exited %d%s", ssh.Command{Argv: argv}, res.ExitStatus, outputTail(res))
	}
	return res, nil
}

// shScript runs a fixed sh script whose variable parts arrive as
// positional parameters ($1, $2, ...): the script is etcdplay's own code,
// the arguments are inventory values, quoted as single words.
func shScript(ctx context.Context, h Host, script string, args ...string) (ssh.Result, error) {
	argv := append([]string{"sh", "-c", script, "etcdplay"}, args...)
	return h.Run(ctx, ssh.Command{Argv: argv})
}

// outputTail is the last lines a command printed, for messages: ": <tail>"
// or "" when it printed nothing.
func outputTail(res ssh.Result) string {
	out := strings.TrimSpace(string(res.Stderr))
	if o := strings.TrimSpace(string(res.Stdout)); o != "" {
		if out != "" {
			out = o + "\n" + out
		} else {
			out = o
		}
	}
	if out == "" {
		return ""
	}
	lines := strings.Split(out, "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	s := strings.Join(lines, " | ")
	if len(s) > 400 {
		s = "..." + s[len(s)-397:]
	}
	return ": " + s
}

// clientAddr is host:port of a member's client URL, as the operator's
// machine dials it.
func clientAddr(m *schema.MemberConfig) (string, error) {
	u, err := url.Parse(m.Client)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("member %s: client url %q has no host", m.Name, m.Client)
	}
	if u.Port() != "" {
		return u.Host, nil
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443"), nil
	}
	return net.JoinHostPort(u.Hostname(), "80"), nil
}

// portState dials addr once from the operator's side. It tells a refused
// connection (nothing listens: proof the port is closed) from one that
// did not answer (a firewall or a hung host: proof of nothing).
type portState int

const (
	portOpen portState = iota
	portRefused
	portSilent
)

func (s portState) String() string {
	switch s {
	case portOpen:
		return "accepts connections"
	case portRefused:
		return "refuses connections"
	}
	return "does not answer"
}

func dialPort(ctx context.Context, addr string) portState {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		return portOpen
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return portRefused
	}
	return portSilent
}

// serviceStatus runs the inventory's status command, when it has one:
// exit 0 means running, anything else stopped (systemctl is-active and
// LSB status scripts agree on that). ok is false when there is no
// status command.
func serviceStatus(ctx context.Context, h Host, m *schema.MemberConfig) (running bool, res ssh.Result, ok bool, err error) {
	if m.Service.Status == "" {
		return false, ssh.Result{}, false, nil
	}
	sc, err := serviceCommand(ctx, h, m, m.Service.Status)
	if err != nil {
		return false, res, true, err
	}
	res, err = h.Run(ctx, sc)
	if err != nil {
		return false, res, true, fmt.Errorf("%q on %s: %w", m.Service.Status, m.Name, err)
	}
	return res.ExitStatus == 0, res, true, nil
}
