package journal

import (
	"time"

	"github.com/etcdplay/etcdplay/runner/events/redact"
	"github.com/etcdplay/etcdplay/schema"
)

// Kind says what a record marks.
type Kind string

// The kinds of record.
const (
	RunStart     Kind = "run-start" // also written when a run is resumed, with the same run id
	StepStart    Kind = "step-start"
	StepDone     Kind = "step-done"
	StepFailed   Kind = "step-failed"
	MemberDone   Kind = "member-done"
	RunDone      Kind = "run-done"
	RunFailed    Kind = "run-failed"
	Interrupted  Kind = "interrupted"
	RollbackDone Kind = "rollback-done"
)

// Record is one line of the journal.
type Record struct {
	Time  time.Time    `json:"time"`
	RunID string       `json:"run_id"`
	Kind  Kind         `json:"kind"`
	Phase schema.Phase `json:"phase,omitempty"`
	// Member is empty for cluster-wide records (run-*, preflight, finish).
	Member string `json:"member,omitempty"`
	// StepIndex is the 1-based position of the step in its phase (in the
	// member's step list for members and rollback); 0 when not a step.
	StepIndex int    `json:"step_index,omitempty"`
	Action    string `json:"action,omitempty"`
	// Critical marks a destructive step (stop, swap, start): on a
	// step-start it means "from here until the matching step-done, the
	// member's state is unknown", which resume must re-check.
	Critical bool `json:"critical,omitempty"`
	// The digests of the playbook and inventory the run started with, on
	// run-start records: resume refuses to go on with different files.
	PlaybookDigest  string `json:"playbook_digest,omitempty"`
	InventoryDigest string `json:"inventory_digest,omitempty"`
	// Hop is the 1-based position of the record's playbook in an upgrade
	// route (`etcdplay upgrade --to`), whose hops share one run id; 0 for a
	// run of one playbook.
	Hop int `json:"hop,omitempty"`
	// Detail is free text for people: an error, what a step observed. It is
	// redacted before it is written.
	Detail string `json:"detail,omitempty"`
}

// IsTerminal reports whether the record ends a run (for now: a resume may
// append a new run-start with the same id).
func (r Record) IsTerminal() bool {
	switch r.Kind {
	case RunDone, RunFailed, Interrupted, RollbackDone:
		return true
	}
	return false
}

// redacted returns the record as it may be written.
func (r Record) redacted() Record {
	r.Detail = redact.String(r.Detail)
	return r
}
