//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/testbed"
)

// The 3.6 guide's v2store pre-check on real clusters: check-v2store runs
// the bed's etcdutl 3.5.35 (the inventory's newest 3.5 release) on every
// member's data directory before any member stops.

// TestV2Store_Dirty_3_5_to_3_6: the operator once ran 3.5 with
// --enable-v2 and wrote a v2 key, then took the flag away (as
// refuse-options asks) and restarted every member. The flag is gone, so
// refuse-options holds, but the v2 write is still in each member's WAL:
// check-v2store reports it on every member with the guide's remedy
// (force a v2 snapshot), the run is refused in preflight (exit 5), and
// no member is stopped.
func TestV2Store_Dirty_3_5_to_3_6(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := testbed.StartT(t, testbed.Options{Version: "3.5", ExtraFlags: []string{"--enable-v2"}})
	writeKeys(ctx, t, c, faultKeys)
	putV2(ctx, t, c, "/legacy/config", "from-a-v2-client")
	for i, h := range c.Hosts {
		dropFlag(t, h, "--enable-v2")
		if err := c.StopMember(ctx, i); err != nil {
			t.Fatal(err)
		}
		if err := c.StartMember(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	t.Log("every member restarted without --enable-v2; the v2 write stays in the WAL")
	o := newOperator(t, c)
	before := pids(c)

	res := o.etcdplay(ctx, "run", "3.5-to-3.6")
	res.want(t, exitPreflight)
	msg := res.failure()
	for _, h := range c.Hosts {
		want := fmt.Sprintf("member %s: etcdutl check v2store --data-dir %s says %q", h.Name, h.DataDir, "detected custom v2 content in WAL records")
		if !strings.Contains(msg, want) {
			t.Errorf("refusal does not say %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(msg, "--snapshot-count=1") {
		t.Errorf("refusal does not give the guide's remedy (force a v2 snapshot):\n%s", msg)
	}
	if fails := res.steps(events.StepFailed, "", "check-v2store"); len(fails) == 0 || fails[0].Phase != schema.PhasePreflight {
		t.Errorf("want the preflight check-v2store step to fail, got %+v", fails)
	}
	t.Logf("refused: %s", clip(msg, 500))
	requireNothingStopped(t, o, res, before)
	requireKeys(ctx, t, c)
}

// requireV2StoreChecked: the 3.5-to-3.6 run ran check-v2store once, in
// preflight, and found every member clean; on a production-shaped
// cluster (etcd's data directory is its own user's, 0700) that was under
// sudo, with the exact line `etcdplay sudoers` printed for each member.
func requireV2StoreChecked(t *testing.T, c *testbed.Cluster, res *result, rules []string) {
	t.Helper()
	done := res.steps(events.StepDone, "", "check-v2store")
	if len(done) != 1 || done[0].Phase != schema.PhasePreflight {
		t.Errorf("check-v2store: want one done preflight step, got %+v", done)
	}
	if rules == nil {
		return
	}
	etcdutl := filepath.Join(testbed.BinDir(release(t, "3.5")), "etcdutl")
	for _, h := range c.Hosts {
		// as sudoers writes it: = escaped (steps.SudoersArgs)
		want := etcdutl + ` check v2store --data-dir\=` + h.DataDir
		found := false
		for _, l := range rules {
			found = found || containsCommand(l, want)
		}
		if !found {
			t.Errorf("etcdplay sudoers prints no line for %q:\n%s", want, strings.Join(rules, "\n"))
		}
	}
	t.Logf("check-v2store ran in preflight and found every member clean")
}

// putV2 writes one key through the v2 API of the first member.
func putV2(ctx context.Context, t *testing.T, c *testbed.Cluster, key, value string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.Hosts[0].ClientURL+"/v2/keys"+key, strings.NewReader(url.Values{"value": {value}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("v2 PUT %s: %s", key, resp.Status)
	}
	t.Logf("wrote v2 key %s through %s", key, c.Hosts[0].Name)
}

// dropFlag removes one flag line from the host's etcd.flags, which the
// bed's service script reads at each start.
func dropFlag(t *testing.T, h *testbed.Host, flag string) {
	t.Helper()
	p := filepath.Join(h.Dir, "etcd.flags")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != flag {
			keep = append(keep, l)
		}
	}
	if err := os.WriteFile(p, []byte(strings.Join(keep, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}
