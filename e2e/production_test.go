//go:build e2e

package e2e

import (
	"context"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/testbed"
)

// Production-shaped clusters (testbed.Options.Production): TLS with client
// certificates on client and peer URLs, etcd run by its own user from a
// config file, a login user who owns nothing of etcd's, a root-owned
// binary folder, sudo limited to exactly the lines `etcdplay sudoers`
// prints, non-default ports and every host behind a bastion. The operator
// follows the README's production section: print the sudoers lines,
// install them, plan, run.

// startProductionBed starts a production-shaped cluster of version,
// installs exactly the sudo rules `etcdplay sudoers -i INVENTORY` prints
// for its inventory (and nothing else) and writes n keys over TLS.
func startProductionBed(ctx context.Context, t *testing.T, version string, n int) (*testbed.Cluster, *operator, []string) {
	t.Helper()
	return startProduction(ctx, t, testbed.Options{Version: version, Production: true}, n)
}

// startProduction is startProductionBed with more options (Auth).
func startProduction(ctx context.Context, t *testing.T, opts testbed.Options, n int) (*testbed.Cluster, *operator, []string) {
	t.Helper()
	c := testbed.StartT(t, opts)
	writeKeys(ctx, t, c, n)
	o := newOperator(t, c)
	out, stderr, code := o.command(ctx, "sudoers", "-i", c.InventoryPath)
	if code != exitOK {
		t.Fatalf("etcdplay sudoers: exit %d\n%s", code, lastLines(stderr, 20))
	}
	rules := sudoLines(out)
	for _, l := range rules {
		if broad := grantsShell(l); broad != "" {
			t.Errorf("etcdplay sudoers grants %s: %q", broad, l)
		}
	}
	first, _, _ := strings.Cut(out, "\n\n")
	t.Logf("etcdplay sudoers printed %d lines, the login user's only sudo rules; the first host's:\n%s", len(rules), first)
	if err := c.SetSudoRules(ctx, rules); err != nil {
		t.Fatalf("install what etcdplay sudoers printed: %v", err)
	}
	return c, o, rules
}

// startProductionDefaults starts a production-shaped cluster with the
// bed's default sudo rules, for refusals that come before any sudo, and
// writes n keys over TLS.
func startProductionDefaults(ctx context.Context, t *testing.T, version string, n int) *testbed.Cluster {
	t.Helper()
	c := testbed.StartT(t, testbed.Options{Version: version, Production: true})
	writeKeys(ctx, t, c, n)
	return c
}

func writeKeys(ctx context.Context, t *testing.T, c *testbed.Cluster, n int) {
	t.Helper()
	t0 := time.Now()
	if err := c.WriteKeys(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d checksummed keys over TLS to %s (etcd %s) in %v", n, c.Name, c.Version, time.Since(t0).Round(time.Millisecond))
}

// grantsShell names what makes a sudoers line grant more than named
// commands (a shell, ALL commands, a wildcard), or "".
func grantsShell(line string) string {
	if strings.HasPrefix(strings.TrimSpace(line), "#") {
		return ""
	}
	for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == ',' || r == '=' || r == ':' }) {
		switch {
		case f == "ALL" && !strings.Contains(line, "ALL=(") || strings.HasSuffix(line, "NOPASSWD: ALL"):
			return "every command"
		case f == "/bin/sh" || f == "/usr/bin/sh" || f == "/bin/bash" || f == "/usr/bin/bash" || f == "sh" || f == "bash":
			return "a shell"
		case strings.Contains(f, "*"):
			return "a wildcard"
		}
	}
	return ""
}

// sudoLines is the sudoers text as lines, blank lines dropped (comments
// are kept: visudo accepts them and they say which host a rule is for).
func sudoLines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// withoutCommand removes one command from sudoers lines: from a
// Cmnd_Alias list (with its comma) when it shares a line, else the whole
// line that grants it. ok is false when no line names cmd.
func withoutCommand(rules []string, cmd string) (out []string, ok bool) {
	for _, l := range rules {
		if ok || !containsCommand(l, cmd) {
			out = append(out, l)
			continue
		}
		ok = true
		for _, form := range []string{cmd + ", ", ", " + cmd, cmd + ","} {
			if strings.Contains(l, form) {
				out = append(out, strings.Replace(l, form, "", 1))
				break
			}
		}
		// else the line granted cmd alone, and it goes.
	}
	return out, ok
}

