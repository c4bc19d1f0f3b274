package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
)

// Hop is one playbook of an upgrade route (Upgrade), loaded.
type Hop struct {
	Playbook *schema.Playbook
	// PlaybookPath is the playbook as given (a shipped name or a path),
	// PlaybookDigest its bytes' digest (journal.Digest).
	PlaybookPath, PlaybookDigest string
}

// routeRun is where a hop stands in its route.
type routeRun struct {
	hop    int // 1-based
	hops   []Hop
	target string
}

// number is the hop's position, 0 outside a route.
func (rt *routeRun) number() int {
	if rt == nil {
		return 0
	}
	return rt.hop
}

// title names the route for the report: "route to 3.7: 3.5-patch, ...";
// the playbook's own name outside a route.
func (rt *routeRun) title(playbook string) string {
	if rt == nil || len(rt.hops) == 0 {
		return playbook
	}
	var names []string
	for _, h := range rt.hops {
		names = append(names, h.Playbook.Name)
	}
	return fmt.Sprintf("route to %s: %s", rt.target, strings.Join(names, ", then "))
}

// Upgrade runs a route's hops in order (`etcdplay upgrade --to`), each
// hop a whole run of its playbook (preflight with its verified backup,
// members, finish) under one run id, one journal and one lock: the lock is
// taken by the first hop and given up after the last, so no other run
// slips in between hops. Journal records and events carry the hop, so
// ResumeUpgrade continues where the route stopped and the report (written
// after each hop from every event of the run id) covers the hops done.
// A hop that fails or is interrupted stops the route there. target is
// --to, for run.json and the report.
func Upgrade(ctx context.Context, o Options, hops []Hop, target string) (*Result, error) {
	if o.RunID == "" {
		o.RunID = newRunID(o.now())
	}
	return runHops(ctx, o, hops, target, 0, false)
}

// ResumeUpgrade continues the route the journal's last run stopped in:
// the hop it stopped in is resumed (as Resume does for one playbook), then
// the hops after it run. A route whose last hop finished is
// ErrNothingToResume. hops must be the route's, in order (run.json).
func ResumeUpgrade(ctx context.Context, o Options, hops []Hop, target string) (*Result, error) {
	recs, _, err := journal.Read(o.StateDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, exit.New(exit.Internal, err, "the journal is damaged; read it before going on: "+o.StateDir)
	}
	st := journal.Reconcile(recs)
	if st == nil {
		return nil, exit.New(exit.Usage, fmt.Errorf("nothing to resume: no journal in %s", o.StateDir),
			"start the upgrade with `etcdplay upgrade --to VERSION -i INV`; --state-dir must match the run's")
	}
	if st.Hop < 1 || st.Hop > len(hops) {
		return nil, exit.New(exit.Invalid, fmt.Errorf("the journal's last run (%s, hop %d) is not a hop of this %d-hop route", st.RunID, st.Hop, len(hops)),
			"resume with the state folder and inventory the upgrade started with")
	}
	o.RunID = st.RunID
	if st.Finished() {
		if st.Hop == len(hops) {
			return &Result{RunID: st.RunID, Cluster: o.Inventory.Cluster, Outcome: OutcomeSucceeded}, ErrNothingToResume
		}
		// Stopped between hops: the next one starts afresh.
		return runHops(ctx, o, hops, target, st.Hop, false)
	}
	return runHops(ctx, o, hops, target, st.Hop-1, true)
}

// runHops runs hops[from:], resuming the first when resumeFirst.
func runHops(ctx context.Context, o Options, hops []Hop, target string, from int, resumeFirst bool) (*Result, error) {
	if o.Locker != nil {
		held := &routeLock{Locker: o.Locker}
		defer held.giveUp()
		o.Locker = held
		if _, ok := held.Locker.(Avoider); ok {
			o.Locker = routeAvoider{held}
		}
	}
	var res *Result
	var err error
	for i := from; i < len(hops); i++ {
		if i > from && ctx.Err() != nil {
			return res, exit.New(exit.Interrupted,
				fmt.Errorf("interrupted after hop %d/%d (%s); resume with: %s", i, len(hops), hops[i-1].Playbook.Name, resumeCommand(&o)), "")
		}
		h := o
		h.Playbook, h.PlaybookPath, h.PlaybookDigest = hops[i].Playbook, hops[i].PlaybookPath, hops[i].PlaybookDigest
		h.route = &routeRun{hop: i + 1, hops: hops, target: target}
		if i == from && resumeFirst {
			res, err = Resume(ctx, h)
		} else {
			res, err = Apply(ctx, h)
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func resumeCommand(o *Options) string {
	resume, _ := o.commands("")
	return resume
}

// routeLock keeps the cluster's lock across a route's hops: each hop's
// run takes it (the first for real, the others find it held and check it
// is still ours) and gives it up (a no-op), and giveUp releases it once
// the route ends.
type routeLock struct {
	Locker
	held bool
}

func (l *routeLock) Acquire(ctx context.Context, runID string) error {
	if l.held {
		return l.Locker.Check(ctx)
	}
	if err := l.Locker.Acquire(ctx, runID); err != nil {
		return err
	}
	l.held = true
	return nil
}

func (l *routeLock) Release(context.Context) error { return nil }

func (l *routeLock) Break(ctx context.Context) (string, error) {
	l.held = false
	return l.Locker.Break(ctx)
}

func (l *routeLock) giveUp() {
	if !l.held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A lease not given up ends by itself (30 s); the hop's run has
	// already said its last word.
	_ = l.Locker.Release(ctx)
	l.held = false
}

// routeAvoider is a routeLock over a Locker that keeps its stream off a
// stopping member (streams.go).
type routeAvoider struct{ *routeLock }

func (l routeAvoider) Avoid(ctx context.Context, member string) error {
	return l.Locker.(Avoider).Avoid(ctx, member)
}
