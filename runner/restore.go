package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/runner/report"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// A restore (docs/restore.md) is a plan of typed steps (steps.RestorePlaybook)
// run by the same machinery as an upgrade: lock, journal before and after
// every step, events, report. What differs is the body: no member loop and
// no stop gate (a restore stops every member on purpose, after the
// operator confirmed the plan), no probe before the lock (the cluster may
// be down: that is why it is restored), and on resume the steps the
// journal shows done are not run again. The plan itself is kept in
// run.json, so a resume runs the very commands that were confirmed.

// Restore runs the restore plan p. o.Playbook is built from p;
// o.PlaybookPath, o.PlaybookDigest are set here; o.Locker should be the
// hosts' lock (the cluster's own is in the data being replaced).
func Restore(ctx context.Context, o Options, p *steps.RestorePlan) (*Result, error) {
	o.Playbook = steps.RestorePlaybook(p, o.Inventory)
	o.PlaybookPath, o.PlaybookDigest = p.Backup.File, restoreDigest(p)
	r, err := newRun(o, modeRestore)
	if err != nil {
		return nil, err
	}
	r.restorePlan = p
	return r.execute(ctx)
}

// ResumeRestore continues the restore journaled in the state folder, with
// its plan from run.json: steps journaled done are skipped, the one in
// flight runs again (each restore step is safe to repeat).
func ResumeRestore(ctx context.Context, o Options, p *steps.RestorePlan) (*Result, error) {
	recs, warning, err := journal.Read(o.StateDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, exit.New(exit.Usage, fmt.Errorf("nothing to resume: no journal in %s", o.StateDir), "")
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
	if d := restoreDigest(p); st.PlaybookDigest != "" && st.PlaybookDigest != d {
		return nil, exit.New(exit.Invalid, fmt.Errorf("run %s is not the restore run.json describes", st.RunID), "read the journal in "+o.StateDir)
	}
	o.Playbook = steps.RestorePlaybook(p, o.Inventory)
	o.PlaybookPath, o.PlaybookDigest, o.RunID = p.Backup.File, restoreDigest(p), st.RunID
	r, err := newRun(o, modeRestore)
	if err != nil {
		return nil, err
	}
	r.restorePlan, r.resuming = p, true
	r.restoreDone = map[string]bool{}
	for _, rec := range recs {
		if rec.RunID == st.RunID && rec.Kind == journal.StepDone {
			r.restoreDone[stepKey(rec.Phase, rec.StepIndex)] = true
		}
	}
	if warning != "" {
		r.emit(events.Event{Kind: events.Warn, Message: "journal: " + warning})
	}
	return r.execute(ctx)
}

func stepKey(ph schema.Phase, idx int) string { return fmt.Sprintf("%s/%d", ph, idx) }

// restoreDigest names a plan in the journal, as a playbook's digest does.
func restoreDigest(p *steps.RestorePlan) string {
	b, _ := json.Marshal(p)
	return journal.Digest(b)
}

// restoreBody runs the preflight steps (a failure is a refusal: nothing
// has stopped), then the restore phase. Steps a resumed restore finds done
// in the journal are skipped.
func (r *run) restoreBody(ctx context.Context) error {
	if err := r.restorePhase(ctx, schema.PhasePreflight, r.pb.Preflight); err != nil {
		if exit.Code(err) == exit.StepFailed {
			return refused(err, "nothing was stopped; fix what the check observed, then run again")
		}
		return err
	}
	if err := r.restorePhase(ctx, schema.PhaseRestore, r.pb.Finish); err != nil {
		return err
	}
	for _, n := range r.names {
		r.members[n].State = "restored"
	}
	return nil
}

func (r *run) restorePhase(ctx context.Context, ph schema.Phase, list []*schema.Step) error {
	r.emit(events.Event{Kind: events.PhaseStart, Phase: ph, Steps: len(list)})
	for i, s := range list {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if r.restoreDone[stepKey(ph, i+1)] {
			continue
		}
		var cfg *schema.MemberConfig
		if a, ok := s.Args.(interface{ RestoreMemberName() string }); ok && a.RestoreMemberName() != "" {
			c := r.inv.Resolve(r.inv.Member(a.RestoreMemberName()))
			cfg = &c
			if ph == schema.PhaseRestore {
				r.members[c.Name].State = "restoring: " + s.Action
			}
		}
		if err := r.step(ctx, ph, cfg, s, i+1, len(list)); err != nil {
			return err
		}
	}
	return nil
}

// restoreReport is the report's restore section, from the plan and the
// keys the final wait counted.
func (r *run) restoreReport(evs []events.Event) *report.Restore {
	p := r.restorePlan
	x := &report.Restore{Backup: p.Backup, Version: p.Version, Token: p.Token, SetAside: map[string]string{}}
	for _, m := range p.Members {
		x.SetAside[m.Name] = m.Aside
	}
	for _, e := range evs {
		if e.Kind != events.Record {
			continue
		}
		switch v := e.Fields[e.Message].(type) {
		case int:
			if e.Message == "keys-after" {
				x.KeysAfter = v
			}
		case int64:
			if e.Message == "revision-after" {
				x.RevisionAfter = v
			}
		case float64: // read back from events.jsonl
			switch e.Message {
			case "keys-after":
				x.KeysAfter = int(v)
			case "revision-after":
				x.RevisionAfter = int64(v)
			}
		}
	}
	return x
}
