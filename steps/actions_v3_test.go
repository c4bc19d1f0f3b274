package steps_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/testbed"
)

// TestUpgradeOneMember34To35 walks one member of a real 3.4 cluster
// through the guide's per-member steps, each action checked by evidence
// the action itself did not produce: the bed's pid file, a TCP dial, the
// binary's own --version, the keys read back from the member.
func TestUpgradeOneMember34To35(t *testing.T) {
	b := startBed(t, "3.4")
	pb := playbook(t, "3.4", "3.5")
	ctx := ctxT(t, 4*time.Minute)
	if err := b.WriteKeys(ctx, 100); err != nil {
		t.Fatal(err)
	}
	leader, err := b.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := (leader + 1) % len(b.Hosts) // a follower goes through stop/swap/start
	fh := b.Hosts[f]
	t.Logf("leader %s, upgrading follower %s", b.Hosts[leader].Name, fh.Name)

	t.Run("swap preflight refuses a skipped minor", func(t *testing.T) {
		// An inventory whose 3.5 release is really the 3.6 binary: the
		// guide-breaking skip that crashes 3.4 peers.
		env, _, _ := b.env(t, fh.Name, pb)
		env.Inventory = withRelease(b.inv, "3.5.35", filepath.Join(testbed.BinDir("3.6.16"), "etcd"))
		err := (&steps.Swap{To: minor(t, "3.5")}).Preflight(ctx, env)
		wantErr(t, err, "prints etcd 3.6.16", "expected 3.5.35", "refusing before any member is stopped")
		if v := version(t, fh.Binary()); !strings.Contains(v, "3.4.23") {
			t.Errorf("binary changed by a refused preflight: %s", v)
		}
		if _, err := os.Stat(fh.Binary() + ".etcdplay-prev"); err == nil {
			t.Error("a refused preflight left a .etcdplay-prev behind")
		}
		if b.MemberPID(f) == 0 {
			t.Error("a refused preflight stopped the member")
		}
		env.Inventory = b.inv
		if err := (&steps.Swap{To: minor(t, "3.5")}).Preflight(ctx, env); err != nil {
			t.Errorf("preflight of the right release: %v", err)
		}
		// A playbook that claims 3.5 -> 3.6 run against this 3.4 cluster.
		env.Playbook = playbook(t, "3.5", "3.6")
		wantErr(t, (&steps.Swap{To: minor(t, "3.6")}).Preflight(ctx, env), "cluster version is 3.4.0", "would skip a minor")
	})

	t.Run("ssh-stop", func(t *testing.T) {
		pid := b.MemberPID(f)
		env, _, _ := b.env(t, fh.Name, pb)
		if err := (&steps.SSHStop{}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		if b.MemberPID(f) != 0 || processAlive(pid) {
			t.Errorf("etcd pid %d still alive after ssh-stop", pid)
		}
		if clientListening(t, fh) {
			t.Error("client port still listening after ssh-stop")
		}
	})

	t.Run("wait healthy times out on the stopped member", func(t *testing.T) {
		env, _, _ := b.env(t, fh.Name, pb)
		start := time.Now()
		err := (&steps.Wait{For: "healthy"}).Run(within(t, ctx, 2*time.Second), env)
		wantErr(t, err, fh.Name+" and the cluster not healthy after", fh.Name+" unreachable", "expected healthy")
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("a 2s wait took %s", d)
		}
		err = (&steps.Wait{For: "caught-up"}).Run(within(t, ctx, 1500*time.Millisecond), env)
		wantErr(t, err, fh.Name+" not caught up after", "expected applied index >=")
	})

	t.Run("swap restores the old binary when the new one prints the wrong version", func(t *testing.T) {
		// Preflight would refuse this release; Run still proves what it
		// installed and puts the kept binary back.
		env, _, _ := b.env(t, fh.Name, pb)
		env.Inventory = withRelease(b.inv, "3.5.35", filepath.Join(testbed.BinDir("3.6.16"), "etcd"))
		err := (&steps.Swap{To: minor(t, "3.5")}).Run(ctx, env)
		wantErr(t, err, "prints etcd 3.6.16 after the swap", "expected 3.5.35", "previous binary is back")
		if v := version(t, fh.Binary()); !strings.Contains(v, "3.4.23") {
			t.Errorf("after a failed swap the binary prints %q, want 3.4.23 back", v)
		}
		if _, err := os.Stat(fh.Binary() + ".etcdplay-new"); err == nil {
			t.Errorf("a failed swap left %s.etcdplay-new", fh.Binary())
		}
	})

	t.Run("swap to 3.5, uploaded", func(t *testing.T) {
		env, _, rec := b.env(t, fh.Name, pb)
		env.Inventory = uploadRelease(t, b.inv, "3.5.35", strings.Repeat("0", 64))
		staged := filepath.Join(stageDir(t, b, env), "3.5.35", "etcd")
		wantErr(t, (&steps.Swap{To: minor(t, "3.5")}).Preflight(ctx, env), "has sha256", "expected 0000")
		if _, err := os.Stat(staged); err == nil {
			t.Fatal("a release whose sha256 is wrong was uploaded")
		}
		env.Inventory = uploadRelease(t, b.inv, "3.5.35", "")
		if err := (&steps.Swap{To: minor(t, "3.5")}).Preflight(ctx, env); err != nil {
			t.Fatal(err)
		}
		if v := version(t, staged); !strings.Contains(v, "3.5.35") {
			t.Errorf("staged upload prints %q, want 3.5.35", v)
		}
		if st, err := os.Stat(filepath.Dir(filepath.Dir(staged))); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("staging folder: %v %v, want mode 0700", st.Mode(), err)
		}
		// Preflight installs the release beside the binary, checked, so
		// that the swap while the member is down is two renames.
		if v := version(t, fh.Binary()+".etcdplay-new"); !strings.Contains(v, "3.5.35") {
			t.Errorf("preflight's copy beside the binary prints %q, want 3.5.35", v)
		}
		if v := version(t, fh.Binary()); !strings.Contains(v, "3.4.23") {
			t.Errorf("preflight changed the binary: %s", v)
		}
		if err := (&steps.Swap{To: minor(t, "3.5")}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		if v := version(t, fh.Binary()); !strings.Contains(v, "3.5.35") {
			t.Errorf("after swap the binary prints %q, want 3.5.35", v)
		}
		if v := version(t, fh.Binary()+".etcdplay-prev"); !strings.Contains(v, "3.4.23") {
			t.Errorf("kept binary prints %q, want 3.4.23", v)
		}
		if v := version(t, fh.Etcdctl()); !strings.Contains(v, "3.5.35") {
			t.Errorf("after swap etcdctl prints %q, want 3.5.35", v)
		}
		for _, p := range []string{fh.Binary() + ".etcdplay-new", staged} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%s was left behind", p)
			}
		}
		if rec["version-before"] != "3.4.23" || rec["version-after"] != "3.5.35" {
			t.Errorf("recorded %v, want version-before 3.4.23 and version-after 3.5.35", rec)
		}
	})

	if err := b.WriteKeys(ctx, 300); err != nil { // the member misses these
		t.Fatal(err)
	}

	t.Run("ssh-start", func(t *testing.T) {
		env, _, _ := b.env(t, fh.Name, pb)
		if err := (&steps.SSHStart{}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		if b.MemberPID(f) == 0 {
			t.Error("no etcd process after ssh-start")
		}
		if !clientListening(t, fh) {
			t.Error("client port not listening after ssh-start")
		}
	})

	t.Run("wait healthy and caught-up", func(t *testing.T) {
		env, _, _ := b.env(t, fh.Name, pb)
		if err := (&steps.Wait{For: "healthy"}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		if err := (&steps.Wait{For: "caught-up"}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		// Evidence: a serializable read on the member itself sees every key.
		n, err := b.VerifyKeysOn(ctx, f)
		if err != nil {
			t.Fatalf("after caught-up, %s: %v", fh.Name, err)
		}
		t.Logf("%s serves all %d keys", fh.Name, n)
	})

	t.Run("assert-version", func(t *testing.T) {
		env, _, _ := b.env(t, fh.Name, pb)
		ok := []*steps.AssertVersion{
			{Member: "self", Server: pattern(t, "3.5.*")},
			{Cluster: pattern(t, "3.4")},
			{Min: mustVersion(t, "3.4.20")},
		}
		for _, a := range ok {
			if err := a.Run(ctx, env); err != nil {
				t.Errorf("%+v: %v", a, err)
			}
		}
		other := b.Hosts[leader].Name
		wantErr(t, (&steps.AssertVersion{Servers: pattern(t, "3.5.*")}).Run(ctx, env), other+" runs 3.4.23 (expected 3.5.*)")
		wantErr(t, (&steps.AssertVersion{Cluster: pattern(t, "3.5")}).Run(ctx, env), "cluster version is 3.4.0 (expected 3.5)")
		wantErr(t, (&steps.AssertVersion{Min: mustVersion(t, "3.4.30"), Message: "go to 3.4.30 first"}).Run(ctx, env),
			"go to 3.4.30 first", other+" runs 3.4.23", "expected 3.4.30 or newer")
		wantErr(t, (&steps.AssertVersion{Member: "self", Server: pattern(t, "3.4.*")}).Run(ctx, env), fh.Name+" runs 3.5.35 (expected 3.4.*)")
	})

	t.Run("move-leader prefers the upgraded member", func(t *testing.T) {
		l, err := b.Leader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if l == f {
			t.Skip("the upgraded member already leads")
		}
		env, _, _ := b.env(t, b.Hosts[l].Name, pb)
		if err := (&steps.MoveLeader{Prefer: "upgraded"}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		if now, err := b.Leader(ctx); err != nil || now != f {
			t.Errorf("after move-leader the leader is %d (%v), want the 3.5 member %s", now, err, fh.Name)
		}
	})

	t.Run("wait cluster-version", func(t *testing.T) {
		env, _, _ := b.env(t, "", pb)
		if err := (&steps.Wait{For: "cluster-version", Version: pattern(t, "3.4")}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		err := (&steps.Wait{For: "cluster-version", Version: pattern(t, "3.5")}).Run(within(t, ctx, time.Second), env)
		wantErr(t, err, "cluster version not 3.5 after", "reports 3.4.0")
	})

	t.Run("rollback swap uses the kept 3.4 binary", func(t *testing.T) {
		env, _, _ := b.env(t, fh.Name, pb)
		env.Phase = schema.PhaseRollback
		for _, a := range []steps.Action{&steps.SSHStop{}, &steps.Swap{To: minor(t, "3.4")}, &steps.SSHStart{}, &steps.Wait{For: "healthy"}} {
			if err := a.Run(ctx, env); err != nil {
				t.Fatalf("%T: %v", a, err)
			}
		}
		if v := version(t, fh.Binary()); !strings.Contains(v, "3.4.23") {
			t.Errorf("after the rollback swap the binary prints %q, want 3.4.23", v)
		}
		if _, err := b.VerifyKeysOn(ctx, f); err != nil {
			t.Errorf("after rollback: %v", err)
		}
	})

	t.Run("ssh-start fails at once when etcd exits at start", func(t *testing.T) {
		env, _, _ := b.env(t, fh.Name, pb)
		if err := (&steps.SSHStop{}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		flags := filepath.Join(fh.Dir, "etcd.flags")
		orig, err := os.ReadFile(flags)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(flags, append(append([]byte{}, orig...), "--no-such-flag\n"...), 0o644)
		start := time.Now()
		err = (&steps.SSHStart{}).Run(ctx, env)
		wantErr(t, err, "exited")
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("a member that cannot start took %s to report", d)
		}
		os.WriteFile(flags, orig, 0o644)

		// A start command that returns 0 while etcd is not running: the
		// status command says so, and the step fails without waiting out
		// its minute.
		quiet := *env.Member
		quiet.Service.Start = "true"
		env.Member = &quiet
		start = time.Now()
		wantErr(t, (&steps.SSHStart{}).Run(ctx, env), "says stopped", "expected running")
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("status said stopped, yet ssh-start took %s to fail", d)
		}
		env, _, _ = b.env(t, fh.Name, pb)
		if err := (&steps.SSHStart{}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
		if err := (&steps.Wait{For: "healthy"}).Run(ctx, env); err != nil {
			t.Fatal(err)
		}
	})
}

func mustVersion(t *testing.T, s string) schema.Version {
	v, err := schema.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// A zombie has exited; only init has yet to reap it.
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

// clientListening reads /proc/net/tcp: is anything listening on the
// host's client port?
func clientListening(t *testing.T, h *testbed.Host) bool {
	ls, err := testbed.Listening([]string{h.Addr})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if strings.HasSuffix(l, ":2379") {
			return true
		}
	}
	return false
}

// uploadRelease is inv with the given release read from the bed's cache on
// the operator's side and uploaded, with sha256 pinned (computed when "").
func uploadRelease(t *testing.T, inv *schema.Inventory, v, sum string) *schema.Inventory {
	t.Helper()
	dir := testbed.BinDir(v)
	if sum == "" {
		b, err := os.ReadFile(filepath.Join(dir, "etcd"))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		sum = hex.EncodeToString(h[:])
	}
	cp := withRelease(inv, v, "")
	r := cp.Releases[v]
	r.Remote, r.Upload, r.Etcdctl, r.SHA256 = "", filepath.Join(dir, "etcd"), filepath.Join(dir, "etcdctl"), sum
	return cp
}

// stageDir is the member's staging folder on the bed (the bed user's
// home is on this machine).
func stageDir(t *testing.T, b *bed, env *steps.Env) string {
	t.Helper()
	u, err := user.Lookup(b.User())
	if err != nil {
		t.Fatal(err)
	}
	return steps.StageDir(env.Inventory, env.Member, u.HomeDir)
}
