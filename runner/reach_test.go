package runner

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/steps"
)

// refusingHosts logs in everywhere but to one member, whose host key is
// refused, and counts the logins it was asked for.
type refusingHosts struct {
	refuse string
	mu     sync.Mutex
	asked  []string
}

type hostKeyRefused struct{}

func (hostKeyRefused) Error() string { return "REMOTE HOST IDENTIFICATION HAS CHANGED" }
func (hostKeyRefused) Hint() string  { return "ssh-keygen -R [h]:22" }

func (h *refusingHosts) Host(ctx context.Context, member string) (steps.Host, error) {
	h.mu.Lock()
	h.asked = append(h.asked, member)
	h.mu.Unlock()
	if member == h.refuse {
		return nil, hostKeyRefused{}
	}
	return fakeHost{}, nil
}

// TestRefusedHostKeyStopsTheRunBeforeAnything: invariant 6 (docs/safety.md) as the operator
// sees it. A changed host key on the last member refuses the whole run
// with exit 4 before the lock, the preflight steps or any member step: the
// first two members are not touched while the third cannot be reached.
func TestRefusedHostKeyStopsTheRunBeforeAnything(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	hosts := &refusingHosts{refuse: "infra2"}
	h.o.Hosts = hosts

	_, err := Apply(context.Background(), h.o)
	if got := exit.Code(err); got != exit.Unreachable {
		t.Fatalf("exit %d (%v), want %d (unreachable)", got, err, exit.Unreachable)
	}
	if !errors.As(err, new(hostKeyRefused)) || !strings.Contains(err.Error(), "nothing was run on any host") {
		t.Errorf("error %q should carry the transport's refusal and say nothing ran", err)
	}
	if hint := exit.Hint(err); hint != "ssh-keygen -R [h]:22" {
		t.Errorf("hint %q, want the transport's own next step", hint)
	}
	slices.Sort(hosts.asked) // logged in to side by side
	if got := strings.Join(hosts.asked, " "); got != "infra0 infra1 infra2" {
		t.Errorf("logins asked for %q, want every member's host", got)
	}
	if h.locker.acquired != 0 {
		t.Errorf("the lock was taken %d times before the hosts were reached", h.locker.acquired)
	}
	if got := fc.stopped(); len(got) != 0 {
		t.Errorf("members stopped: %v, want none", got)
	}
	for _, e := range h.rec.Events() {
		if e.Kind == events.StepStart {
			t.Errorf("a step started before the refusal: %+v", e)
		}
	}
}
