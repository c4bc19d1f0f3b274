package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
)

// ErrNothingToResume is returned (exit 0 by the CLI) when the journal's
// last run finished.
var ErrNothingToResume = errors.New("nothing to resume")

// Resume continues the journal's last run with the same run id. It refuses
// a playbook or inventory whose digest changed since the run started
// (exit 3) unless Force. It re-probes the cluster and reconciles it with
// the journal before anything runs (see reconcile): a member found on the
// target version is verified, never stopped again; a member left down or
// on the old version runs its steps again from the first, behind the same
// safety gates. Preflight is not repeated once the run reached the members
// phase (its health check would see the member left down); the runner's
// own preflight gate still runs, allowing the members the journal left
// mid-upgrade to be down.
func Resume(ctx context.Context, o Options) (*Result, error) {
	recs, warning, err := journal.Read(o.StateDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, exit.New(exit.Usage, fmt.Errorf("nothing to resume: no journal in %s", o.StateDir),
				"start a run with `etcdplay run PLAYBOOK -i INV`; --state-dir must match the run's")
		}
		return nil, exit.New(exit.Internal, err, "the journal is damaged; read it before going on: "+o.StateDir)
	}
	st := journal.Reconcile(recs)
	if st == nil {
		return nil, exit.New(exit.Usage, fmt.Errorf("nothing to resume: the journal in %s is empty", o.StateDir), "")
	}
	if st.Finished() {
		return &Result{RunID: st.RunID, Cluster: o.Inventory.Cluster, Outcome: OutcomeSucceeded}, ErrNothingToResume
	}
	if err := st.CheckDigests(o.PlaybookDigest, o.InventoryDigest); err != nil && !o.Force {
		return nil, exit.New(exit.Invalid, err, "resume with the files the run started with, or add --force if the change is deliberate (step numbers in the journal then refer to the new files)")
	}
	o.RunID = st.RunID
	r, err := newRun(o, modeResume)
	if err != nil {
		return nil, err
	}
	r.journalState = st
	r.tolerate = map[string]bool{}
	for _, n := range st.Order {
		ms := st.Member(n)
		if !ms.Done && (ms.InFlight != nil || ms.Failed != nil || ms.LastStep > 0) {
			r.tolerate[n] = true
		}
		if ms.Done || ms.InFlight != nil || ms.LastStep > 0 || ms.Failed != nil {
			r.preflightDone = true
		}
	}
	for _, rec := range recs {
		if rec.RunID == st.RunID && rec.Hop == st.Hop && rec.Phase == schema.PhaseMembers {
			r.preflightDone = true
		}
	}
	if warning != "" {
		r.emit(events.Event{Kind: events.Warn, Message: "journal: " + warning})
	}
	if len(r.tolerate) > 1 {
		return nil, exit.New(exit.Refused, fmt.Errorf("the journal shows %d members mid-upgrade; etcdplay upgrades one at a time, so it will not guess", len(r.tolerate)),
			"look at `etcdplay status -i INV` and the journal in "+o.StateDir)
	}
	return r.execute(ctx)
}
