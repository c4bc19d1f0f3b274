package steps

import (
	"github.com/etcdplay/etcdplay/schema"
)

// Action is one step kind's arguments. The required interface is small on
// purpose, as in k0sctl's phases: what every action must do. Optional
// capabilities (acting on one member, checks that depend on the step's
// place) are separate interfaces found by type assertion, see
// schema.MemberScoped and schema.ContextChecker.
type Action interface {
	schema.Args
	// Kind is the action's key in a playbook, e.g. "swap".
	Kind() string
	// Plan resolves the arguments against the inventory and describes the
	// step in one stable line. It touches nothing.
	Plan(c *PlanContext) (Plan, error)
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
