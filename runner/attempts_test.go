package runner

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
)

// withPreflight is the fake playbook with step (YAML, indented as a list
// item of preflight) in place of its preflight.
func withPreflight(step string) string {
	return strings.Replace(fakePlaybook, "preflight:\n  - noop: {}\n", "preflight:\n"+step, 1)
}

// TestRetriesTimesTimeout: each attempt runs under the step's bound; an
// attempt that times out is retried like one that fails, and the failure
// names the bound that ran out.
func TestRetriesTimesTimeout(t *testing.T) {
	tests := []struct {
		name     string
		step     string
		attempts int
		fail     string // "" when the run succeeds
	}{
		{"attempt times out then succeeds",
			"  - flaky: {hang: 1}\n    timeout: 50ms\n    retries: 2\n", 2, ""},
		{"the action's own bound, when the step gives none",
			"  - flaky: {hang: 2, own: 40ms}\n    retries: 2\n", 3, ""},
		{"all attempts time out",
			"  - flaky: {hang: 9}\n    timeout: 30ms\n    retries: 2\n", 3,
			"all 3 attempts timed out, each after 30ms, the step's bound per attempt"},
		{"no retries",
			"  - flaky: {hang: 9}\n    timeout: 30ms\n", 1,
			"timed out after 30ms, the step's bound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
			h := newHarness(t, withPreflight(tt.step), fc)
			_, err := Apply(context.Background(), h.o)
			if fc.attempts != tt.attempts {
				t.Errorf("%d attempts, want %d", fc.attempts, tt.attempts)
			}
			retried := h.messages(events.Warn)
			if len(retried) != tt.attempts-1 {
				t.Errorf("retry warnings %q, want %d", retried, tt.attempts-1)
			}
			if tt.fail == "" {
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
				if !strings.Contains(retried[0], "attempt 1 of 3 failed, retrying: attempt 1 saw no answer") {
					t.Errorf("retry warning %q", retried[0])
				}
				return
			}
			// a preflight step that fails refuses the run
			if exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), tt.fail) {
				t.Fatalf("error %v (exit %d), want exit %d naming the bound: %q", err, exit.Code(err), exit.Refused, tt.fail)
			}
			if got := fc.stopped(); len(got) != 0 {
				t.Errorf("members stopped %v after a failed preflight", got)
			}
		})
	}
}

// TestRetryStopsOnCancel: an operator's Ctrl-C ends a non-critical step's
// retries; the run does not start another attempt.
func TestRetryStopsOnCancel(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, withPreflight("  - flaky: {hang: 9}\n    retries: 5\n"), fc)
	ctx, cancel := context.WithCancel(context.Background())
	h.o.Sink = sinkFunc(func(e events.Event) {
		h.rec.Emit(e)
		if e.Kind == events.StepStart {
			cancel()
		}
	})
	_, err := Apply(ctx, h.o)
	if exit.Code(err) != exit.Interrupted {
		t.Fatalf("error %v (exit %d), want interrupted", err, exit.Code(err))
	}
	if fc.attempts != 1 {
		t.Errorf("%d attempts after Ctrl-C, want 1", fc.attempts)
	}
	if got := h.messages(events.Warn); !reflect.DeepEqual(got, []string(nil)) {
		t.Errorf("retry warnings %q after Ctrl-C", got)
	}
}