// containsCommand: cmd appears in line as a whole command (followed by
// the end, a comma or a line continuation), so "svc.sh stop" does not
// match "svc.sh stop-all".
func containsCommand(line, cmd string) bool {
	for i := strings.Index(line, cmd); i >= 0; {
		rest := line[i+len(cmd):]
		if rest == "" || strings.HasPrefix(rest, ",") || strings.HasPrefix(strings.TrimSpace(rest), "\\") || strings.TrimSpace(rest) == "" {
			return true
		}
		j := strings.Index(rest, cmd)
		if j < 0 {
			return false
		}
		i += len(cmd) + j
	}
	return false
}

// TestProduction_Upgrade_3_5_to_3_6 upgrades the production-shaped
// cluster with ssh.sudo: true and nothing but the printed sudo rules,
// with a writer on every endpoint over TLS: every member on 3.6, every
// key there, not one write lost (3.5 members drain on SIGTERM).
func TestProduction_Upgrade_3_5_to_3_6(t *testing.T) {
	t.Parallel()
	productionUpgrade(t, "3.5-to-3.6")
}

// TestProduction_Upgrade_3_4_to_3_5 is the same from Debian's 3.4. A 3.4
// member aborts the write in flight when it stops, so the writer's bound
// is requireWriter's (upgrade_test.go explains).
func TestProduction_Upgrade_3_4_to_3_5(t *testing.T) {
	t.Parallel()
	productionUpgrade(t, "3.4-to-3.5")
}

// TestProduction_Auth_3_5_to_3_6 is the production upgrade with etcd's v3
// authentication and RBAC on: the inventory's auth section names root
// and a password file, every etcd call of the run logs in, and the
// password appears in no output and no state file.
func TestProduction_Auth_3_5_to_3_6(t *testing.T) {
	t.Parallel()
	o := productionUpgradeWith(t, "3.5-to-3.6", true)
	pw := o.c.Auth.Password
	_ = filepath.WalkDir(o.stateDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), pw) {
				t.Errorf("%s holds the etcd password", p)
			}
		}
		return nil
	})
}

// TestProduction_AuthDowngrade_3_7_to_3_6 is a downgrade on the
// production shape with auth on: the downgrade requests (validate, enable)
// go over TLS as root, the swaps run under the printed sudo rules only.
func TestProduction_AuthDowngrade_3_7_to_3_6(t *testing.T) {
	t.Parallel()
	productionUpgradeWith(t, "3.7-to-3.6", true)
}

func productionUpgrade(t *testing.T, playbook string) { productionUpgradeWith(t, playbook, false) }

func productionUpgradeWith(t *testing.T, playbook string, auth bool) *operator {
	ctx := testContext(t)
	from, to, _ := strings.Cut(playbook, "-to-")
	target := release(t, to)
	c, o, rules := startProduction(ctx, t, testbed.Options{Version: from, Production: true, Auth: auth}, keysPerCluster)

	out, stderr, code := o.command(ctx, "plan", playbook, "-i", c.InventoryPath)
	if code != exitOK {
		t.Fatalf("plan: exit %d\n%s%s", code, out, lastLines(stderr, 20))
	}
	t.Logf("the live plan:\n%s", lastLines(out, 30))

	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := watchQuorum(ctx, c)
	res := o.etcdplay(ctx, "run", playbook)
	st := w.Stop()
	res.want(t, exitOK)
	if playbook == "3.5-to-3.6" {
		requireV2StoreChecked(t, c, res, rules)
	}
	if c.Auth != nil && strings.Contains(res.output()+out+stderr, c.Auth.Password) {
		t.Error("etcdplay printed the etcd password")
	}

	rep := o.report()
	state := "upgraded"
	if to < from { // one-digit minors
		state = "downgraded"
	}
	for _, m := range rep.Members {
		if m.State != state || m.VersionAfter != target {
			t.Errorf("report: %s %s, %s -> %s; want %s to %s", m.Name, m.State, m.VersionBefore, m.VersionAfter, state, target)
		}
	}
	requireVersions(ctx, t, c, target, to+".0")
	requireHealthy(ctx, t, c)
	requireKeys(ctx, t, c)
	o.requireV3Backup(rep)
	requireRootOwnedBinaries(t, c)
	requireStagedInBed(t, c)
	label := "production " + playbook
	if auth {
		label = "production+auth " + playbook
	}
	printSummary(t, label, rep, st, c.Keys())
	requireQuorum(t, c, q)
	requireWriter(t, c, st, stops(res))
	requireDrained(t, from, state, st)
	return o
}

