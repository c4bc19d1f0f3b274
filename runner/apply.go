package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/events/redact"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// mode is what a run does once locked and journaled.
type mode int

const (
	modeRun mode = iota
	modeResume
	modeRollback
	modeRestore
)

// run is one execution of Apply, Resume or Rollback.
type run struct {
	o    Options
	pb   *schema.Playbook
	inv  *schema.Inventory
	id   string
	mode mode
	hard context.Context

	j      journalWriter
	rec    events.Recorder
	file   *events.JSON // events.jsonl in the state folder
	locked bool         // the Locker's Acquire succeeded

	vars    map[string]any
	names   []string // inventory order
	members map[string]*MemberResult
	backups []steps.BackupManifest // this run's verified backups, as in backup.json
	// options are each member's etcd options (readOptions), by name.
	options map[string]steps.MemberOptions
	// staleOptions are members restarted since their options were read:
	// facts reads them again before it next answers.
	staleOptions []string
	// holdsBackup: a backup verified for this run (its own, a named one,
	// or on resume its backup.json re-checked) lets members stop.
	holdsBackup bool

	// resume: what the journal says, the members that may be found down
	// (they were mid-upgrade), and whether preflight already passed.
	journalState  *journal.State
	tolerate      map[string]bool
	preflightDone bool

	// rollback: the member to put back.
	rollbackMember string

	// restore: the plan, and on resume the steps the journal shows done
	// (restore.go).
	restorePlan *steps.RestorePlan
	restoreDone map[string]bool
	// resuming: a resumed restore (modeResume is a playbook's).
	resuming bool

	// noBackupConfirmed: --no-backup was confirmed once for this run.
	noBackupConfirmed bool

	failedMember string
	// boundary is the cluster as probed right after a member's post gate,
	// beside its rejoin, for the member loop's next decision
	// (boundaryProbe); each loop clears it when it begins.
	boundary *steps.ClusterStatus
	// ahead is what the current member's pass read before its stop for
	// the steps that run while it is down (steps.Prefetcher).
	ahead *steps.Ahead
	// quorumLostBy is the member the stop gate let go down although its
	// stop costs quorum (--allow-quorum-loss), until it passes its
	// post-member gate: the lock check then needs no quorum (checkLock).
	quorumLostBy string

	// upgraded are the members this run upgraded, in order; where says
	// where the run is, for "interrupted at ..."; rollbackRequested is the
	// member the operator asked to put back at a pause.
	upgraded          []string
	where             string
	rollbackRequested string
}

// Apply runs the playbook: lock, journal, preflight gates and steps, then
// the members one at a time under the safety gates, then finish, then the
// report. It always returns a Result (also on failure, with every member's
// state and the commands that continue); the error carries the exit code.
func Apply(ctx context.Context, o Options) (*Result, error) {
	r, err := newRun(o, modeRun)
	if err != nil {
		return nil, err
	}
	return r.execute(ctx)
}

func newRun(o Options, m mode) (*run, error) {
	if err := o.check(); err != nil {
		return nil, exit.New(exit.Internal, err, "")
	}
	r := &run{o: o, pb: o.Playbook, inv: o.Inventory, mode: m, id: o.RunID,
		vars: mergeVars(o.Playbook.Vars, o.Inventory.Vars), members: map[string]*MemberResult{}}
	if r.vars == nil {
		r.vars = map[string]any{}
	}
	// The values of secret-named vars are masked wherever they show up
	// (guard facts, step names, command output).
	redact.KnownFrom(r.vars)
	if r.id == "" {
		r.id = newRunID(o.now())
	}
	for _, m := range o.Inventory.Members {
		r.names = append(r.names, m.Name)
		r.members[m.Name] = &MemberResult{Name: m.Name, State: "untouched"}
	}
	r.hard = o.Hard
	return r, nil
}

