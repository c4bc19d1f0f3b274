//go:build e2e

package e2e

import (
	"os"
	"strings"
	"testing"
)

// TestV2BackupUnreadableRefusedBeforeStop: the 2.x guides back a member
// up after stopping it, with etcdctl run as the login user. When that
// user cannot read a member's data directory, the run is refused in
// preflight, naming the member and the folder, and no member is stopped
// (before, the backup failed with the member already down).
func TestV2BackupUnreadableRefusedBeforeStop(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := startBed(ctx, t, "2.1", 20)
	o := newOperator(t, c)
	h := c.Hosts[1]
	st, err := os.Stat(h.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	// The bed's login user owns the data dir; taking its permissions
	// away is what a login user who is not etcd's owner meets.
	if err := os.Chmod(h.DataDir, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(h.DataDir, st.Mode().Perm()) })
	before := pids(c)

	res := o.etcdplay(ctx, "run", "2.1-to-2.2")
	res.want(t, exitPreflight)
	out := res.output()
	for _, want := range []string{"on " + h.Name, "cannot read " + h.DataDir, "ssh.user"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, lastLines(out, 10))
		}
	}
	requireUntouched(t, c, before)
	t.Logf("refused before any stop: %s", res.failure())
}
