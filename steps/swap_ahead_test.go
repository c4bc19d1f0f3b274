package steps_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// TestSwapReadsAheadOfTheStop: with what Prefetch read while the member
// ran, a swap while the member is down is one SSH round trip (the renames
// and the proof, in one batch); without it, two (the facts and versions
// first). Both swaps still prove the placed binary by its --version.
// Real 3.5 cluster, 3.5 -> 3.6, a follower each.
func TestSwapReadsAheadOfTheStop(t *testing.T) {
	b := startBed(t, "3.5")
	pb := playbook(t, "3.5", "3.6")
	ctx := ctxT(t, 4*time.Minute)
	leader, err := b.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// One wrapper per member for the whole test: a swap knows the copy
	// its preflight installed by the host it reached it through.
	hosts := &countingHosts{Hosts: b.tg, by: map[string]*countingHost{}}
	swap := &steps.Swap{To: minor(t, "3.6")}

	swapDown := func(t *testing.T, i int, ahead bool) (roundTrips int) {
		t.Helper()
		h := b.Hosts[i]
		env, _, rec := b.env(t, h.Name, pb)
		env.Hosts = hosts
		if err := swap.Preflight(ctx, env); err != nil {
			t.Fatal(err)
		}
		if ahead {
			env.Ahead = &steps.Ahead{}
			swap.Prefetch(ctx, env)
		}
		if err := (&steps.SSHStop{}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		hosts.reset()
		if err := swap.Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		roundTrips = hosts.count()
		if v := version(t, h.Binary()); !strings.Contains(v, "3.6.16") {
			t.Errorf("%s: after the swap the binary prints %q, want 3.6.16", h.Name, v)
		}
		if v := version(t, h.Binary()+".etcdplay-prev"); !strings.Contains(v, "3.5.35") {
			t.Errorf("%s: kept binary prints %q, want 3.5.35", h.Name, v)
		}
		if rec["version-before"] != "3.5.35" || rec["version-after"] != "3.6.16" {
			t.Errorf("%s: recorded %v, want version-before 3.5.35 and version-after 3.6.16", h.Name, rec)
		}
		if err := (&steps.SSHStart{}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		if err := (&steps.Wait{For: "healthy"}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		return roundTrips
	}

	first, second := (leader+1)%len(b.Hosts), (leader+2)%len(b.Hosts)
	if n := swapDown(t, first, true); n != 1 {
		t.Errorf("swap with what was read ahead: %d round trips while down, want 1", n)
	}
	if n := swapDown(t, second, false); n != 2 {
		t.Errorf("swap with nothing read ahead: %d round trips while down, want 2 (facts, then the batch)", n)
	}

	// What was read ahead is taken once: a second run of the same swap
	// (a retry) reads afresh and finds the binary already on the target.
	env, lg, _ := b.env(t, b.Hosts[first].Name, pb)
	env.Hosts, env.Ahead = hosts, &steps.Ahead{}
	swap.Prefetch(ctx, env)
	for range 2 {
		if err := swap.Run(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	if !lg.has("already on the target release") {
		t.Error("a swap of a member already on 3.6.16 did not say so")
	}
}

// countingHosts counts the commands run on every host since reset.
type countingHosts struct {
	steps.Hosts
	mu sync.Mutex
	by map[string]*countingHost
	n  int
}

func (c *countingHosts) Host(ctx context.Context, member string) (steps.Host, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.by[member]; ok {
		return h, nil
	}
	h, err := c.Hosts.Host(ctx, member)
	if err != nil {
		return nil, err
	}
	ch := &countingHost{Host: h, c: c}
	c.by[member] = ch
	return ch, nil
}

func (c *countingHosts) reset() { c.mu.Lock(); c.n = 0; c.mu.Unlock() }

func (c *countingHosts) count() int { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

type countingHost struct {
	steps.Host
	c *countingHosts
}

func (h *countingHost) Run(ctx context.Context, cmd ssh.Command) (ssh.Result, error) {
	h.c.mu.Lock()
	h.c.n++
	h.c.mu.Unlock()
	return h.Host.Run(ctx, cmd)
}