// execute is the frame every mode shares: lock, journal, body, report.
func (r *run) execute(ctx context.Context) (*Result, error) {
	if r.hard == nil {
		r.hard = context.WithoutCancel(ctx)
	}
	res := &Result{RunID: r.id, Cluster: r.inv.Cluster}
	if err := r.reachHosts(ctx); err != nil {
		res.Outcome = OutcomeRefused
		res.Members = r.results()
		return res, err
	}
	if err := r.reachCluster(ctx); err != nil {
		res.Outcome = OutcomeRefused
		res.Members = r.results()
		return res, err
	}
	if err := r.acquire(ctx); err != nil {
		res.Outcome = OutcomeLocked
		res.Members = r.results()
		return res, err
	}
	defer r.release()

	j, err := r.o.openJournal(r.o.StateDir)
	if err != nil {
		return res, exit.New(exit.Internal, err, "")
	}
	r.j = j
	defer j.Close()
	res.Journal = j.Path()
	// Every event also goes to events.jsonl, so the report of a resumed run
	// covers the whole run, not only the part since the resume.
	if f, err := os.OpenFile(filepath.Join(r.o.StateDir, EventsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
		r.file = events.NewJSON(f)
		defer f.Close()
	} else {
		r.emit(events.Event{Kind: events.Warn, Message: "events file not written, the report covers this process only: " + err.Error()})
	}
	if r.mode != modeRun || r.o.route.number() > 1 {
		// The run being resumed or repaired may have taken its backups
		// before it stopped, and a route's earlier hops took theirs: the
		// report lists them, rollback names them. (A new hop's backup gate
		// still wants the hop's own backup: see backupGate.)
		b, err := readBackups(r.o.StateDir, r.id)
		if err != nil {
			r.emit(events.Event{Kind: events.Warn, Message: "the run's backup record cannot be read: " + err.Error()})
		}
		r.backups = b
	}
	opening := transition{kind: events.RunStart,
		message: fmt.Sprintf("%s %s (%s) with inventory %s", r.modeName(), r.o.PlaybookPath, r.pb.Name, r.o.InventoryPath),
		fields:  map[string]any{"cluster": r.inv.Cluster, "playbook": r.pb.Name, "mode": r.modeName()}}
	if rt := r.o.route; rt != nil && len(rt.hops) > 0 {
		opening.message = fmt.Sprintf("hop %d/%d: ", rt.hop, len(rt.hops)) + opening.message
		opening.fields["hops"] = len(rt.hops)
	}
	if err := r.happen(opening); err != nil {
		return res, err
	}
	if r.mode != modeRollback {
		if err := writeMeta(r.o.StateDir, r.meta()); err != nil {
			return res, exit.New(exit.Internal, err, "")
		}
	}

	start := r.o.now()
	var bodyErr error
	switch r.mode {
	case modeRollback:
		bodyErr = r.rollbackBody(ctx)
	case modeRestore:
		bodyErr = r.restoreBody(ctx)
	default:
		bodyErr = r.body(ctx)
	}
	bodyErr = r.finish(ctx, bodyErr, start, res)
	return res, bodyErr
}

// finish journals and emits how the run ended, fills res and writes the
// report; it returns the error the CLI turns into an exit code.
func (r *run) finish(ctx context.Context, err error, start time.Time, res *Result) error {
	took := r.o.now().Sub(start)
	if err == nil {
		msg := "run done"
		switch {
		case r.mode == modeRollback && r.pb.IsDowngrade():
			msg = "downgrade rolled back: every member runs " + r.pb.From.String() + " again"
		case r.mode == modeRollback:
			msg = "rollback of " + r.rollbackMember + " done"
		}
		// A run is done only once the journal says so; if it cannot, the
		// run ends failed with the journal's error.
		err = r.happen(transition{kind: events.RunDone, message: msg, took: took})
		if err == nil {
			res.Outcome = OutcomeSucceeded
		}
	}
	switch {
	case err == nil:
	case isInterrupted(ctx, err) || errors.Is(err, errStopped):
		res.Outcome = OutcomeInterrupted
		where := r.where
		if where == "" {
			where = "the start"
		}
		what := "interrupted at " + where
		if errors.Is(err, errStopped) {
			what = "stopped at " + r.where + ", as the operator answered"
		}
		if resume, _ := r.o.commands(""); r.mode != modeRollback {
			what += "; resume with: " + resume
		}
		err = exit.New(exit.Interrupted, errors.New(what), "")
		err = alsoJournal(err, r.happen(transition{kind: events.Interrupted, message: err.Error(), took: took}))
	default:
		res.Outcome = OutcomeFailed
		if exit.Code(err) == exit.Refused {
			res.Outcome = OutcomeRefused
		}
		err = alsoJournal(err, r.happen(transition{kind: events.RunFailed, message: err.Error(), took: took}))
	}
	if res.Outcome == OutcomeFailed || res.Outcome == OutcomeInterrupted {
		res.Resume, res.Rollback = r.o.commands(r.failedMember)
		if r.pb.IsDowngrade() {
			// Going back from a downgrade is for the whole cluster.
			res.Rollback = r.o.rollbackCommand()
		}
		if r.mode == modeRollback {
			res.Resume = ""
		}
		h := joinHints(res.Resume, res.Rollback)
		if res.Outcome == OutcomeInterrupted && res.Resume != "" {
			// the message already names resume
			h = joinHints("", res.Rollback)
		}
		if r.pb.IsDowngrade() && res.Rollback != "" {
			h = "to go back instead, cancel the downgrade and put every member back on " + r.pb.From.String() + " with `" + res.Rollback + "`"
			if res.Outcome != OutcomeInterrupted && res.Resume != "" {
				h = "continue with `" + res.Resume + "`; " + h
			}
		}
		if h != "" && exit.Hint(err) == "" {
			err = &exit.Error{Code: exit.Code(err), Err: err, Hint: h}
		}
	}
	res.RollbackRequested = r.rollbackRequested
	r.versionsAfter(ctx)
	path, werr := r.writeReport()
	res.Members = r.results() // after the report: it knows each member's first version
	if werr == nil {
		res.Report = path
	} else {
		r.emit(events.Event{Kind: events.Warn, Message: "report not written: " + werr.Error()})
	}
	return err
}

// versionsAfter probes once more, briefly, for the report's "after".
func (r *run) versionsAfter(ctx context.Context) {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	c, err := r.o.Cluster.Cluster(pctx)
	if err != nil {
		return
	}
	for _, n := range r.names {
		if m := c.MemberByName(n); m != nil && m.Reachable {
			r.members[n].After = m.Server
		}
	}
}

func joinHints(resume, rollback string) string {
	switch {
	case resume != "" && rollback != "":
		return "continue with `" + resume + "`, or put the member back with `" + rollback + "`"
	case resume != "":
		return "continue with `" + resume + "`"
	case rollback != "":
		return "put the member back with `" + rollback + "`"
	}
	return ""
}

// body is a run or a resume after the lock and the journal are in place.
func (r *run) body(ctx context.Context) error {
	c, err := r.probe(ctx)
	if err != nil {
		return err
	}
	for _, n := range r.names {
		if m := c.MemberByName(n); m != nil {
			r.members[n].Before = m.Server
		}
	}
	if r.mode == modeResume {
		r.reconcile(c)
	}
	// Guards read every member's options (cluster.members), so all are
	// read once, before the preflight steps; a member's are read again
	// after it restarts (runMember).
	r.readOptions(ctx, r.names...)
	if err := r.preflightGate(c); err != nil {
		return err
	}
	allDone := true
	for _, n := range r.names {
		if !r.onTo(c, n) {
			allDone = false
		}
	}
	switch {
	case allDone:
		// Re-running a finished upgrade is a no-op: the preflight steps
		// describe the old cluster (assert it is on `from`, back it up), so
		// they are skipped; every member is done; finish's read-only checks
		// still run and prove it.
		r.emit(events.Event{Kind: events.Info, Phase: schema.PhasePreflight,
			Message: "every member already runs " + r.targetName() + ": preflight skipped, nothing to upgrade"})
	case r.preflightDone:
		r.emit(events.Event{Kind: events.Info, Phase: schema.PhasePreflight,
			Message: "preflight passed before the run stopped (run " + r.id + "): not repeated"})
	default:
		if err := r.preflight(ctx, c); err != nil {
			return err
		}
	}
	if !allDone && r.o.Pause == PausePhase {
		if err := r.pause(ctx, PausePhase, PausePoint{Next: "the members phase", Phase: schema.PhaseMembers}); err != nil {
			return err
		}
	}
	if err := r.membersPhase(ctx); err != nil {
		return err
	}
	if len(r.pb.Finish) > 0 {
		if err := r.pause(ctx, PausePhase, PausePoint{Next: "the finish phase", Phase: schema.PhaseFinish}); err != nil {
			return err
		}
	}
	return r.phase(ctx, schema.PhaseFinish, r.pb.Finish)
}

// preflight runs the playbook's preflight steps, then every action's
// Preflighter for each member still to upgrade. Any failure is a refusal:
// nothing has changed yet.
func (r *run) preflight(ctx context.Context, c *steps.ClusterStatus) error {
	if err := r.phase(ctx, schema.PhasePreflight, r.pb.Preflight); err != nil {
		if exit.Code(err) == exit.StepFailed {
			return refused(err, "nothing was changed; fix what the step observed, then run again")
		}
		return err
	}
	// Each member's checks touch only its own host (and read the
	// cluster), so the hosts are prepared side by side: staging costs
	// what the slowest host takes, not the sum (docs/performance.md).
	errs := make([]error, len(r.names))
	var wg sync.WaitGroup
	start, hosts := r.o.now(), 0
	for i, n := range r.names {
		if r.onTo(c, n) {
			continue
		}
		hosts++
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.preflightMember(ctx, n)
		}()
	}
	wg.Wait()
	if hosts > 0 {
		// The report counts the wall time once, as what the slowest
		// step's check is (staging a release is a transfer, not overhead).
		r.emit(events.Event{Kind: events.Info, Phase: schema.PhasePreflight,
			Message:  fmt.Sprintf("members steps' preflight checks on %d host(s), side by side", hosts),
			Duration: r.o.now().Sub(start), Spent: spentPreflight(r.pb.Members.Steps)})
	}
	for _, err := range errs {
		if err != nil {
			r.cleanupPreflight(ctx)
			return refused(err, "nothing was changed; fix what the check observed, then run again")
		}
	}
	return nil
}

