package fleet

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner"
)

// Status is how one cluster of the fleet ended.
type Status string

// The statuses, from good to bad. Only Succeeded and Skipped count as
// success for the fleet's exit code.
const (
	Succeeded Status = "succeeded"
	// Skipped: another run holds the cluster's lock, the cluster is already
	// on the target, or (resume) there is nothing to continue.
	Skipped Status = "skipped"
	// Stopped: --fail-fast stopped the cluster at a safe point because
	// another failed; resume continues it.
	Stopped Status = "stopped"
	// NotStarted: the fleet stopped (--fail-fast, Ctrl-C) before the
	// cluster's turn came.
	NotStarted  Status = "not started"
	Interrupted Status = "interrupted"
	Failed      Status = "failed"
)

// OK says whether s counts as success.
func (s Status) OK() bool { return s == Succeeded || s == Skipped }

// Outcome is one cluster's result in the fleet.
type Outcome struct {
	Cluster   string
	Inventory string
	Status    Status
	// Reason says why, for every status but Succeeded: the skip's cause,
	// the failure's first line.
	Reason string
	// Code is the exit code the cluster's command ended with (0 for
	// succeeded and skipped).
	Code  int
	RunID string
	// Report is the cluster's report.md, "" when none was written.
	Report string
	// Resume and Rollback are the commands that go on with this cluster.
	Resume, Rollback string
	Members          []runner.MemberResult
	Took             time.Duration
}

// Task is one cluster's work: Run does it (run or resume one inventory)
// and says how it ended. Run must stop at its next safe point once
// Control.Halted, and honour ctx like any run (the operator's Ctrl-C).
type Task struct {
	Cluster   string
	Inventory string
	Run       func(ctx context.Context, c Control) Outcome
}

// Control is what the fleet tells a running task.
type Control struct{ h *halt }

// Halted says whether --fail-fast asked every cluster to stop, and why.
func (c Control) Halted() (bool, string) {
	if c.h == nil {
		return false, ""
	}
	return c.h.halted()
}

// Ask answers the runner at each safe point (runner.Options.Ask with
// runner.PauseMember): continue, or stop once the fleet is halted. A
// stopped run is journaled as interrupted and resumable.
func (c Control) Ask(ctx context.Context, _ runner.PausePoint) (runner.Answer, error) {
	if h, _ := c.Halted(); h {
		return runner.Stop, nil
	}
	return runner.Continue, nil
}

type halt struct {
	mu  sync.Mutex
	why string
	ch  chan struct{}
}

func (h *halt) stop(why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.why == "" {
		h.why = why
		close(h.ch)
	}
}

func (h *halt) halted() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.why != "", h.why
}

// View is told when each cluster starts and ends (the progress).
type View interface {
	Started(cluster string)
	Finished(Outcome)
}

// Options say how the fleet runs.
type Options struct {
	// Parallel is how many clusters run at once; below 1 means 1.
	Parallel int
	// FailFast stops the other clusters at their next safe point (between
	// members) once one fails, and starts no more.
	FailFast bool
	View     View
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Run runs the tasks, in order, at most o.Parallel at a time, and returns
// their outcomes in the tasks' order. A failed cluster stops only itself,
// unless o.FailFast.
func Run(ctx context.Context, tasks []Task, o Options) []Outcome {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	n := max(o.Parallel, 1)
	h := &halt{ch: make(chan struct{})}
	sem := make(chan struct{}, n)
	outs := make([]Outcome, len(tasks))
	var wg sync.WaitGroup
	for i, t := range tasks {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		case <-h.ch:
		}
		notStarted := func(why string) {
			outs[i] = Outcome{Cluster: t.Cluster, Inventory: t.Inventory, Status: NotStarted, Reason: why}
			if o.View != nil {
				o.View.Finished(outs[i])
			}
		}
		if ctx.Err() != nil {
			notStarted("interrupted before its turn")
			continue
		}
		if stopped, why := h.halted(); stopped {
			notStarted("--fail-fast: " + why)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if o.View != nil {
				o.View.Started(t.Cluster)
			}
			start := now()
			out := t.Run(ctx, Control{h})
			out.Cluster, out.Inventory = t.Cluster, t.Inventory
			out.Took = now().Sub(start)
			if stopped, why := h.halted(); stopped && out.Status == Interrupted && ctx.Err() == nil {
				out.Status, out.Reason = Stopped, "--fail-fast: "+why
			}
			if out.Status == Failed && o.FailFast {
				h.stop(out.Cluster + " failed")
			}
			outs[i] = out
			if o.View != nil {
				o.View.Finished(out)
			}
		}()
	}
	wg.Wait()
	return outs
}

// Err is the fleet's error for the CLI: nil when every cluster succeeded
// or was skipped. Otherwise its code is 130 when the operator interrupted
// the fleet, else the exit code of the first cluster (in the fleet's
// order) that failed; a cluster that --fail-fast stopped, or never
// started, is not a cause.
func Err(outs []Outcome) error {
	var bad []string
	code := 0
	for _, o := range outs {
		if o.Status.OK() {
			continue
		}
		bad = append(bad, o.Cluster+" "+string(o.Status))
		switch {
		case o.Status == Interrupted:
			code = exit.Interrupted
		case o.Status == Failed && code == 0:
			code = o.Code
			if code == 0 {
				code = exit.StepFailed
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	if code == 0 {
		code = exit.Interrupted // only stopped or never started: an interruption's work
	}
	return &exit.Error{Code: code, Err: fmt.Errorf("%d of %d clusters did not succeed: %s", len(bad), len(outs), strings.Join(bad, ", "))}
}