// requireRootOwnedBinaries: after the swap every member's binary is still
// root's, 0755, in the root-owned folder, as it was installed.
func requireRootOwnedBinaries(t *testing.T, c *testbed.Cluster) {
	t.Helper()
	for _, h := range c.Hosts {
		for _, p := range []string{h.BinDir, h.Binary()} {
			st, err := os.Stat(p)
			if err != nil {
				t.Errorf("%s: %v", h.Name, err)
				continue
			}
			if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 0 || st.Mode().Perm() != 0o755 {
				t.Errorf("%s: %s is uid %d mode %v after the run; want root's, 0755", h.Name, p, uid, st.Mode().Perm())
			}
		}
	}
}

// requireStagedInBed: the run staged in each member's ssh.stage_dir (in
// the run folder, which Close removes), nothing under the login user's
// home names this cluster.
func requireStagedInBed(t *testing.T, c *testbed.Cluster) {
	t.Helper()
	u, err := user.Lookup(testbed.LoginUser)
	if err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(u.HomeDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(p, c.Name) {
			t.Errorf("the run left %s in %s's home", p, testbed.LoginUser)
		}
		return nil
	})
}

// TestProduction_MissingSudoLine: the admin pasted all but one of the
// printed sudo lines (host2's service stop). plan and run both refuse
// before any member stops, naming the missing command.
func TestProduction_MissingSudoLine(t *testing.T) {
	t.Parallel()
	scenario(t, "production missing-sudo-line")
	ctx := testContext(t)
	c, o, rules := startProductionBed(ctx, t, "3.5", faultKeys)
	missing := c.Hosts[1].Service + " stop"
	fewer, ok := withoutCommand(rules, missing)
	if !ok {
		t.Fatalf("etcdplay sudoers printed no line granting %q:\n%s", missing, strings.Join(rules, "\n"))
	}
	if err := c.SetSudoRules(ctx, fewer); err != nil {
		t.Fatal(err)
	}
	t.Logf("sudo no longer grants %q", missing)
	before := pids(c)

	t.Run("plan", func(t *testing.T) {
		out, stderr, code := o.command(ctx, "plan", "3.5-to-3.6", "-i", c.InventoryPath)
		if code == exitOK {
			t.Errorf("plan succeeded without the sudo rule for %q:\n%s", missing, lastLines(out, 30))
		} else if all := out + stderr; !strings.Contains(all, missing) || !strings.Contains(all, "host2") {
			t.Errorf("plan's refusal does not name host2 and %q:\n%s", missing, lastLines(all, 30))
		} else {
			t.Logf("plan refused (exit %d): %s", code, firstLine(stderr))
		}
	})

	w, err := c.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res := o.etcdplay(ctx, "run", "3.5-to-3.6")
	st := w.Stop()
	res.want(t, exitPreflight)
	if out := res.output(); !strings.Contains(out, missing) || !strings.Contains(out, "host2") {
		t.Errorf("run's refusal does not name host2 and %q:\n%s", missing, lastLines(out, 30))
	}
	t.Logf("run refused (exit %d): %s", res.code, clip(res.failure(), 300))
	requireNothingStopped(t, o, res, before)
	requireWriter(t, c, st, stops(res))
	requireVersions(ctx, t, c, c.Version, "3.5.0")
	requireKeys(ctx, t, c)
}