// cleanupPreflight removes what members' Preflighters staged (swap's
// uploads) after a refusal, so a refused run leaves nothing on the hosts.
func (r *run) cleanupPreflight(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, n := range r.names {
		cfg := r.inv.Resolve(r.inv.Member(n))
		for i, s := range r.pb.Members.Steps {
			if c, ok := s.Args.(steps.Cleaner); ok {
				c.Cleanup(ctx, r.env(schema.PhaseMembers, &cfg, i+1))
			}
		}
	}
}

// phase runs a whole-cluster phase (preflight, finish).
func (r *run) phase(ctx context.Context, ph schema.Phase, list []*schema.Step) error {
	if len(list) == 0 {
		return nil
	}
	r.emit(events.Event{Kind: events.PhaseStart, Phase: ph, Steps: len(list)})
	for i, s := range list {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := r.step(ctx, ph, nil, s, i+1, len(list)); err != nil {
			return err
		}
	}
	return nil
}

// membersPhase upgrades members one at a time. The order is decided at
// each member boundary from a fresh probe, because leadership moves during
// a rolling upgrade: leader-last takes the first member, in inventory
// order, that is not yet upgraded and is not the leader now, so the leader
// goes last whoever it has become (picking a fixed order at the start made
// every stop hit the new leader: docs/etcd-behaviour.md "Leadership");
// as-listed takes inventory order. A member found on the target version
// (already upgraded, or upgraded before a crash) passes the post-member
// gate and is done without being stopped again.
func (r *run) membersPhase(ctx context.Context) error {
	done := map[string]bool{}
	started := false
	r.boundary = nil
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c, err := r.boundaryProbe(ctx)
		if err != nil {
			return err
		}
		var remaining []string
		for _, n := range r.names {
			if done[n] {
				continue
			}
			if r.onTo(c, n) {
				if err := r.postGate(ctx, n); err != nil {
					r.failedMember = n
					return err
				}
				done[n] = true
				if err := r.memberDone(schema.PhaseMembers, n, "already on "+memberServer(c, n), ""); err != nil {
					return err
				}
				continue
			}
			remaining = append(remaining, n)
		}
		if len(remaining) == 0 {
			return nil
		}
		if !started {
			r.emit(events.Event{Kind: events.PhaseStart, Phase: schema.PhaseMembers,
				Message: fmt.Sprintf("order %s: %d to upgrade", r.pb.Members.Order, len(remaining))})
			started = true
		}
		next := pickNext(r.pb.Members.Order, remaining, c)
		for _, n := range remaining {
			// On resume the member left mid-upgrade goes first: any other
			// member's stop gate would rightly refuse while it is down.
			if r.tolerate[n] {
				next = n
				break
			}
		}
		pt := PausePoint{Next: fmt.Sprintf("%s (%s → %s)", next, cmp.Or(memberServer(c, next), "-"), r.targetName()), Member: next, Phase: schema.PhaseMembers}
		if err := r.pause(ctx, PauseMember, pt); err != nil {
			return err
		}
		if err := r.upgradeMember(ctx, next, c); err != nil {
			return err
		}
		done[next] = true
	}
}

