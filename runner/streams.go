package runner

import (
	"context"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
)

// Avoider is a Locker that holds a connection to the cluster and can keep
// it off one member (invariant 10 in docs/safety.md: a member's downtime
// is etcd's own).
// etcd's graceful stop waits, up to its request timeout (about 7 s), for
// open client streams to end, and the v3 lock keeps a lease keep-alive
// stream open for the whole run (docs/performance.md,
// docs/etcd-behaviour.md "Stopping a member"). The prober needs no
// such care: its clients live for one call.
type Avoider interface {
	// Avoid moves every stream and connection the lock holds off member
	// ("": back onto every member) and closes the old ones.
	Avoid(ctx context.Context, member string) error
}

// leave takes etcdplay's own streams off a member that is about to stop.
// It cannot fail the run: a stream left behind costs seconds of stop
// time, never safety, so a failure is a warning naming the cost. It
// returns the event to emit, so that it can run beside the stop gate
// (stopGateAndPrefetch) and say what it did after the gate's event.
func (r *run) leave(ctx context.Context, ph schema.Phase, member string) (report func()) {
	return r.avoid(ctx, ph, member, member)
}

// rejoin lets the lock use every member again once member is healthy.
func (r *run) rejoin(ctx context.Context, ph schema.Phase, member string) (report func()) {
	return r.avoid(ctx, ph, member, "")
}

// avoid moves the lock's streams off avoid ("": onto every member) and
// returns what emits the outcome; it emits nothing itself, so it may run
// beside another of the run's reads.
func (r *run) avoid(ctx context.Context, ph schema.Phase, member, avoid string) (report func()) {
	a, ok := r.o.Locker.(Avoider)
	if !ok || !r.locked {
		return func() {}
	}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := r.o.now()
	ev := events.Event{Kind: events.Info, Phase: ph, Member: member}
	if err := a.Avoid(actx, avoid); err != nil {
		ev.Kind = events.Warn
		ev.Message = "the lock's keep-alive could not move back onto every member: " + err.Error()
		if avoid != "" {
			ev.Message = "the lock's keep-alive could not leave " + member + " (its stop may take up to 7 s longer): " + err.Error()
		}
		return func() { r.emit(ev) }
	}
	ev.Message, ev.Duration = "lock keep-alive back on every member", r.o.now().Sub(start)
	if avoid != "" {
		ev.Message = "lock keep-alive moved off " + member + " before it stops"
	}
	return func() { r.emit(ev) }
}
