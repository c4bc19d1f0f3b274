package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/etcdplay/etcdplay/schema"
)

// MemberState is what the journal knows about one member in the last run.
type MemberState struct {
	Name string
	// Done: member-done was journaled, the member is upgraded and verified.
	Done bool
	// LastStep is the index of the member's last step-done in the members
	// phase; 0 when none. The runner journals a step skipped by its guard
	// as a step-done too, so this moves past skipped steps.
	LastStep int
	// InFlight is a step-start (members or rollback phase) with no matching
	// step-done or step-failed: the step may or may not have happened, and
	// if InFlight.Critical the member may be stopped or half-swapped.
	// Resume must look at the member before doing anything else.
	InFlight *Record
	// Failed is the last step-failed, cleared when a later step succeeds.
	Failed *Record
	// RolledBack: a rollback-done for this member was journaled; its
	// members-phase progress starts again from the first step.
	RolledBack bool
}

// State is the last run folded out of a journal: what resume reconciles
// with the live cluster.
type State struct {
	RunID string
	// Hop is the route hop the last run-start opened (Record.Hop); 0 for a
	// run of one playbook. Only that hop's records are folded: each hop
	// runs its own playbook, so an earlier hop's member-done says nothing
	// about this one.
	Hop             int
	PlaybookDigest  string
	InventoryDigest string
	Started         time.Time // the run's first run-start
	// Members in the order the journal first mentions them.
	Members map[string]*MemberState
	Order   []string
	// InFlight is a cluster-wide step (preflight, finish) started and not
	// finished.
	InFlight *Record
	// Last is the run's last record.
	Last *Record
	// Ended is the kind of the run's last record when that record ends a
	// run (run-done, run-failed, interrupted, rollback-done); empty when the
	// run stopped without a word (a crash or a lost connection).
	Ended Kind
}

// Finished reports whether the run completed: nothing left to resume.
func (s *State) Finished() bool { return s.Ended == RunDone }

// Member returns the state of the named member, the zero state (nothing
// done) when the journal never mentions it.
func (s *State) Member(name string) MemberState {
	if m, ok := s.Members[name]; ok {
		return *m
	}
	return MemberState{Name: name}
}

// Reconcile folds the records of the last run in recs (the run id and hop
// of the last run-start; of the last record if there is none) into a
// State. Older runs appended before it, and the earlier hops of a route,
// are ignored. It returns nil for no records.
func Reconcile(recs []Record) *State {
	if len(recs) == 0 {
		return nil
	}
	last := recs[len(recs)-1]
	s := &State{Members: map[string]*MemberState{}, RunID: last.RunID, Hop: last.Hop}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Kind == RunStart {
			s.RunID, s.Hop = recs[i].RunID, recs[i].Hop
			break
		}
	}
	for i := range recs {
		r := recs[i]
		if r.RunID != s.RunID || r.Hop != s.Hop {
			continue
		}
		s.apply(&r)
	}
	return s
}

func (s *State) member(name string) *MemberState {
	m, ok := s.Members[name]
	if !ok {
		m = &MemberState{Name: name}
		s.Members[name] = m
		s.Order = append(s.Order, name)
	}
	return m
}

func (s *State) apply(r *Record) {
	s.Last = r
	s.Ended = ""
	if r.IsTerminal() {
		s.Ended = r.Kind
	}
	if r.Kind == RunStart {
		if s.Started.IsZero() {
			s.Started = r.Time
		}
		if r.PlaybookDigest != "" || r.InventoryDigest != "" {
			s.PlaybookDigest, s.InventoryDigest = r.PlaybookDigest, r.InventoryDigest
		}
		return
	}
	if r.Member == "" {
		switch r.Kind {
		case StepStart:
			s.InFlight = r
		case StepDone, StepFailed:
			if s.InFlight != nil && sameStep(s.InFlight, r) {
				s.InFlight = nil
			}
		}
		return
	}
	m := s.member(r.Member)
	switch r.Kind {
	case StepStart:
		// A newer start replaces an older in-flight step: the runner
		// journals the outcome of its re-check before moving on.
		m.InFlight = r
	case StepDone:
		if m.InFlight != nil && sameStep(m.InFlight, r) {
			m.InFlight = nil
		}
		if r.Phase == schema.PhaseMembers || r.Phase == "" {
			m.LastStep = r.StepIndex
		}
		m.Failed = nil
	case StepFailed:
		if m.InFlight != nil && sameStep(m.InFlight, r) {
			m.InFlight = nil
		}
		m.Failed = r
	case MemberDone:
		m.Done = true
		m.Failed = nil
	case RollbackDone:
		m.RolledBack = true
		m.Done = false
		m.LastStep = 0
		m.Failed = nil
		m.InFlight = nil
	}
}

func sameStep(a, b *Record) bool {
	return a.Phase == b.Phase && a.Member == b.Member && a.StepIndex == b.StepIndex
}

// CheckDigests refuses to resume with a playbook or inventory other than
// the ones the run started with: the journal's step indexes would point at
// different steps.
func (s *State) CheckDigests(playbook, inventory string) error {
	if s.PlaybookDigest != "" && playbook != s.PlaybookDigest {
		return fmt.Errorf("run %s started with another playbook (%s, now %s): resume needs the same file, or start a new run", s.RunID, s.PlaybookDigest, playbook)
	}
	if s.InventoryDigest != "" && inventory != s.InventoryDigest {
		return fmt.Errorf("run %s started with another inventory (%s, now %s): resume needs the same file, or start a new run", s.RunID, s.InventoryDigest, inventory)
	}
	return nil
}

// Digest is how the journal names a file's content: "sha256:<hex>".
func Digest(content []byte) string {
	sum := sha256.Sum256(content)
	return "sha256:" + hex.EncodeToString(sum[:])
}
