package testbed

import (
	"fmt"
	"strings"
	"testing"
)

// recorder is a TB that notes how a test ended instead of ending it.
type recorder struct {
	testing.TB
	skipped, fatal string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
}

func absent(what string) Need { return Need{missing: func() string { return what }} }

var present = Need{missing: func() string { return "" }}

// TestRequire pins both tiers: without ETCDPLAY_REQUIRE_BED a missing bed
// skips with one line naming what is missing and the provisioning command;
// with it set to 1 the same test fails.
func TestRequire(t *testing.T) {
	t.Run("present", func(t *testing.T) {
		for _, mode := range []string{"", "1"} {
			t.Setenv(RequireEnv, mode)
			r := &recorder{}
			Require(r, present, present)
			if r.skipped != "" || r.fatal != "" {
				t.Errorf("%s=%q: skipped %q, failed %q; want neither", RequireEnv, mode, r.skipped, r.fatal)
			}
		}
	})
	t.Run("missing skips", func(t *testing.T) {
		t.Setenv(RequireEnv, "")
		r := &recorder{}
		Require(r, present, absent("etcd 9.9.9 binaries in /nowhere"), absent("user etcdtest"))
		if r.fatal != "" || r.skipped == "" {
			t.Fatalf("skipped %q, failed %q; want a skip", r.skipped, r.fatal)
		}
		for _, want := range []string{"etcd 9.9.9 binaries in /nowhere; user etcdtest", "bash testbed/provision.sh", "as root", RequireEnv + "=1"} {
			if !strings.Contains(r.skipped, want) {
				t.Errorf("skip reason %q lacks %q", r.skipped, want)
			}
		}
		if strings.Contains(r.skipped, "\n") {
			t.Errorf("skip reason is not one line: %q", r.skipped)
		}
		t.Logf("the skip line: %s", r.skipped)
	})
	t.Run("missing fails when required", func(t *testing.T) {
		t.Setenv(RequireEnv, "1")
		r := &recorder{}
		Require(r, absent("user etcdtest"))
		if r.skipped != "" || !strings.Contains(r.fatal, "missing user etcdtest") || !strings.Contains(r.fatal, "bash testbed/provision.sh") {
			t.Fatalf("skipped %q, failed %q; want a failure naming the user and provision.sh", r.skipped, r.fatal)
		}
	})
	t.Run("a wrong version is the test's mistake", func(t *testing.T) {
		t.Setenv(RequireEnv, "")
		r := &recorder{}
		Require(r, Binaries("9.9"))
		if r.skipped != "" || !strings.Contains(r.fatal, `"9.9" is neither a version nor a role`) {
			t.Fatalf("skipped %q, failed %q; want a failure", r.skipped, r.fatal)
		}
	})
	t.Run("an empty bed names the folder", func(t *testing.T) {
		t.Setenv("ETCDPLAY_BED", t.TempDir())
		for _, n := range []struct {
			need Need
			want string
		}{
			{Binaries("3.5"), "etcd 3.5.35 binaries in " + BinDir("3.5.35")},
			{Binaries("3.5", "3.6"), "etcd 3.5.35, 3.6.16 binaries in " + Dir() + "/bin"},
		} {
			if got := n.need.missing(); got != n.want {
				t.Errorf("missing %q, want %q", got, n.want)
			}
		}
	})
	// A real *testing.T: the skip ends the subtest as skipped, not failed.
	t.Setenv(RequireEnv, "")
	var ran bool
	t.Run("a real skip", func(t *testing.T) {
		Require(t, absent("nothing real"))
		ran = true
	})
	if ran {
		t.Error("Require returned after skipping a real test")
	}
}
