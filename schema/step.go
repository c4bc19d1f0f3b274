package schema

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Step is one action plus the options every step has. Exactly one action
// key is allowed per step, so a reviewer reads one thing per line.
type Step struct {
	Action  string   `yaml:"-" json:"action"`
	Args    Args     `yaml:"-" json:"args"`
	Name    string   `yaml:"name" json:"name,omitempty" doc:"what the step does, in the guide's words"`
	When    *Guard   `yaml:"when" json:"when,omitempty" doc:"run the step only when this guard holds"`
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty" doc:"bound for each attempt of the step (Go duration); default: the action's own"`
	Retries int      `yaml:"retries" json:"retries,omitempty" jsonschema:"minimum=0" doc:"extra attempts when an attempt fails or times out"`
	// Bound is how long one attempt may take, resolved once by the loader:
	// Timeout when set, else the action's own bound (Bounded); 0 means
	// only the run's context bounds the step. plan shows it and run
	// applies it, so the two cannot disagree.
	Bound Duration `yaml:"-" json:"bound,omitempty"`
	Pos   Pos      `yaml:"-" json:"pos"`
	// ActionPos is where the action key is written.
	ActionPos Pos `yaml:"-" json:"-"`
}

// decodeSteps decodes a list of steps of one phase.
func (d *Decoder) decodeSteps(n *yaml.Node, what string) []*Step {
	n = resolve(n)
	if IsNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.Errorf(n, "%s must be a list of steps, got %s", what, kindName(n))
		return nil
	}
	var out []*Step
	for i, c := range n.Content {
		if s := d.decodeStep(c, fmt.Sprintf("%s[%d]", what, i)); s != nil {
			out = append(out, s)
		}
	}
	return out
}

func (d *Decoder) decodeStep(n *yaml.Node, what string) *Step {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.Hintf(n, "write a step as a mapping, e.g. `- health: {}`", "step %s must be a mapping with one action, got %s", what, kindName(n))
		return nil
	}
	s := &Step{Pos: d.Pos(n)}
	var kinds []string
	if d.actions != nil {
		kinds = d.actions.Kinds()
	}
	stepKeys := Keys(Step{})
	seen := map[string]bool{}
	var actionKey, actionVal *yaml.Node
	unknown := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.Errorf(k, "step %s: keys must be plain words, got %s", what, kindName(k))
			continue
		}
		if seen[k.Value] {
			d.Errorf(k, "step %s: key %q is repeated", what, k.Value)
			continue
		}
		seen[k.Value] = true
		switch k.Value {
		case "name":
			s.Name = d.String(v, "name")
		case "when":
			s.When = d.Guard(v, "when")
		case "timeout":
			s.Timeout = d.Duration(v, "timeout")
		case "retries":
			s.Retries = d.Int(v, "retries")
			if s.Retries < 0 {
				d.Errorf(v, "retries must be 0 or more, got %d", s.Retries)
			}
			if s.Retries > MaxRetries {
				d.Errorf(v, "retries must be at most %d, got %d", MaxRetries, s.Retries)
			}
		default:
			if !slices.Contains(kinds, k.Value) {
				hint := didYouMean(k.Value, slices.Concat(kinds, stepKeys))
				if hint == "" {
					hint = "actions: " + strings.Join(kinds, ", ")
				}
				d.Hintf(k, hint, "unknown action %q", k.Value)
				unknown = true
				continue
			}
			if actionKey != nil {
				d.Hintf(k, "write each action as its own step (its own `- ` list item)",
					"step %s has two actions, %q and %q", what, actionKey.Value, k.Value)
				continue
			}
			actionKey, actionVal = k, v
		}
	}
	if actionKey == nil {
		if unknown {
			return nil // the unknown key was most likely meant as the action
		}
		if len(kinds) > 0 {
			d.Hintf(n, "actions: "+strings.Join(kinds, ", "), "step %s has no action", what)
		} else {
			d.Errorf(n, "step %s has no action", what)
		}
		return nil
	}
	s.Action, s.ActionPos = actionKey.Value, d.Pos(actionKey)
	args, _ := d.actions.New(s.Action)
	prev := d.inArgs
	d.inArgs = s.Action
	args.DecodeArgs(d, actionVal)
	d.inArgs = prev
	s.Args = args
	s.Bound = s.Timeout
	if b, ok := args.(Bounded); ok && s.Bound == 0 {
		s.Bound = Duration(b.Bound())
	}
	return s
}

// checkSteps runs the checks that depend on where steps sit.
func (d *Decoder) checkSteps(p *Playbook, phase Phase, steps []*Step) {
	for _, s := range steps {
		if ms, ok := s.Args.(MemberScoped); ok && ms.NeedsMember() && !phase.PerMember() {
			d.ErrorAt(s.ActionPos, "move it to members.steps (or rollback)",
				"%s acts on one member, but %s has no member", s.Action, phase)
		}
		if cc, ok := s.Args.(ContextChecker); ok {
			cc.CheckContext(d, StepContext{Playbook: p, Phase: phase, Step: s})
		}
	}
}
