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
	"github.com/etcdplay/etcdplay/steps"
)

// Hop is one playbook of an upgrade route (Upgrade), loaded.
type Hop struct {
	Playbook *schema.Playbook
	// PlaybookPath is the playbook as given (a shipped name or a path),
	// PlaybookDigest its bytes' digest (journal.Digest).
	PlaybookPath, PlaybookDigest string
	// View is how this hop reaches the cluster when that differs from the
	// route's Options: nil for most hops. A route that starts on a v2
	// inventory crosses to 3.x, and its hops from 3.0 on speak the v3 API
	// to the same members (HopInventory; docs/architecture.md "Routes").
	View *View
}

// View is a hop's own way to the cluster: the inventory it plans against,
// the prober and hosts, and a lock it takes in addition to the route's
// (held from that hop until the route ends, so the route excludes other
// runs whichever API they speak).
type View struct {
	Inventory *schema.Inventory
	Cluster   steps.Cluster
	Hosts     steps.Hosts
	Locker    Locker
}

// HopInventory is the inventory a route's hop of pb plans and runs
// against: inv itself, or, when inv says api: v2 and pb upgrades from 3.x
// (which speaks v3), the same inventory speaking v3: same members, client
// URLs, TLS and credentials. 3.0 and later serve both APIs on the same
// client URLs, so the operator's v2 inventory describes the cluster all
// the way; a run of one playbook gets no such view and is refused
// (PlanOffline) with the inventory to use.
func HopInventory(pb *schema.Playbook, inv *schema.Inventory) *schema.Inventory {
	if inv.API != "v2" || apiFor(pb.From) != "v3" {
		return inv
	}
	v := *inv
	v.API = "v3"
	return &v
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
	var held *routeLock
	if o.Locker != nil {
		held = &routeLock{Locker: o.Locker}
		defer held.giveUp()
		o.Locker = held
		if _, ok := held.Locker.(Avoider); ok {
			o.Locker = routeAvoider{held}
		}
	}
	// A hop's own lock (View.Locker) is taken in addition to the route's
	// and kept until the route ends, like the route's.
	extra := map[Locker]*routeLock{}
	defer func() {
		for _, l := range extra {
			l.giveUp()
		}
	}()
	var res *Result
	var err error
	for i := from; i < len(hops); i++ {
		if i > from && ctx.Err() != nil {
			return res, exit.New(exit.Interrupted,
				fmt.Errorf("interrupted after hop %d/%d (%s); resume with: %s", i, len(hops), hops[i-1].Playbook.Name, resumeCommand(&o)), "")
		}
		h := o
		h.Playbook, h.PlaybookPath, h.PlaybookDigest = hops[i].Playbook, hops[i].PlaybookPath, hops[i].PlaybookDigest
		if v := hops[i].View; v != nil {
			h.Inventory, h.Cluster, h.Hosts = v.Inventory, v.Cluster, v.Hosts
			if v.Locker != nil && held != nil {
				own := extra[v.Locker]
				if own == nil {
					own = &routeLock{Locker: v.Locker}
					extra[v.Locker] = own
				}
				h.Locker = pairLock{route: held, hop: own}
			}
		}
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

func (l *routeLock) CheckWithoutQuorum(ctx context.Context) error {
	return checkWithoutQuorum(ctx, l.Locker)
}

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

// pairLock is the route's lock and a hop's own, held together: a route
// that started on a v2 inventory keeps its lock folders on every host and,
// from its first v3 hop, also holds the v3 lease, under the same run id.
// Its streams are the hop lock's (the v3 lease's client).
type pairLock struct{ route, hop *routeLock }

func (l pairLock) Acquire(ctx context.Context, runID string) error {
	if err := l.route.Acquire(ctx, runID); err != nil {
		return err
	}
	return l.hop.Acquire(ctx, runID)
}

func (l pairLock) Check(ctx context.Context) error {
	if err := l.route.Check(ctx); err != nil {
		return err
	}
	return l.hop.Check(ctx)
}

func (l pairLock) CheckWithoutQuorum(ctx context.Context) error {
	if err := l.route.CheckWithoutQuorum(ctx); err != nil {
		return err
	}
	return l.hop.CheckWithoutQuorum(ctx)
}

func (l pairLock) Release(context.Context) error { return nil }

func (l pairLock) Break(ctx context.Context) (string, error) {
	a, err := l.route.Break(ctx)
	if err != nil {
		return a, err
	}
	b, err := l.hop.Break(ctx)
	switch {
	case a == "" || a == b:
		return b, err
	case b == "":
		return a, err
	}
	return a + " and " + b, err
}

func (l pairLock) Avoid(ctx context.Context, member string) error {
	for _, rl := range []*routeLock{l.hop, l.route} {
		if a, ok := rl.Locker.(Avoider); ok {
			if err := a.Avoid(ctx, member); err != nil {
				return err
			}
		}
	}
	return nil
}

// routeAvoider is a routeLock over a Locker that keeps its stream off a
// stopping member (streams.go).
type routeAvoider struct{ *routeLock }

func (l routeAvoider) Avoid(ctx context.Context, member string) error {
	return l.Locker.(Avoider).Avoid(ctx, member)
}
