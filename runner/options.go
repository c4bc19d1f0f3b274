package runner

import (
	"context"
	"sync"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// readOptions reads the named members' etcd options over SSH (one round
// trip per host, the hosts in parallel) into r.options, where every later
// facts() finds them. A host that cannot run the reader leaves that member's options unknown,
// with a warning: a check that needs them decides what unknown means.
func (r *run) readOptions(ctx context.Context, names ...string) {
	if r.o.Hosts == nil {
		return
	}
	if r.options == nil {
		r.options = map[string]steps.MemberOptions{}
	}
	got, errs := readAllOptions(ctx, r.o.Hosts, r.inv, names)
	for i, n := range names {
		if errs[i] != nil {
			r.emit(events.Event{Kind: events.Warn, Member: n, Message: "etcd options unknown: " + errs[i].Error()})
		}
		r.options[n] = got[i]
	}
}

// readAllOptions reads the named members' options, one host each, side
// by side (docs/performance.md): what one host costs, not their sum.
func readAllOptions(ctx context.Context, hosts steps.Hosts, inv *schema.Inventory, names []string) ([]steps.MemberOptions, []error) {
	got, errs := make([]steps.MemberOptions, len(names)), make([]error, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		cfg := inv.Resolve(inv.Member(n))
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = readMemberOptions(ctx, hosts, n, &cfg)
		}()
	}
	wg.Wait()
	return got, errs
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