// pickNext chooses the next member to upgrade, see membersPhase.
func pickNext(order string, remaining []string, c *steps.ClusterStatus) string {
	if order == schema.OrderAsListed {
		return remaining[0]
	}
	for _, n := range remaining {
		if m := c.MemberByName(n); m == nil || !m.IsLeader {
			return n
		}
	}
	return remaining[0]
}

// upgradeMember runs the members steps for one member between the gates
// (runMember, the loop a rollback shares): before its first critical step
// every other member must be healthy and the run must hold a verified
// backup; after its steps it must be healthy, caught up and on the target
// version before the next member is touched.
func (r *run) upgradeMember(ctx context.Context, name string, c *steps.ClusterStatus) error {
	var msg string
	// server, target and leader let views print "infra1  3.5.35 → 3.6".
	fields := map[string]any{"target": r.targetName()}
	verb := "upgrading"
	if r.pb.IsDowngrade() {
		verb = "downgrading"
	}
	if m := c.MemberByName(name); m != nil && m.Reachable {
		msg = fmt.Sprintf("%s %s (%s%s)", verb, name, cmp.Or(m.Server, "-"), map[bool]string{true: ", leader"}[m.IsLeader])
		fields["server"], fields["leader"] = m.Server, m.IsLeader
	} else {
		msg = fmt.Sprintf("%s %s (down: left mid-way)", verb, name)
	}
	r.emit(events.Event{Kind: events.MemberStart, Phase: schema.PhaseMembers, Member: name, Steps: len(r.pb.Members.Steps), Message: msg, Fields: fields})
	if err := r.runMember(ctx, name, r.upgradePass()); err != nil {
		return err
	}
	r.upgraded = append(r.upgraded, name)
	r.where = "the member boundary after " + name + " was " + r.upgradePass().done
	return nil
}

