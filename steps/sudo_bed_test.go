package steps_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/target"
	"github.com/etcdplay/etcdplay/testbed"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// startProductionBed is startBed on a production-shaped cluster: the
// login user owns nothing of etcd's, the binary folder is root's, and sudo
// allows only what the test installs.
func startProductionBed(t *testing.T, version string, extraFlags ...string) *bed {
	t.Helper()
	c := testbed.StartT(t, testbed.Options{Version: version, Production: true, ExtraFlags: extraFlags})
	src, err := os.ReadFile(c.InventoryPath)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := schema.LoadInventory(c.InventoryPath, src)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := target.Open(context.Background(), inv, target.Options{SSHConfigFile: "none", AgentSocket: "none", HomeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return &bed{Cluster: c, inv: inv, tg: tg}
}

// sudoRules is what `etcdplay sudoers` prints for the bed: every member's
// privileged commands, read from its host, rendered as sudoers lines.
func sudoRules(ctx context.Context, t *testing.T, b *bed, drop func(steps.PrivilegedCommand) bool) []string {
	t.Helper()
	var lines []string
	for _, mem := range b.inv.Members {
		m := b.inv.Resolve(mem)
		h, err := b.tg.Host(ctx, m.Name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := steps.ReadHostFacts(ctx, h, &m)
		if err != nil {
			t.Fatal(err)
		}
		cmds, err := steps.MemberPrivileged(b.inv, &m, f)
		if err != nil {
			t.Fatal(err)
		}
		var keep []steps.PrivilegedCommand
		for _, c := range cmds {
			if drop == nil || !drop(c) {
				keep = append(keep, c)
			}
		}
		lines = append(lines, strings.Split(strings.TrimSpace(steps.RenderSudoers(testbed.LoginUser, steps.SudoersAlias(b.inv.Cluster+"_"+m.Name), keep)), "\n")...)
	}
	return lines
}

// TestExactSudoProduction upgrades one member of a production-shaped 3.5
// cluster to 3.6 with ssh.sudo and nothing but the exact sudo rules
// steps/privileged.go lists (the bed's sshd has no other way to root):
// preflight proves each rule with sudo -n -l and stages the release in the
// login user's folder; stop, swap and start then run as exact commands.
// With one rule missing, preflight refuses and prints that line.
func TestExactSudoProduction(t *testing.T) {
	b := startProductionBed(t, "3.5")
	ctx := ctxT(t, 4*time.Minute)
	if m := b.inv.Resolve(b.inv.Members[0]); m.SSH.Sudo == nil || !*m.SSH.Sudo {
		t.Fatal("the production bed's inventory does not say ssh.sudo: true")
	}
	rules := sudoRules(ctx, t, b, nil)
	t.Logf("sudo rules:\n%s", strings.Join(rules, "\n"))
	if err := b.SetSudoRules(ctx, rules); err != nil {
		t.Fatal(err)
	}
	pb := playbook(t, "3.5", "3.6")
	leader, err := b.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := (leader + 1) % len(b.Hosts)
	fh := b.Hosts[f]
	env, _, rec := b.env(t, fh.Name, pb)
	swap := &steps.Swap{To: minor(t, "3.6")}

	start := time.Now()
	for _, p := range []steps.Preflighter{&steps.SSHStop{}, swap, &steps.SSHStart{}} {
		if err := p.Preflight(ctx, env); err != nil {
			t.Fatalf("preflight with every rule installed: %v", err)
		}
	}
	t.Logf("preflight (sudo -n -l of every command, release checked) took %v", time.Since(start).Round(time.Millisecond))

	rec2 := &recordingHosts{Hosts: env.Hosts, t: t}
	for _, r := range []steps.Action{&steps.SSHStop{}, swap, &steps.SSHStart{}, &steps.Wait{For: "healthy"}} {
		start := time.Now()
		if r == swap {
			env.Hosts = rec2
		}
		if err := r.Run(ctx, env); err != nil {
			t.Fatalf("%T: %v", r, err)
		}
		env.Hosts = b.tg
		t.Logf("%s took %v", r.Kind(), time.Since(start).Round(time.Millisecond))
	}
	// While the member was down nothing crossed the network but commands:
	// no upload, and nothing under sudo was a shell.
	if rec2.uploads > 0 {
		t.Errorf("the swap uploaded %d files while the member was down", rec2.uploads)
	}
	for _, c := range rec2.privileged {
		if strings.Contains(c, "sh -c") || strings.HasPrefix(c, "sh ") || strings.HasPrefix(c, "bash ") {
			t.Errorf("a shell under sudo: %s", c)
		}
	}
	if v := version(t, fh.Binary()); !strings.Contains(v, "3.6.") {
		t.Errorf("after the swap %s prints %q, want 3.6", fh.Binary(), v)
	}
	if v := version(t, fh.Binary()+".etcdplay-prev"); !strings.Contains(v, "3.5.") {
		t.Errorf("kept binary prints %q, want 3.5", v)
	}
	st, err := os.Stat(fh.Binary())
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Sys().(*syscall.Stat_t); s.Uid != 0 || s.Gid != 0 || st.Mode().Perm() != 0o755 {
		t.Errorf("%s is %d:%d %v after the swap, want root:root 0755 as before", fh.Binary(), s.Uid, s.Gid, st.Mode().Perm())
	}
	t.Logf("swap recorded %v", rec)

	// One rule missing: the rename that puts the new binary in place, on
	// another member. Preflight refuses there, naming the exact line.
	oi := (f + 1) % len(b.Hosts)
	o := b.Hosts[oi]
	place := o.Binary() + ".etcdplay-new " + o.Binary()
	fewer := sudoRules(ctx, t, b, func(c steps.PrivilegedCommand) bool { return strings.HasSuffix(c.String(), place) })
	if err := b.SetSudoRules(ctx, fewer); err != nil {
		t.Fatal(err)
	}
	oenv, _, _ := b.env(t, o.Name, pb)
	start = time.Now()
	err = swap.Preflight(ctx, oenv)
	var ms *steps.MissingSudoError
	if !errors.As(err, &ms) || len(ms.Missing) != 1 {
		t.Fatalf("preflight without the place rule: %v, want one missing sudo rule", err)
	}
	wantErr(t, err, "missing sudo rule on "+o.Name+" (sudo -n -l refuses it): etcdlogin ALL=(root) NOPASSWD: /usr/bin/mv -f -- "+place)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the refusal took %v", d)
	}
	if b.MemberPID(oi) == 0 {
		t.Error("a refused preflight stopped the member")
	}
}

// recordingHosts logs every command an action sends, with its time, and
// counts uploads and privileged commands.
type recordingHosts struct {
	steps.Hosts
	t          *testing.T
	uploads    int
	privileged []string
}

func (r *recordingHosts) Host(ctx context.Context, member string) (steps.Host, error) {
	h, err := r.Hosts.Host(ctx, member)
	if err != nil {
		return nil, err
	}
	return &recordingHost{Host: h, r: r}, nil
}

type recordingHost struct {
	steps.Host
	r *recordingHosts
}

func (h *recordingHost) Run(ctx context.Context, cmd ssh.Command) (ssh.Result, error) {
	start := time.Now()
	res, err := h.Host.Run(ctx, cmd)
	if cmd.Privileged {
		h.r.privileged = append(h.r.privileged, cmd.String())
	}
	h.r.t.Logf("  %6v sudo=%t %s", time.Since(start).Round(time.Millisecond), cmd.Privileged, cmd)
	return res, err
}

func (h *recordingHost) Upload(ctx context.Context, local, remote string, mode fs.FileMode) error {
	h.r.uploads++
	return h.Host.Upload(ctx, local, remote, mode)
}
