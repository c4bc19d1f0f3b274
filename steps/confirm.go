package steps

import (
	"context"
	"fmt"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"gopkg.in/yaml.v3"
)

// Confirm is a human gate: the run asks on a terminal and goes on only on
// yes; without a terminal it needs --yes. Guides that say "contact us
// first" or "make sure no X happens" become one.
type Confirm struct {
	Message string `yaml:"message" json:"message" jsonschema:"required" doc:"the question put to the operator"`
}

func (*Confirm) Kind() string { return "confirm" }

// DecodeArgs accepts `confirm: {message: "..."}` and `confirm: "..."`.
func (c *Confirm) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	if schema.IsScalar(n) {
		c.Message = d.NonEmpty(n, "confirm")
		return
	}
	set := map[string]bool{}
	if !d.Fields(n, "confirm", c, func(key string, v *yaml.Node) {
		set[key] = true
		if key == "message" {
			c.Message = d.NonEmpty(v, "confirm.message")
		}
	}) {
		return
	}
	if !set["message"] {
		d.Hintf(n, `e.g. confirm: "no unprivileged LeaseRevoke runs during the upgrade?"`, "confirm: missing required key \"message\"")
	}
}

// JSONSchemaShortForm: `confirm: "question"`.
func (*Confirm) JSONSchemaShortForm() map[string]any {
	return map[string]any{"type": "string", "minLength": 1}
}

// Bound: none; a person answers when they have read the question, and the
// run (Ctrl-C) bounds the wait.
func (*Confirm) Bound() time.Duration { return 0 }

func (c *Confirm) Plan(*PlanContext) (Plan, error) {
	return Plan{Text: "ask the operator: " + c.Message + " (needs a terminal or --yes)",
		Args: map[string]string{"message": c.Message}}, nil
}

// Run asks the operator. A no, or no way to ask (no terminal and no
// --yes), stops the run: a human gate that opens by itself is no gate.
func (c *Confirm) Run(ctx context.Context, env *Env) error {
	if env.Confirm == nil {
		return fmt.Errorf("confirm %q: nobody to ask (no terminal and no --yes)", c.Message)
	}
	ok, err := env.Confirm(ctx, c.Message)
	if err != nil {
		return fmt.Errorf("confirm %q: %w", c.Message, err)
	}
	if !ok {
		return fmt.Errorf("the operator did not confirm %q (answer yes on a terminal, or pass --yes)", c.Message)
	}
	env.info("confirmed", "message", c.Message)
	return nil
}
