package schema

import (
	"time"

	"gopkg.in/yaml.v3"
)

// Args is one action's typed arguments. Each decodes itself strictly from
// its node (which may be null for `health:` or a short form the action
// accepts), validates its own values and reports problems to d.
type Args interface {
	DecodeArgs(d *Decoder, n *yaml.Node)
}

// Bounded is implemented by arguments that know how long one attempt of
// their action may take when the step gives no `timeout:` (0: nothing but
// the run itself bounds it, as for a human's answer or a fixed wait). The
// loader reads it once, into Step.Bound; see docs/timeouts.md.
type Bounded interface {
	Bound() time.Duration
}

// ActionSet is the action vocabulary the loader decodes steps with.
// steps.Registry implements it; schema never imports steps.
type ActionSet interface {
	// Kinds lists the action names, sorted.
	Kinds() []string
	// New returns fresh, empty arguments for kind, or false when there is
	// no such action.
	New(kind string) (Args, bool)
}

// MemberScoped is implemented by arguments that act on one member (stop,
// swap, start...). Such steps make sense only where there is a member: in
// members.steps and rollback.
type MemberScoped interface {
	NeedsMember() bool
}

// ContextChecker is implemented by arguments whose validity depends on
// where the step sits: swap's target must be the playbook's target in
// members.steps and its source in rollback; backup has no place in rollback.
type ContextChecker interface {
	CheckContext(d *Decoder, c StepContext)
}

// StepContext is where a step sits in its playbook.
type StepContext struct {
	Playbook *Playbook
	Phase    Phase
	Step     *Step
}

// Phase is a section of a playbook.
type Phase string

// The phases, in the order a run goes through them. Rollback runs only when
// a member fails while the cluster is still mixed.
const (
	PhasePreflight Phase = "preflight"
	PhaseMembers   Phase = "members"
	PhaseFinish    Phase = "finish"
	PhaseRollback  Phase = "rollback"
	// PhaseRestore is `etcdplay restore`'s phase: every member stopped,
	// restored from one snapshot and started (docs/restore.md). No
	// playbook has it.
	PhaseRestore Phase = "restore"
)

// PerMember reports whether steps in the phase run for one member at a time.
func (p Phase) PerMember() bool { return p == PhaseMembers || p == PhaseRollback }
