package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/testbed"
)

// TestSudoersReadsUnreadableConfigFile: on a production-shaped cluster
// whose first member's config file the login user cannot read, `etcdplay
// sudoers` prints the exact `cat -- FILE` line for that host (found from
// the running etcd's command line) and no other host gets one; with the
// printed rules installed, `plan -o json` shows that member's options read
// through it, nothing unknown.
func TestSudoersReadsUnreadableConfigFile(t *testing.T) {
	c := testbed.StartT(t, testbed.Options{Version: "3.5", Production: true})
	bin := buildEtcdplay(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := c.Hosts[0].ConfigFile
	// etcd read it at start; only a restart would read it again.
	if err := os.Chmod(cfg, 0o600); err != nil {
		t.Fatal(err)
	}

	out, stderr, code := runBin(t, bin, "sudoers", "-i", c.InventoryPath)
	if code != 0 {
		t.Fatalf("sudoers: exit %d\n%s", code, stderr)
	}
	hosts := strings.Split(out, "\n\n")
	if len(hosts) != 3 {
		t.Fatalf("sudoers printed %d hosts:\n%s", len(hosts), out)
	}
	catLine := "/cat -- " + cfg
	if !strings.Contains(hosts[0], catLine) {
		t.Errorf("host1's rules have no %q:\n%s", catLine, hosts[0])
	}
	for _, h := range hosts[1:] {
		if strings.Contains(h, "/cat ") {
			t.Errorf("a host whose config file is readable got a cat line:\n%s", h)
		}
	}
	var rules []string
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" {
			rules = append(rules, l)
		}
	}
	if err := c.SetSudoRules(ctx, rules); err != nil {
		t.Fatal(err)
	}

	out, stderr, code = runBin(t, bin, "plan", "3.5-to-3.6", "-i", c.InventoryPath, "-o", "json")
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, stderr)
	}
	var p runner.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	m := p.Live.Members[0]
	if m.OptionsUnknown != "" || m.Options["name"] != c.Hosts[0].Name || m.OptionSources["name"] != "config-file" {
		t.Errorf("%s through sudo cat: options %v, unknown %q", m.Name, m.Options, m.OptionsUnknown)
	}
}
