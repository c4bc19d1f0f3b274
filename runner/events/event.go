package events

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/etcdplay/etcdplay/runner/events/redact"
	"github.com/etcdplay/etcdplay/schema"
)

// Kind says what happened.
type Kind string

// The kinds of event, in the order a run emits them.
const (
	RunStart    Kind = "run-start"
	PhaseStart  Kind = "phase-start"
	MemberStart Kind = "member-start"
	StepStart   Kind = "step-start"
	StepDone    Kind = "step-done"
	StepSkipped Kind = "step-skipped" // guard false, or already done before a resume
	StepFailed  Kind = "step-failed"
	// StepInterrupted is a step the operator's Ctrl-C stopped: not a
	// failure of the step, so views do not show it as one.
	StepInterrupted Kind = "step-interrupted"
	MemberDone      Kind = "member-done"
	Warn            Kind = "warn"
	RunDone         Kind = "run-done"
	RunFailed       Kind = "run-failed"
	Interrupted     Kind = "interrupted"

	// Info is a runner remark that is neither progress nor a warning
	// (e.g. "every member is already on the target").
	Info Kind = "info"
	// Gate is a safety gate's verdict about a member (docs/safety.md invariants
	// 1 and 2), so a reader of the JSON stream sees each check pass.
	Gate Kind = "gate"
	// Reconcile is resume's finding about a member the journal left
	// mid-upgrade, and what happens to it next.
	Reconcile Kind = "reconcile"
	// Record carries a result for the report: a backup manifest, a
	// member's version before and after.
	Record Kind = "record"
	// Pause is the runner waiting for the operator at a safe point
	// (run --pause), and what the operator answered.
	Pause Kind = "pause"
)

// Event is one thing the runner did or saw. It is plain data: sinks decide
// how it looks.
type Event struct {
	Time  time.Time
	RunID string
	Kind  Kind
	// Phase is the playbook section the event belongs to (schema.Phase,
	// the one phase type of the runner, the journal and the report); empty
	// for run-wide events.
	Phase schema.Phase
	// Member is the member a per-member event is about; empty for
	// cluster-wide events (preflight, finish, run-*).
	Member string
	// StepIndex is the 1-based position of the step in its phase (for
	// members and rollback: in the member's step list); 0 when the event is
	// not about a step.
	StepIndex int
	// Steps is how many steps the phase has, so views can say "step 3/8";
	// 0 when unknown.
	Steps    int
	StepName string // the step's name: its `name:` or, by default, its action
	Action   string // the action kind: ssh-stop, wait, backup, ...
	Message  string // a sentence for people; on step-failed, the error
	// Duration is how long the step, member or run took, on *-done,
	// step-failed and run-* events.
	Duration time.Duration
	// Spent says what Duration counts as in the report's time accounting
	// (see Spent); empty for events whose time is the runner's own.
	Spent Spent
	// Fields carries anything else worth keeping (versions, a backup's
	// checksum). By convention run-start carries "cluster" and "playbook",
	// which the run report reads. Secret-looking keys are redacted by every
	// sink.
	Fields map[string]any
	// Hop is the 1-based position of the event's playbook in an upgrade
	// route (`etcdplay upgrade --to`); 0 for a run of one playbook.
	Hop int
}

// Sink receives events. Emit must be safe for concurrent use and must not
// block the runner for long; a sink that fails to write keeps the error for
// itself (see JSON.Err) rather than stopping an upgrade half-way.
type Sink interface {
	Emit(Event)
}

// Redact returns a copy of e that is safe to write anywhere: secret-looking
// fields are masked, and PEM blocks and secret flags are removed from every
// string.
func Redact(e Event) Event {
	e.Message = redact.String(e.Message)
	e.StepName = redact.String(e.StepName)
	e.Fields = redact.Fields(e.Fields)
	return e
}

// wire is the JSON shape of an Event. Field order here is the order on the
// line; it is part of the `-o json` contract, so only append to it.
type wire struct {
	Time       string         `json:"time"`
	RunID      string         `json:"run_id,omitempty"`
	Kind       Kind           `json:"kind"`
	Phase      schema.Phase   `json:"phase,omitempty"`
	Member     string         `json:"member,omitempty"`
	StepIndex  int            `json:"step_index,omitempty"`
	Steps      int            `json:"steps,omitempty"`
	StepName   string         `json:"step_name,omitempty"`
	Action     string         `json:"action,omitempty"`
	Message    string         `json:"message,omitempty"`
	DurationMS *int64         `json:"duration_ms,omitempty"`
	Fields     map[string]any `json:"fields,omitempty"`
	Spent      Spent          `json:"spent,omitempty"`
	Hop        int            `json:"hop,omitempty"`
}

// timeLayout keeps a fixed number of fraction digits so lines align and
// sort as text.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes the event in its documented line format: UTC times
// with milliseconds, durations in whole milliseconds, zero values left out.
func (e Event) MarshalJSON() ([]byte, error) {
	w := wire{
		Time: e.Time.UTC().Format(timeLayout), RunID: e.RunID, Kind: e.Kind, Phase: e.Phase,
		Member: e.Member, StepIndex: e.StepIndex, Steps: e.Steps, StepName: e.StepName,
		Action: e.Action, Message: e.Message, Fields: e.Fields, Spent: e.Spent, Hop: e.Hop,
	}
	if e.Duration != 0 {
		ms := e.Duration.Milliseconds()
		w.DurationMS = &ms
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads an event written by MarshalJSON, so a JSON-lines
// stream can be turned back into a report.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, w.Time)
	if err != nil {
		return fmt.Errorf("event time %q: %w", w.Time, err)
	}
	*e = Event{
		Time: t, RunID: w.RunID, Kind: w.Kind, Phase: w.Phase, Member: w.Member,
		StepIndex: w.StepIndex, Steps: w.Steps, StepName: w.StepName, Action: w.Action,
		Message: w.Message, Fields: w.Fields, Spent: w.Spent, Hop: w.Hop,
	}
	if w.DurationMS != nil {
		e.Duration = time.Duration(*w.DurationMS) * time.Millisecond
	}
	return nil
}
