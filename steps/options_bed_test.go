package steps_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/testbed"
)

// TestReadOptionsBed reads the options of real etcd 3.5 members started
// with flags (one of them --enable-v2) and an ETCD_* variable, over real
// SSH as the member's own user (flag and environment together; etcd
// refuses a variable a flag shadows), and every
// member's own process is found among the three on the shared machine.
func TestReadOptionsBed(t *testing.T) {
	b := startBedWith(t, testbed.Options{Version: "3.5", ExtraFlags: []string{"--enable-v2", "--snapshot-count", "5000"},
		Env: map[string]string{"ETCD_LOG_LEVEL": "warn"}})
	ctx := ctxT(t, time.Minute)
	for i, mem := range b.inv.Members {
		m := b.inv.Resolve(mem)
		h, err := b.tg.Host(ctx, m.Name)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		o, err := steps.ReadOptions(ctx, h, &m)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d options read in one round trip in %v", m.Name, len(o.Options), time.Since(t0).Round(time.Millisecond))
		if o.Unknown != "" {
			t.Fatalf("%s: unknown: %s", m.Name, o.Unknown)
		}
		if pid := b.MemberPID(i); o.PID != pid {
			t.Errorf("%s: pid %d, the bed's pid file says %d", m.Name, o.PID, pid)
		}
		for k, want := range map[string]string{"name": b.Hosts[i].Name + "@flag", "enable-v2": "true@flag",
			"snapshot-count": "5000@flag", "log-level": "warn@env", "listen-client-urls": b.Hosts[i].ClientURL + "@flag"} {
			if got := o.Options[k] + "@" + o.Sources[k]; got != want {
				t.Errorf("%s: %s = %s, want %s", m.Name, k, got, want)
			}
		}
	}
}

// TestReadOptionsProductionBed reads the options of a production-shaped
// member (etcd runs as its own user from --config-file, the login user is
// another): the config file's keys are the options and flags and
// environment do not count; the unreadable environment does not matter
// then. With the config file made unreadable to the login user, the
// options are unknown until the exact `cat` sudo rule that MemberPrivileged
// lists is installed, and then read through it.
func TestReadOptionsProductionBed(t *testing.T) {
	b := startProductionBed(t, "3.5", "--enable-v2")
	ctx := ctxT(t, 2*time.Minute)
	m := b.inv.Resolve(b.inv.Members[0])
	h, err := b.tg.Host(ctx, m.Name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := b.Hosts[0].ConfigFile
	o, err := steps.ReadOptions(ctx, h, &m)
	if err != nil {
		t.Fatal(err)
	}
	if o.Unknown != "" || o.ConfigFile != cfg || o.Options["enable-v2"] != "true" || o.Sources["enable-v2"] != steps.SourceConfigFile ||
		o.Sources["config-file"] != steps.SourceFlag || o.Options["name"] != b.Hosts[0].Name {
		t.Fatalf("options = %+v", o)
	}

	// Only root and etcd's group may read it now.
	if err := os.Chmod(cfg, 0o640); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(cfg, 0o644) })
	if o, err = steps.ReadOptions(ctx, h, &m); err != nil {
		t.Fatal(err)
	}
	if !o.ConfigNeedsSudo || !strings.Contains(o.Unknown, "not readable as the login user") || o.Options["enable-v2"] != "" {
		t.Fatalf("unreadable config: %+v", o)
	}
	f, err := steps.ReadHostFacts(ctx, h, &m)
	if err != nil {
		t.Fatal(err)
	}
	f.ConfigFile = o.ConfigFile
	cmds, err := steps.MemberPrivileged(b.inv, &m, f)
	if err != nil {
		t.Fatal(err)
	}
	var cat []steps.PrivilegedCommand
	for _, c := range cmds {
		if strings.HasSuffix(c.Argv[0], "/cat") {
			cat = append(cat, c)
		}
	}
	if len(cat) != 1 || cat[0].String() != f.Programs["cat"]+" -- "+cfg {
		t.Fatalf("privileged cat = %v", cat)
	}
	rules := strings.Split(strings.TrimSpace(steps.RenderSudoers(testbed.LoginUser, steps.SudoersAlias("opts"), cat)), "\n")
	if err := b.SetSudoRules(ctx, rules); err != nil {
		t.Fatal(err)
	}
	if o, err = steps.ReadOptions(ctx, h, &m); err != nil {
		t.Fatal(err)
	}
	if o.Unknown != "" || !o.ConfigNeedsSudo || o.Options["enable-v2"] != "true" {
		t.Fatalf("config through sudo cat: %+v", o)
	}
}
