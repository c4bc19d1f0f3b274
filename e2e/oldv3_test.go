//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/testbed"
)

// TestPreflight_NoV3Data_3_0_to_3_1: a 3.0 cluster holding only v2 data
// (as one migrated from 2.3 is until its first v3 write) is refused before
// any member stops, because 3.2 and later panic restarting such a cluster
// (etcd issue 9480); the refusal says what to do. After one v3 key is
// written, as the message says, the same playbook upgrades the cluster and
// the v2 keys survive.
func TestPreflight_NoV3Data_3_0_to_3_1(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := testbed.StartT(t, testbed.Options{Version: "3.0"})
	const v2Keys = 50
	for i := range v2Keys {
		v2Put(ctx, t, c.Hosts[i%len(c.Hosts)].ClientURL, fmt.Sprintf("v2key%03d", i), fmt.Sprintf("value%d", i))
	}
	t.Logf("wrote %d keys through the v2 API only; the v3 store is at revision 1", v2Keys)
	o := newOperator(t, c)
	before := pids(c)

	res := o.etcdplay(ctx, "run", "3.0-to-3.1")
	res.want(t, exitPreflight)
	out := res.output()
	for _, want := range []string{"no v3 data", "9480", "ETCDCTL_API=3 etcdctl", "put"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not mention %q:\n%s", want, lastLines(out, 20))
		}
	}
	t.Logf("refused: %s", clip(res.failure(), 300))
	requireNothingStopped(t, o, res, before)
	requireVersions(ctx, t, c, c.Version, "3.0.0")

	t.Log("the operator writes the application's first v3 key, as the refusal says, and runs the playbook again")
	cli, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = cli.Put(pctx, "first-v3-key", "v3")
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	o = newOperator(t, c)
	o.etcdplay(ctx, "run", "3.0-to-3.1").want(t, exitOK)
	requireVersions(ctx, t, c, release(t, "3.1"), "3.1.0")
	requireHealthy(ctx, t, c)
	for i := range v2Keys {
		k, want := fmt.Sprintf("v2key%03d", i), fmt.Sprintf("value%d", i)
		if got := v2Get(ctx, t, c.Hosts[i%len(c.Hosts)].ClientURL, k); got != want {
			t.Errorf("v2 key %s after the upgrade: %q, want %q", k, got, want)
		}
	}
	t.Logf("upgraded to 3.1 after the v3 write; all %d v2 keys kept their values", v2Keys)
}

// v2Put sets key through the v2 keys API of the member at clientURL.
func v2Put(ctx context.Context, t *testing.T, clientURL, key, value string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, clientURL+"/v2/keys/"+key,
		strings.NewReader(url.Values{"value": {value}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("v2 PUT %s: %s %s", key, resp.Status, b)
	}
}

// v2Get reads key's value through the v2 keys API ("" when absent).
func v2Get(ctx context.Context, t *testing.T, clientURL, key string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientURL+"/v2/keys/"+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	i := strings.Index(string(b), `"value":"`)
	if i < 0 {
		return ""
	}
	v := string(b)[i+len(`"value":"`):]
	v, _, _ = strings.Cut(v, `"`)
	return v
}

// TestUpgrade_3_3_to_3_4_V2Data is 3.3-to-3.4 on a cluster that also
// holds v2 data (vars.has_v2_data): every member keeps --enable-v2=true,
// which 3.4 needs to go on serving v2; the v2 `etcdctl backup` of every
// member (ETCDCTL_API=2 with 3.3's etcdctl) is taken beside the v3
// snapshot; the v2 and v3 keys survive.
func TestUpgrade_3_3_to_3_4_V2Data(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := testbed.StartT(t, testbed.Options{Version: "3.3", ExtraFlags: []string{"--enable-v2=true"}})
	if err := c.WriteKeys(ctx, 500); err != nil {
		t.Fatal(err)
	}
	const v2Keys = 50
	for i := range v2Keys {
		v2Put(ctx, t, c.Hosts[i%len(c.Hosts)].ClientURL, fmt.Sprintf("v2key%03d", i), fmt.Sprintf("value%d", i))
	}
	f, err := os.OpenFile(c.InventoryPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("vars:\n  has_v2_data: true\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	o := newOperator(t, c)
	res := o.etcdplay(ctx, "run", "3.3-to-3.4")
	res.want(t, exitOK)
	requireVersions(ctx, t, c, release(t, "3.4"), "3.4.0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	o.requireV2Backups(ctx)
	for i := range v2Keys {
		k, want := fmt.Sprintf("v2key%03d", i), fmt.Sprintf("value%d", i)
		if got := v2Get(ctx, t, c.Hosts[i%len(c.Hosts)].ClientURL, k); got != want {
			t.Errorf("v2 key %s on 3.4: %q, want %q", k, got, want)
		}
	}
	t.Logf("3.4 serves all %d v2 keys (--enable-v2=true kept); every member's v2 backup verified", v2Keys)
}
