package steps

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/etcdplay/etcdplay/internal/shell"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
	"gopkg.in/yaml.v3"
)

// SSHRun is the escape hatch for a guide's one-off command, such as
// `etcdutl check v2store`: run it over SSH, then check its exit status and,
// optionally, its output. In members.steps and rollback it runs on the
// member; elsewhere on every member in turn.
type SSHRun struct {
	Command    Command `yaml:"command" json:"command" jsonschema:"required" doc:"argv list (each word quoted for you) or one shell string"`
	Expect     string  `yaml:"expect" json:"expect,omitempty" doc:"regular expression the output must match"`
	ExpectExit int     `yaml:"expect_exit" json:"expect_exit" jsonschema:"minimum=0,maximum=255" doc:"exit status expected (default 0)"`

	expect *regexp.Regexp
}

// Command is argv (run as is, every word quoted) or a shell string (run by
// sh -c). The list form is preferred: no quoting mistakes.
type Command struct {
	Argv  []string `json:"argv,omitempty"`
	Shell string   `json:"shell,omitempty"`
}

// String is the command as the remote shell will see it.
func (c Command) String() string {
	if c.Shell != "" {
		return c.Shell
	}
	return shell.Join(c.Argv...)
}

// JSONSchema: a list of words or one string.
func (Command) JSONSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "string", "minLength": 1},
		map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"type": "string"}},
	}}
}

func (*SSHRun) Kind() string { return "ssh-run" }

// DecodeArgs accepts the full form and the short forms `ssh-run: "cmd"` and
// `ssh-run: [argv...]`.
func (r *SSHRun) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	if rn := schema.Resolve(n); schema.IsScalar(n) || (rn != nil && rn.Kind == yaml.SequenceNode) {
		r.Command = decodeCommand(d, n, "ssh-run")
		return
	}
	set := map[string]bool{}
	if !d.Fields(n, "ssh-run", r, func(key string, v *yaml.Node) {
		set[key] = true
		switch key {
		case "command":
			r.Command = decodeCommand(d, v, "ssh-run.command")
		case "expect":
			r.Expect = d.String(v, "ssh-run.expect")
			re, err := regexp.Compile(r.Expect)
			if err != nil {
				d.Errorf(v, "ssh-run.expect: %v", err)
			}
			r.expect = re
		case "expect_exit":
			r.ExpectExit = d.Int(v, "ssh-run.expect_exit")
			if r.ExpectExit < 0 || r.ExpectExit > 255 {
				d.Errorf(v, "ssh-run.expect_exit must be 0 to 255, got %d", r.ExpectExit)
			}
		}
	}) {
		return
	}
	if !set["command"] {
		d.Hintf(n, `e.g. ssh-run: {command: [etcdutl, check, v2store]}`, "ssh-run: missing required key \"command\"")
	}
}

func decodeCommand(d *schema.Decoder, n *yaml.Node, what string) Command {
	if schema.IsScalar(n) {
		return Command{Shell: d.NonEmpty(n, what)}
	}
	argv := d.StringList(n, what)
	if argv != nil && len(argv) == 0 {
		d.Errorf(n, "%s is an empty list", what)
	}
	return Command{Argv: argv}
}

// JSONSchemaShortForm: a command alone.
func (*SSHRun) JSONSchemaShortForm() map[string]any { return Command{}.JSONSchema() }

// ExpectRe is the compiled expect pattern, or nil.
func (r *SSHRun) ExpectRe() *regexp.Regexp { return r.expect }

// Bound: a guide's one-off command, such as etcdutl check v2store over a large data dir.
func (*SSHRun) Bound() time.Duration { return 5 * time.Minute }

func (r *SSHRun) Plan(c *PlanContext) (Plan, error) {
	where := "on every member"
	if c.Member != nil {
		where = "on " + c.Member.Name
	}
	args := map[string]string{"command": r.Command.String(), "expect_exit": strconv.Itoa(r.ExpectExit)}
	text := fmt.Sprintf("%s: %s, expect exit %d", where, r.Command, r.ExpectExit)
	if r.Expect != "" {
		args["expect"] = r.Expect
		text += " and output matching /" + r.Expect + "/"
	}
	return Plan{Text: text, Args: args}, nil
}

// Run runs the command on the member, or on every member in turn outside
// the per-member phases, and checks exit status and output on each. The
// first member that disagrees stops the step: the guide's command said
// something the playbook did not expect.
func (r *SSHRun) Run(ctx context.Context, env *Env) error {
	members, err := targets(env)
	if err != nil {
		return err
	}
	cmd := ssh.Command{Argv: r.Command.Argv, Script: r.Command.Shell}
	re := r.expect
	if re == nil && r.Expect != "" {
		if re, err = regexp.Compile(r.Expect); err != nil {
			return fmt.Errorf("ssh-run: expect: %w", err)
		}
	}
	for _, m := range members {
		h, err := hostOf(ctx, env, m.Name)
		if err != nil {
			return err
		}
		res, err := h.Run(ctx, cmd)
		if err != nil {
			return fmt.Errorf("on %s: %s: %w", m.Name, cmd, err)
		}
		if res.ExitStatus != r.ExpectExit {
			return fmt.Errorf("on %s: %s exited %d (expected %d)%s", m.Name, cmd, res.ExitStatus, r.ExpectExit, outputTail(res))
		}
		if re != nil {
			out := append(append([]byte{}, res.Stdout...), res.Stderr...)
			if !re.Match(out) {
				return fmt.Errorf("on %s: output of %s does not match /%s/%s", m.Name, cmd, r.Expect, outputTail(res))
			}
		}
		env.info("command ran as expected", "member", m.Name, "command", cmd.String(), "exit", res.ExitStatus)
	}
	return nil
}