// memberDone sets the member's state and journals it done (member-done,
// or rollback-done in the rollback phase) with msg, the state when "".
func (r *run) memberDone(ph schema.Phase, name, state, msg string) error {
	r.members[name].State = state
	return r.happen(transition{kind: events.MemberDone, phase: ph, member: name, message: cmp.Or(msg, state)})
}

// onTo reports whether the member answers with a server on the target
// minor (for a patch playbook, the exact target release).
func (r *run) onTo(c *steps.ClusterStatus, name string) bool {
	m := c.MemberByName(name)
	return m != nil && m.Reachable && r.isTarget(m.Server)
}

// isTarget: a server version the playbook is done with; isSource: one it
// starts from. A patch playbook's from and to are the same minor, so only
// the exact release tells them apart (steps.OnTarget).
func (r *run) isTarget(server string) bool { return onTarget(r.pb, r.inv, server) }

func (r *run) isSource(server string) bool {
	if r.pb.IsPatch() {
		return steps.OnSource(r.pb, r.inv, server)
	}
	return matchMinor(r.pb.From, server)
}

// targetName is what the run moves members to, for messages: the minor,
// or a patch playbook's exact release.
func (r *run) targetName() string {
	if t := steps.PatchTarget(r.pb, r.inv); !t.IsZero() {
		return t.String()
	}
	return r.pb.To.String()
}

