package steps

import (
	"github.com/etcdplay/etcdplay/schema"
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

func (*SSHStart) Plan(c *PlanContext) (Plan, error) {
	if c.Member == nil {
		return Plan{Text: "start the member's service"}, nil
	}
	return Plan{Text: "on " + c.Member.Name + ": " + c.Member.Service.Start,
		Args: map[string]string{"command": c.Member.Service.Start}}, nil
}
