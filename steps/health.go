package steps

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/etcdprobe"
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

// Bound: one probe of the cluster; a slow answer is a problem to report.
func (*Health) Bound() time.Duration { return 30 * time.Second }

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

// Run probes the cluster once. A member that is not healthy fails the step
// with what the probe saw; the guides check health before and after each
// member and expect it to hold, so a single probe decides (use wait to
// wait for it).
func (h *Health) Run(ctx context.Context, env *Env) error {
	c, err := env.Cluster.Cluster(ctx)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	if h.Member == "self" {
		me, err := needMember(env, "health: {member: self}")
		if err != nil {
			return err
		}
		m := c.MemberByName(me.Name)
		if m == nil {
			return fmt.Errorf("%s is not in the cluster's member list (expected a healthy member)", me.Name)
		}
		if why := m.Unhealthy(); why != "" {
			return fmt.Errorf("%s is %s (expected healthy)", me.Name, why)
		}
		if alarms := alarmText(c); alarms != "" {
			return fmt.Errorf("alarm raised in the cluster: %s (expected none)", alarms)
		}
		env.info("member healthy", "member", me.Name, "server", m.Server)
		return nil
	}
	if problems := c.Problems(); len(problems) > 0 {
		return fmt.Errorf("cluster not healthy: %s", strings.Join(problems, "; "))
	}
	env.info("cluster healthy", "members", len(c.Members), "leader", c.Leader)
	return nil
}

// alarmText lists the raised alarms for a member-scoped health check.
func alarmText(c *etcdprobe.Cluster) string {
	var out []string
	for _, a := range c.Alarms {
		out = append(out, a.Type+" on "+cmp.Or(a.Member, a.MemberID.String()))
	}
	return strings.Join(out, ", ")
}