// TestProduction_WrongCA: the inventory's tls.ca is a CA that signed
// nothing of this cluster. The run is refused in preflight, before any
// member stops, and the first line of the refusal is the x509 cause.
func TestProduction_WrongCA(t *testing.T) {
	t.Parallel()
	scenario(t, "production wrong-ca")
	ctx := testContext(t)
	c := startProductionDefaults(ctx, t, "3.5", faultKeys)
	o := newOperator(t, c)
	stranger := filepath.Join(c.Dir, "stranger-ca.crt")
	if err := testbed.NewCAFile(stranger); err != nil {
		t.Fatal(err)
	}
	o.inventory = o.editInventory("inventory-wrong-ca.yaml", func(inv map[string]any) {
		inv["tls"].(map[string]any)["ca"] = stranger
	})
	before := pids(c)
	res := o.etcdplay(ctx, "run", "3.5-to-3.6")
	if res.code != exitPreflight && res.code != exitUnreachable {
		t.Errorf("run with the wrong CA: exit %d, want %d (preflight) or %d (unreachable)", res.code, exitPreflight, exitUnreachable)
	}
	if msg := res.failure(); msg != "" && !strings.Contains(firstLine(msg), "x509") {
		t.Errorf("the failure event's first line does not give the x509 cause: %q", firstLine(msg))
	}
	if line := errorLine(res.stderr); !strings.Contains(line, "x509") {
		t.Errorf("the error etcdplay printed does not give the x509 cause in its first line: %q", line)
	}
	if len(res.steps(events.StepStart, "", "ssh-stop")) > 0 {
		t.Error("a member was stopped")
	}
	t.Logf("refused after %v: %s", res.took.Round(time.Millisecond), clip(res.failure(), 300))
	requireNothingStopped(t, o, res, before)
}

// TestProduction_HostRefusesSSH: host2's sshd is down, so the bastion
// cannot open the forward to it. The live plan fails (exit 4), naming
// host2 and the hop it was reached through; then the bastion itself is
// down, and the plan names the bastion as the jump host.
func TestProduction_HostRefusesSSH(t *testing.T) {
	t.Parallel()
	scenario(t, "production host-refuses-ssh")
	ctx := testContext(t)
	c := startProductionDefaults(ctx, t, "3.5", 100)
	o := newOperator(t, c)
	before := pids(c)

	t.Run("member behind the bastion", func(t *testing.T) {
		stopSSHD(t, c.Hosts[1])
		out, stderr, code := o.command(ctx, "plan", "3.5-to-3.6", "-i", c.InventoryPath)
		if code == exitOK {
			t.Fatalf("plan succeeded with host2's sshd down:\n%s", lastLines(out, 20))
		}
		if line := errorLine(stderr); !strings.Contains(line, "host2") || !strings.Contains(line, c.Bastion.Addr) {
			t.Errorf("plan's error does not name host2 and the bastion %s in its first line:\n%s", c.Bastion.Addr, lastLines(stderr, 20))
		} else {
			t.Logf("plan failed (exit %d): %s", code, line)
		}
	})
	t.Run("bastion", func(t *testing.T) {
		stopSSHD(t, c.Bastion)
		out, stderr, code := o.command(ctx, "plan", "3.5-to-3.6", "-i", c.InventoryPath)
		if code != exitUnreachable {
			t.Fatalf("plan with the bastion down: exit %d, want %d\n%s", code, exitUnreachable, lastLines(out, 20))
		}
		if line := errorLine(stderr); !strings.Contains(line, c.Bastion.Addr) || !strings.Contains(line, "jump host") {
			t.Errorf("plan's error does not name the jump host %s in its first line:\n%s", c.Bastion.Addr, lastLines(stderr, 20))
		} else {
			t.Logf("plan failed (exit %d): %s", code, line)
		}
	})
	requireUntouched(t, c, before)
}

// errorLine is the first line of the error etcdplay printed on stderr
// ("etcdplay: ..."), after the run's summary.
func errorLine(stderr string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "etcdplay: ") {
			return l
		}
	}
	return ""
}

// stopSSHD stops one host's sshd (a host that refuses SSH connections);
// Close copes with it being gone.
func stopSSHD(t *testing.T, h *testbed.Host) {
	t.Helper()
	pid := h.SSHDPID()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stop %s's sshd (pid %d): %v", h.Name, pid, err)
	}
	for deadline := time.Now().Add(5 * time.Second); testbed.Alive(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("%s's sshd (pid %d) still runs", h.Name, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%s's sshd (pid %d) is down: %s:%d refuses connections", h.Name, pid, h.Addr, h.SSHPort)
}
