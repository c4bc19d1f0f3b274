package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// HostReady is what a live plan proved about one member's host before
// anything changes: SSH login through every hop with strict host keys,
// then every members step's Preflighter in check-only mode (swap: the
// binary prints the member's version, the release is readable, pinned and
// prints its version, the staging folder has room; with ssh.sudo, each
// exact command is allowed).
type HostReady struct {
	Member string        `json:"member"`
	Host   string        `json:"host"`
	Ready  bool          `json:"ready"`
	Error  string        `json:"error,omitempty"`
	Hint   string        `json:"hint,omitempty"`
	Took   time.Duration `json:"took_ns"`

	code int
}

// readyBound is how long one host may take to prove itself ready.
const readyBound = 15 * time.Second

// ProveReady checks every member in members, in parallel, and returns one
// HostReady each (in members' order). The error is the first failing
// member's, with its exit class: 4 for SSH, 5 for a refused check.
func ProveReady(ctx context.Context, pb *schema.Playbook, inv *schema.Inventory, hosts steps.Hosts, cluster steps.Cluster, members []string) ([]HostReady, error) {
	out := make([]HostReady, len(members))
	var wg sync.WaitGroup
	for i, n := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = proveHost(ctx, pb, inv, hosts, cluster, n)
		}()
	}
	wg.Wait()
	for _, r := range out {
		if !r.Ready {
			return out, exit.New(r.code, fmt.Errorf("member %s (%s) is not ready: %s", r.Member, r.Host, r.Error), r.Hint)
		}
	}
	return out, nil
}

func proveHost(ctx context.Context, pb *schema.Playbook, inv *schema.Inventory, hosts steps.Hosts, cluster steps.Cluster, name string) HostReady {
	start := time.Now()
	mem := inv.Member(name)
	r := HostReady{Member: name}
	if mem == nil {
		r.Error, r.code = "not in the inventory", exit.Invalid
		return r
	}
	r.Host = mem.Host
	cfg := inv.Resolve(mem)
	ctx, cancel := context.WithTimeout(ctx, readyBound)
	defer cancel()
	fail := func(code int, err error) HostReady {
		r.Error, r.code, r.Hint, r.Took = err.Error(), code, exit.Hint(err), time.Since(start)
		return r
	}
	if _, err := hosts.Host(ctx, name); err != nil {
		return fail(exit.Unreachable, err)
	}
	env := &steps.Env{Playbook: pb, Inventory: inv, Phase: schema.PhaseMembers, Member: &cfg,
		Cluster: cluster, Hosts: hosts, Log: discardLog{}, Now: time.Now, CheckOnly: true,
		Record: func(string, any) {}}
	for _, s := range pb.Members.Steps {
		p, ok := s.Args.(steps.Preflighter)
		if !ok {
			continue
		}
		if err := p.Preflight(ctx, env); err != nil {
			code := exit.Refused
			var lost *steps.ConnectionLostError
			if errors.As(err, &lost) {
				code = exit.Unreachable
			}
			return fail(code, fmt.Errorf("%s: %w", s.Action, err))
		}
	}
	r.Ready, r.Took = true, time.Since(start)
	return r
}

// discardLog drops what check-only preflights say: the plan reports the
// outcome per host.
type discardLog struct{}

func (discardLog) Info(string, ...any) {}
func (discardLog) Warn(string, ...any) {}
