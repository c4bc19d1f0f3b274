package steps

import (
	"context"
	"time"

	"github.com/etcdplay/etcdplay/schema"
)

// Action is one step kind's arguments and behaviour. The required
// interface is small on purpose, as in k0sctl's phases: what every action
// must do. Optional capabilities (acting on one member, checks that depend
// on the step's place, a preflight proof, being critical) are separate
// interfaces found by type assertion: schema.MemberScoped,
// schema.ContextChecker, Preflighter, Critical.
type Action interface {
	schema.Args
	// Kind is the action's key in a playbook, e.g. "swap".
	Kind() string
	// Plan resolves the arguments against the inventory and describes the
	// step in one stable line. It touches nothing.
	Plan(c *PlanContext) (Plan, error)
	// Bound is how long one attempt may take when the step gives no
	// timeout (0: only the run bounds it). The loader resolves it into
	// schema.Step.Bound once; the runner puts it on each attempt's ctx, so
	// Run needs no clock of its own: it ends when ctx does.
	Bound() time.Duration
	// Run does what the guide's sentence means, then verifies its own
	// effect. An error says what was observed and what was expected; the
	// runner adds the member and step.
	Run(ctx context.Context, env *Env) error
}

// PlanContext is what a plan resolves arguments against.
type PlanContext struct {
	Playbook  *schema.Playbook
	Inventory *schema.Inventory
	Phase     schema.Phase
	// Member is the member the step runs for in per-member phases; nil in
	// preflight and finish.
	Member *schema.MemberConfig
}

// Plan is an action's resolved arguments and its one-line description.
type Plan struct {
	Text string            `json:"text"`
	Args map[string]string `json:"args,omitempty"`
}

// who names the member a step acts on, or "the member" when planning
// without one.
func (c *PlanContext) who() string {
	if c.Member == nil {
		return "the member"
	}
	return c.Member.Name
}

func (c *PlanContext) api() string {
	if c.Inventory == nil || c.Inventory.API == "" {
		return "v3"
	}
	return c.Inventory.API
}
