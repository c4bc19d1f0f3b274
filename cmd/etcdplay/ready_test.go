package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/etcdplay/etcdplay/testbed"
)

// editInventory writes a copy of the bed's inventory changed by edit.
func editInventory(t *testing.T, c *testbed.Cluster, name string, edit func(map[string]any)) string {
	t.Helper()
	src, err := os.ReadFile(c.InventoryPath)
	if err != nil {
		t.Fatal(err)
	}
	var inv map[string]any
	if err := yaml.Unmarshal(src, &inv); err != nil {
		t.Fatal(err)
	}
	edit(inv)
	out, err := yaml.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(c.Dir, name)
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// TestReadinessProduction: on a production-shaped cluster (TLS with client
// certificates, a bastion, sudo limited to what `etcdplay sudoers`
// prints) the live plan proves every host ready; a wrong CA, a missing
// sudo line and a host whose sshd is down are each refused before
// anything changes, with the cause in the first line, quickly.
func TestReadinessProduction(t *testing.T) {
	c := testbed.StartT(t, testbed.Options{Version: "3.5", Production: true})
	bin := buildEtcdplay(t) // after StartT: no build where the bed is missing
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	out, stderr, code := runBin(t, bin, "sudoers", "-i", c.InventoryPath)
	if code != 0 {
		t.Fatalf("sudoers: exit %d\n%s", code, stderr)
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

	t.Run("plan proves every host ready", func(t *testing.T) {
		start := time.Now()
		out, stderr, code := runBin(t, bin, "plan", "3.5-to-3.6", "-i", c.InventoryPath)
		t.Logf("plan: exit %d after %v\n%s%s", code, time.Since(start).Round(time.Millisecond), out, stderr)
		if code != 0 {
			t.Fatalf("plan with every rule installed: exit %d", code)
		}
		for _, h := range c.Hosts {
			if !strings.Contains(out, "ready: "+h.Name+" ") {
				t.Errorf("plan does not say %s is ready", h.Name)
			}
		}
	})

	t.Run("a missing sudo line", func(t *testing.T) {
		missing := c.Hosts[1].Service + " stop"
		var fewer []string
		for _, l := range rules {
			if strings.Contains(l, missing+",") {
				l = strings.Replace(l, missing+",", "", 1)
			}
			fewer = append(fewer, l)
		}
		if err := c.SetSudoRules(ctx, fewer); err != nil {
			t.Fatal(err)
		}
		defer c.SetSudoRules(ctx, rules)
		start := time.Now()
		out, stderr, code := runBin(t, bin, "plan", "3.5-to-3.6", "-i", c.InventoryPath)
		took := time.Since(start)
		t.Logf("plan: exit %d after %v\n%s", code, took.Round(time.Millisecond), stderr)
		if code != 5 {
			t.Errorf("plan without %q: exit %d, want 5 (refused)", missing, code)
		}
		first := firstLineOf(stderr)
		if !strings.Contains(first, "host2") || !strings.Contains(first, "missing sudo rule") || !strings.Contains(first, "NOPASSWD: "+missing) {
			t.Errorf("the first line does not name host2's missing sudo rule: %q", first)
		}
		if !strings.Contains(stderr, "NOPASSWD: "+missing) || !strings.Contains(out, "NOT READY: host2") {
			t.Errorf("the refusal does not print the missing line %q", missing)
		}
	})

	t.Run("status --ssh", func(t *testing.T) {
		out, stderr, code := runBin(t, bin, "status", "--ssh", "-i", c.InventoryPath)
		t.Logf("status --ssh: exit %d\n%s%s", code, out, stderr)
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, h := range c.Hosts {
			if !strings.Contains(out, h.Name) {
				t.Errorf("status --ssh does not list %s", h.Name)
			}
		}
	})

	t.Run("wrong CA", func(t *testing.T) {
		stranger := filepath.Join(c.Dir, "stranger-ca.crt")
		if err := testbed.NewCAFile(stranger); err != nil {
			t.Fatal(err)
		}
		inv := editInventory(t, c, "wrong-ca.yaml", func(inv map[string]any) { inv["tls"].(map[string]any)["ca"] = stranger })
		for _, args := range [][]string{{"status", "-i", inv}, {"plan", "3.5-to-3.6", "-i", inv}, {"run", "3.5-to-3.6", "-i", inv, "--yes"}} {
			start := time.Now()
			_, stderr, code := runBin(t, bin, args...)
			t.Logf("%s: exit %d after %v:\n%s", args[0], code, time.Since(start).Round(time.Millisecond), stderr)
			if !strings.Contains(firstLineOf(stderr), "x509") {
				t.Errorf("%s: the first line does not name the x509 cause: %q", args[0], firstLineOf(stderr))
			}
			if code != 4 && code != 8 {
				t.Errorf("%s: exit %d, want 4 (unreachable)", args[0], code)
			}
		}
	})
}
