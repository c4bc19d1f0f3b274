package steps

import (
	"fmt"

	"github.com/etcdplay/etcdplay/schema"
	"gopkg.in/yaml.v3"
)

// MoveLeader hands leadership away from the member before it stops, when it
// leads, so the cluster does not wait for an election while the member is
// down. It prefers a member already upgraded, so leadership moves once.
type MoveLeader struct {
	Prefer string `yaml:"prefer" json:"prefer,omitempty" jsonschema:"enum=upgraded|any" doc:"upgraded (default): prefer a member already on the new version"`
}

func (*MoveLeader) Kind() string { return "move-leader" }

func (m *MoveLeader) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	d.Fields(n, "move-leader", m, func(key string, v *yaml.Node) {
		if key == "prefer" {
			m.Prefer = d.Enum(v, "move-leader.prefer", "upgraded", "any")
		}
	})
	if m.Prefer == "" {
		m.Prefer = "upgraded"
	}
}

func (*MoveLeader) NeedsMember() bool { return true }

// JSONSchemaShortForm: `move-leader:` alone takes the defaults.
func (*MoveLeader) JSONSchemaShortForm() map[string]any { return map[string]any{"type": "null"} }

func (m *MoveLeader) Plan(c *PlanContext) (Plan, error) {
	if c.api() != "v3" {
		return Plan{}, fmt.Errorf("move-leader needs the v3 API (etcd 3.3+), but the inventory says api: %s", c.api())
	}
	to := "a healthy member"
	if m.Prefer == "upgraded" {
		to = "a healthy member, preferably one already upgraded"
	}
	return Plan{Text: "if " + c.who() + " leads, move leadership to " + to,
		Args: map[string]string{"prefer": m.Prefer}}, nil
}
