package steps

import (
	"github.com/etcdplay/etcdplay/schema"
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

func (*SSHStop) Plan(c *PlanContext) (Plan, error) {
	if c.Member == nil {
		return Plan{Text: "stop the member's service"}, nil
	}
	return Plan{Text: "on " + c.Member.Name + ": " + c.Member.Service.Stop + ", then confirm etcd's process and client port are gone",
		Args: map[string]string{"command": c.Member.Service.Stop}}, nil
}
