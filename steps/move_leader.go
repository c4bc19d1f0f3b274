package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/etcdprobe"

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

// Bound: a transfer takes an election or two; longer means the cluster is struggling.
func (*MoveLeader) Bound() time.Duration { return time.Minute }

func (m *MoveLeader) Plan(c *PlanContext) (Plan, error) {
	if c.api() != "v3" {
		return Plan{}, fmt.Errorf("move-leader needs the v3 API (etcd 3.3+), but the inventory says api: %s", c.api())
	}
	to := "a healthy member"
	if m.Prefer == "upgraded" {
		to = "a healthy member, preferably one already upgraded"
		if c.Playbook != nil && c.Playbook.IsDowngrade() {
			to = "a healthy member, preferably one already downgraded"
		}
	}
	return Plan{Text: "if " + c.who() + " leads, move leadership to " + to,
		Args: map[string]string{"prefer": m.Prefer}}, nil
}

// Run moves leadership away from the member when it leads: to a healthy
// voting member, preferring one already on the playbook's target minor so
// leadership moves once per upgrade. Then it probes again and fails unless
// another member leads. On v2 it is a no-op that says why: v2 has no
// leadership transfer, and stopping a v2 leader makes the others elect.
func (m *MoveLeader) Run(ctx context.Context, env *Env) error {
	me, err := needMember(env, "move-leader")
	if err != nil {
		return err
	}
	if env.api() == "v2" {
		env.info("v2 has no leadership transfer; stopping the leader triggers an election", "member", me.Name)
		return nil
	}
	c, err := env.Cluster.Cluster(ctx)
	if err != nil {
		return fmt.Errorf("move-leader: %w", err)
	}
	self := c.MemberByName(me.Name)
	if self == nil {
		return fmt.Errorf("%s is not in the cluster's member list", me.Name)
	}
	if !self.IsLeader {
		env.info("not the leader; nothing to move", "member", me.Name, "leader", c.Leader)
		return nil
	}
	to := m.pick(env, c, self)
	if to == nil {
		return fmt.Errorf("%s leads and no other member is healthy to take over (%s)", me.Name, strings.Join(c.Problems(), "; "))
	}
	toName := to.DisplayName()
	start := time.Now()
	if err := env.Cluster.MoveLeader(ctx, toName); err != nil {
		return err
	}
	var last string
	err = poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		c, err := env.Cluster.Cluster(ctx)
		if err != nil {
			note(ctx, &last, err.Error())
			return false, nil
		}
		if l := c.LeaderMember(); l != nil && l.DisplayName() != me.Name {
			note(ctx, &last, l.DisplayName()+" leads")
			return true, nil
		}
		note(ctx, &last, "leader is "+orNone(c.Leader))
		return false, nil
	})
	if err != nil {
		return pollErr(err, fmt.Sprintf("leadership still on %s %s after moving it to %s: %s (expected another member to lead)",
			me.Name, since(start), toName, last))
	}
	env.info("leadership moved", "from", me.Name, "to", toName, "now", last, "took", since(start))
	if seen, ok := settleHandoff(ctx, env, me.Name, toName); ok {
		env.info("hand-off settled", "member", me.Name, "observed", seen)
	} else {
		env.warn("hand-off did not settle; stopping anyway, quorum holds", "member", me.Name, "observed", seen)
	}
	return nil
}

// pick chooses the new leader: a reachable, healthy voter other than self;
// with prefer: upgraded, one whose server already runs the playbook's
// target minor when there is one. Inventory order breaks ties, so the
// choice is predictable.
func (m *MoveLeader) pick(env *Env, c *etcdprobe.Cluster, self *etcdprobe.Member) *etcdprobe.Member {
	var first, upgraded *etcdprobe.Member
	for i := range c.Members {
		o := &c.Members[i]
		if o == self || o.ID == self.ID || o.IsLearner || o.Unhealthy() != "" {
			continue
		}
		if first == nil {
			first = o
		}
		if upgraded == nil && OnTarget(env.Playbook, env.Inventory, o.Server) {
			upgraded = o
		}
	}
	if m.Prefer != "any" && upgraded != nil {
		return upgraded
	}
	return first
}
