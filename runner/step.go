package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// StepError is a step that failed: where (phase, member, step) and why.
// The cause, written by the action, says what was observed and what was
// expected.
type StepError struct {
	Phase  schema.Phase
	Member string
	Index  int
	Steps  int
	Name   string
	Action string
	// Critical: the step ran under the hard context, so a failure is its
	// own, not the operator's Ctrl-C.
	Critical bool
	Err      error
}

func (e *StepError) Error() string {
	where := string(e.Phase)
	if e.Member != "" {
		where = "member " + e.Member
	}
	title := e.Action
	if e.Name != "" && e.Name != e.Action {
		title = fmt.Sprintf("%s (%q)", e.Action, e.Name)
	}
	return fmt.Sprintf("%s, %s step %d/%d %s: %v", where, e.Phase, e.Index, e.Steps, title, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// isCritical: the action says so (stop, swap, start).
func isCritical(s *schema.Step) bool {
	c, ok := s.Args.(steps.Critical)
	return ok && c.Critical()
}

// step runs one step: guard with fresh facts, lock check before a critical
// step, journal before and after (run.happen), its attempts (attempts.go).
// A critical step runs under the hard context, so the first Ctrl-C lets it
// finish.
func (r *run) step(ctx context.Context, ph schema.Phase, cfg *schema.MemberConfig, s *schema.Step, idx, total int) error {
	member := ""
	if cfg != nil {
		member = cfg.Name
	}
	r.where = fmt.Sprintf("%s step %d/%d (%s)", ph, idx, total, s.Action)
	if member != "" {
		r.where = fmt.Sprintf("member %s, %s", member, r.where)
	}
	crit := isCritical(s)
	at := &stepRef{index: idx, steps: total, name: s.Name, action: s.Action, critical: crit, spent: spentOn(s)}
	mark := func(k events.Kind, msg string, took time.Duration) error {
		return r.happen(transition{kind: k, phase: ph, member: member, step: at, message: msg, took: took})
	}
	fail := func(err error, took time.Duration) error {
		se := &StepError{Phase: ph, Member: member, Index: idx, Steps: total, Name: s.Name, Action: s.Action, Critical: crit, Err: err}
		kind, msg := events.StepFailed, err.Error()
		if isInterrupted(ctx, se) {
			// the operator's Ctrl-C, not a failure of the step
			kind, msg = events.StepInterrupted, "interrupted by the operator"
		}
		return exit.New(exit.StepFailed, alsoJournal(se, mark(kind, msg, took)), "")
	}

	if s.When != nil {
		f, err := r.facts(ctx, member)
		if err != nil {
			return fail(fmt.Errorf("guard %q: probe: %w", s.When.Source, err), 0)
		}
		ok, err := s.When.Eval(f)
		if err != nil {
			return fail(err, 0)
		}
		if !ok {
			why := "guard false: " + s.When.Source
			if d := formatFacts(decidingFacts(s.When.Source, f)); d != "" {
				why += " (" + d + ")"
			}
			return mark(events.StepSkipped, why, 0)
		}
	}
	a, ok := s.Args.(steps.Action)
	if !ok {
		return fail(fmt.Errorf("action %s cannot run in this build", s.Action), 0)
	}
	if crit {
		if err := r.checkLock(ctx); err != nil {
			return fail(fmt.Errorf("refusing a critical step without the lock: %w", err), 0)
		}
	}
	if err := mark(events.StepStart, "", 0); err != nil {
		return err
	}

	env := r.env(ph, cfg, idx)
	start := r.o.now()
	err := r.attempts(ctx, s, crit, func(ctx context.Context) error { return a.Run(ctx, env) },
		func(n int, err error) {
			r.emit(events.Event{Kind: events.Warn, Phase: ph, Member: member, StepIndex: idx, Steps: total, Action: s.Action,
				Message: fmt.Sprintf("attempt %d of %d failed, retrying: %v", n, s.Retries+1, err)})
		})
	took := r.o.now().Sub(start)
	if err != nil {
		return fail(err, took)
	}
	return mark(events.StepDone, "", took)
}

// preflightMember runs every members step's Preflighter for one member:
// proof, before anything stops, that the member's steps can do their job.
func (r *run) preflightMember(ctx context.Context, name string) error {
	cfg := r.inv.Resolve(r.inv.Member(name))
	for i, s := range r.pb.Members.Steps {
		p, ok := s.Args.(steps.Preflighter)
		if !ok {
			continue
		}
		start := r.o.now()
		pctx, cancel := boundCtx(ctx, s.Bound)
		err := p.Preflight(pctx, r.env(schema.PhaseMembers, &cfg, i+1))
		cancel()
		if err == nil {
			// The time is in the message, not in Duration: the hosts are
			// checked side by side, so their durations overlap, and the
			// report counts the wall time of all of them once (preflight's
			// own event).
			r.emit(events.Event{Kind: events.Info, Phase: schema.PhasePreflight, Member: name, StepIndex: i + 1,
				Action: s.Action, StepName: s.Name,
				Message: "preflight check of the members step passed in " + r.o.now().Sub(start).Round(time.Millisecond).String()})
		}
		if err != nil {
			se := &StepError{Phase: schema.PhasePreflight, Member: name, Index: i + 1, Steps: len(r.pb.Members.Steps),
				Name: s.Name, Action: s.Action, Err: fmt.Errorf("preflight check of the members step: %w", err)}
			r.emit(events.Event{Kind: events.StepFailed, Phase: schema.PhasePreflight, Member: name, StepIndex: i + 1,
				Action: s.Action, StepName: s.Name, Message: se.Err.Error()})
			return se
		}
	}
	return nil
}

// env is what one step's Run may touch.
func (r *run) env(ph schema.Phase, cfg *schema.MemberConfig, idx int) *steps.Env {
	member := ""
	if cfg != nil {
		member = cfg.Name
	}
	confirm := r.o.Confirm
	if confirm == nil {
		confirm = func(context.Context, string) (bool, error) { return false, nil }
	}
	var ahead *steps.Ahead
	if cfg != nil {
		ahead = r.ahead
	}
	return &steps.Env{
		Playbook: r.pb, Inventory: r.inv, Phase: ph, Member: cfg,
		Cluster: r.o.Cluster, Hosts: r.o.Hosts,
		Log:          &eventLog{r: r, phase: ph, member: member, idx: idx},
		Facts:        func(ctx context.Context) (schema.Facts, error) { return r.facts(ctx, member) },
		Confirm:      confirm,
		BackupDir:    r.backupDir(),
		Record:       func(key string, value any) { r.record(ph, member, idx, key, value) },
		RecordBackup: r.recordBackup(ph, member, idx),
		Now:          r.o.now,
		Ahead:        ahead,
	}
}

// facts probes the cluster and returns the guard facts with member as
// `member`.
func (r *run) facts(ctx context.Context, member string) (schema.Facts, error) {
	c, err := r.o.Cluster.Cluster(ctx)
	if err != nil {
		return schema.Facts{}, err
	}
	if len(r.staleOptions) > 0 {
		r.readOptions(ctx, r.staleOptions...)
		r.staleOptions = nil
	}
	return steps.FactsFrom(c, member, r.pb, r.vars, r.options), nil
}

// record keeps what an action wants in the report (a version before or
// after) as a record event.
func (r *run) record(ph schema.Phase, member string, idx int, key string, value any) {
	r.emit(events.Event{Kind: events.Record, Phase: ph, Member: member, StepIndex: idx, Message: key, Fields: map[string]any{key: value}})
}

// eventLog turns an action's log lines into events.
type eventLog struct {
	r      *run
	phase  schema.Phase
	member string
	idx    int
}

func (l *eventLog) Info(msg string, kv ...any) { l.emit(events.Info, msg, kv) }
func (l *eventLog) Warn(msg string, kv ...any) { l.emit(events.Warn, msg, kv) }

func (l *eventLog) emit(k events.Kind, msg string, kv []any) {
	var f map[string]any
	for i := 0; i+1 < len(kv); i += 2 {
		if f == nil {
			f = map[string]any{}
		}
		f[fmt.Sprint(kv[i])] = kv[i+1]
	}
	l.r.emit(events.Event{Kind: k, Phase: l.phase, Member: l.member, StepIndex: l.idx, Message: msg, Fields: f})
}

func formatFacts(m map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b, _ := json.Marshal(m[k])
		parts = append(parts, k+"="+string(b))
	}
	return strings.Join(parts, ", ")
}
