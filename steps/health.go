package steps

import (
	"github.com/etcdplay/etcdplay/schema"
	"gopkg.in/yaml.v3"
)

// Health checks that the cluster (or one member) is healthy, the way the
// guides ask before and after every member: v3 Status and a Get plus an
// empty alarm list; v2 /health and /v2/members.
type Health struct {
	Member string `yaml:"member" json:"member,omitempty" jsonschema:"enum=self|all" doc:"self: only the member being upgraded; all (default): every member"`
}

func (*Health) Kind() string { return "health" }

// DecodeArgs accepts `health: {}`, `health:` and `health: {member: self}`.
func (h *Health) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	d.Fields(n, "health", h, func(key string, v *yaml.Node) {
		if key == "member" {
			h.Member = d.Enum(v, "health.member", "self", "all")
		}
	})
}

// NeedsMember: health of "self" only makes sense where there is a member.
func (h *Health) NeedsMember() bool { return h.Member == "self" }

// JSONSchemaShortForm: `health:` with no value means every member.
func (*Health) JSONSchemaShortForm() map[string]any { return map[string]any{"type": "null"} }

func (h *Health) Plan(c *PlanContext) (Plan, error) {
	how := "Status and a read through every member, no active alarm"
	if c.api() == "v2" {
		how = "/health on every member and /v2/members"
	}
	if h.Member == "self" {
		return Plan{Text: "check " + c.who() + " is healthy (" + how + ")", Args: map[string]string{"member": c.who()}}, nil
	}
	return Plan{Text: "check the cluster is healthy (" + how + ")", Args: map[string]string{"member": "all"}}, nil
}