func memberServer(c *steps.ClusterStatus, name string) string {
	if m := c.MemberByName(name); m != nil {
		return m.Server
	}
	return ""
}

func matchMinor(m schema.Minor, version string) bool {
	p, err := schema.ParsePattern(m.String())
	return err == nil && p.Match(version)
}

// boundaryProbe is the probe a member loop decides its next member by:
// the one runMember took beside the last member's rejoin when there is
// one (taken once), else a new one.
func (r *run) boundaryProbe(ctx context.Context) (*steps.ClusterStatus, error) {
	if c := r.boundary; c != nil {
		r.boundary = nil
		return c, nil
	}
	return r.probe(ctx)
}

// probe reads the whole cluster; no member answering is exit 4.
func (r *run) probe(ctx context.Context) (*steps.ClusterStatus, error) {
	c, err := r.o.Cluster.Cluster(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, exit.New(exit.Unreachable, fmt.Errorf("probe cluster %s: %w", r.inv.Cluster, err),
			"check the client URLs and TLS settings in the inventory; etcdplay status -i INV shows what answers")
	}
	return c, nil
}

func (r *run) results() []MemberResult {
	out := make([]MemberResult, 0, len(r.names))
	for _, n := range r.names {
		out = append(out, *r.members[n])
	}
	return out
}

func (r *run) modeName() string {
	switch r.mode {
	case modeResume:
		return "resume"
	case modeRollback:
		return "rollback"
	case modeRestore:
		return "restore"
	}
	return "run"
}

func (r *run) emit(e events.Event) {
	if e.Time.IsZero() {
		e.Time = r.o.now()
	}
	e.RunID = r.id
	e.Hop = r.o.route.number()
	r.rec.Emit(e)
	if r.file != nil {
		r.file.Emit(e)
	}
	if r.o.Sink != nil {
		r.o.Sink.Emit(e)
	}
}

// isInterrupted tells a stop asked for by the operator from a failure:
// once the soft context is cancelled, whatever stopped is the operator's
// doing, except a critical step that failed on its own under the hard
// context.
func isInterrupted(ctx context.Context, err error) bool {
	if ctx.Err() == nil {
		return false
	}
	var se *StepError
	if errors.As(err, &se) && se.Critical && !errors.Is(err, context.Canceled) {
		return false
	}
	return true
}

func refused(err error, hint string) error {
	return &exit.Error{Code: exit.Refused, Err: err, Hint: hint}
}

// backupDir is where v3 snapshots of this run go.
func (r *run) backupDir() string {
	if r.o.BackupDir != "" {
		return r.o.BackupDir
	}
	return filepath.Join("backups", r.inv.Cluster, r.id)
}
