package runner

import (
	"context"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// readOptions reads the named members' etcd options over SSH (one round
// trip per host) into r.options, where every later facts() finds them. A
// host that cannot run the reader leaves that member's options unknown,
// with a warning: a check that needs them decides what unknown means.
func (r *run) readOptions(ctx context.Context, names ...string) {
	if r.o.Hosts == nil {
		return
	}
	if r.options == nil {
		r.options = map[string]steps.MemberOptions{}
	}
	for _, n := range names {
		cfg := r.inv.Resolve(r.inv.Member(n))
		o, err := readMemberOptions(ctx, r.o.Hosts, n, &cfg)
		if err != nil {
			r.emit(events.Event{Kind: events.Warn, Member: n, Message: "etcd options unknown: " + err.Error()})
		}
		r.options[n] = o
	}
}

// readMemberOptions reads one member's options; on error they are unknown
// with the error as the reason.
func readMemberOptions(ctx context.Context, hosts steps.Hosts, name string, cfg *schema.MemberConfig) (steps.MemberOptions, error) {
	h, err := hosts.Host(ctx, name)
	if err == nil {
		var o steps.MemberOptions
		if o, err = steps.ReadOptions(ctx, h, cfg); err == nil {
			return o, nil
		}
	}
	return steps.MemberOptions{Unknown: err.Error()}, err
}
