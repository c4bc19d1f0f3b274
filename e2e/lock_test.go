//go:build e2e

package e2e

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
)

// TestLock_SecondRunRefused_3_4_to_3_5 is fault (e): two operators start
// the same upgrade. While the first run is in its member steps, the second
// (another operator: own machine state, same inventory) is refused with
// exit 7, naming the holder's run id, and stops nothing; the first run
// completes undisturbed.
func TestLock_SecondRunRefused_3_4_to_3_5(t *testing.T) {
	t.Parallel()
	scenario(t, "(e) second-run-while-locked")
	ctx := testContext(t)
	c := startBed(ctx, t, "3.4", faultKeys)
	alice, bob := newOperator(t, c), newOperator(t, c)
	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)

	var once sync.Once
	var wg sync.WaitGroup
	var second *result
	var aliceRun string
	t.Log("alice runs the upgrade; when her run reaches its first member, bob starts the same upgrade")
	res := alice.watch(ctx, func(e events.Event, _ *os.Process) {
		if e.Kind != events.StepStart || e.Phase != schema.PhaseMembers {
			return
		}
		once.Do(func() {
			aliceRun = e.RunID
			wg.Add(1)
			go func() {
				defer wg.Done()
				second = bob.etcdplay(context.WithoutCancel(ctx), "run", "3.4-to-3.5")
			}()
			// Alice's run waits for bob's to be refused, so the lock is
			// surely still hers when he asks.
			wg.Wait()
		})
	}, "run", "3.4-to-3.5")
	wg.Wait()
	st := w.Stop()

	if second == nil {
		t.Fatal("alice's run never reached a member step")
	}
	second.want(t, exitLocked)
	out := second.output()
	for _, want := range []string{"locked", aliceRun} {
		if !strings.Contains(out, want) {
			t.Errorf("bob's refusal does not name %q:\n%s", want, lastLines(out, 10))
		}
	}
	t.Logf("bob refused: %s", clip(firstLine(second.stderr), 300))
	if m := second.membersTouched(); len(m) > 0 {
		t.Errorf("bob's run started member steps on %v", m)
	}

	res.want(t, exitOK)
	t.Logf("alice's run %s completed", aliceRun)
	requireVersions(ctx, t, c, release(t, "3.5"), "3.5.0")
	requireKeys(ctx, t, c)
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res, second))
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			return l
		}
	}
	return ""
}
