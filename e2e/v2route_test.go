//go:build e2e

package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestPlanTo_3_0_From_2_0_0 plans the whole 2.x chain from the bed's
// 2.0.0, below the 2.0.3 floor 2.0-to-2.1 asserts: the route patches to
// the newest 2.0 first (2.0-patch), then takes each minor in turn up to
// 2.3-to-3.0, each hop installing the newest release of its minor.
// Planning changes nothing.
func TestPlanTo_3_0_From_2_0_0(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "2.0-below-floor", 10)
	o := newOperator(t, c)
	before := pids(c)
	out, stderr, code := o.command(ctx, "plan", "--to", "3.0", "-i", c.InventoryPath)
	if code != exitOK {
		t.Fatalf("plan --to 3.0: exit %d\n%s%s", code, out, lastLines(stderr, 10))
	}
	var hops []string
	for _, m := range regexp.MustCompile(`(?m)^\d+/\d+\s+(\S+)\s+\S+\s+(\S+)`).FindAllStringSubmatch(out, -1) {
		hops = append(hops, m[1]+"@"+m[2])
	}
	want := []string{
		"2.0-patch@" + release(t, "2.0"),
		"2.0-to-2.1@" + release(t, "2.1"),
		"2.1-to-2.2@" + release(t, "2.2"),
		"2.2-to-2.3@" + release(t, "2.3"),
		"2.3-to-3.0@" + release(t, "3.0"),
	}
	if strings.Join(hops, " ") != strings.Join(want, " ") {
		t.Errorf("route hops %v, want %v\n%s", hops, want, out)
	}
	requireUntouched(t, c, before)
	t.Logf("the 2.x chain from 2.0.0 plans in %d hops:\n%s", len(hops), out)
}
