package testbed

import (
	"context"
	"os"
	"path/filepath"
	"time"
)

// TB is the part of testing.TB the bed needs. It is declared here, not
// imported, so that the etcdplay binary (whose sandbox uses this package)
// never links package testing; every *testing.T satisfies it.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// StartT is Start for tests: it logs through t, skips the test through
// Require when the bed is not provisioned (fails it with
// ETCDPLAY_REQUIRE_BED=1), fails it when the cluster does not come up, and
// registers Close with t.Cleanup; a teardown problem (a process or a port
// left behind) fails the test too.
func StartT(t TB, o Options) *Cluster {
	t.Helper()
	needs := []Need{Binaries(o.Version)}
	if o.SSHServer == nil {
		needs = append(needs, OpenSSH())
	}
	if o.Production {
		needs = append(needs, ProductionShape())
	}
	Require(t, needs...)
	if o.Logf == nil {
		o.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout(o))
	defer cancel()
	c, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			// What the members said is usually the explanation.
			for _, h := range c.Hosts {
				t.Logf("%s", Tail(filepath.Join(h.Dir, "etcd.log"), 15))
			}
			if os.Getenv("ETCDPLAY_BED_KEEP") != "1" {
				t.Logf("testbed: set ETCDPLAY_BED_KEEP=1 to keep %s", c.Dir)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Errorf("%v", err)
		}
	})
	return c
}

// RequireVersions is Require of every version in versions.txt and of
// OpenSSH: for a test that goes through the whole bed.
func RequireVersions(t TB) {
	t.Helper()
	Require(t, Binaries(), OpenSSH())
}

func startTimeout(o Options) time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return 90 * time.Second
}
