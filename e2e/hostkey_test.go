//go:build e2e

package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	xssh "golang.org/x/crypto/ssh"

	"github.com/etcdplay/etcdplay/testbed"
)

// TestHostKeys_3_4_to_3_5 is fault (d): host3 presents a key known_hosts
// does not vouch for. First its key has changed (a reinstalled machine, or
// a man in the middle), then it is not listed at all. Either way the run
// refuses to talk to it (exit 4, unreachable) before a single command
// runs: no sshd accepts a login, no member step starts, and
// every etcd keeps its process.
func TestHostKeys_3_4_to_3_5(t *testing.T) {
	t.Parallel()
	scenario(t, "(d) unknown-or-changed-host-key")
	ctx := testContext(t)
	c := startBed(ctx, t, "3.4", faultKeys)
	o := newOperator(t, c)
	before := pids(c)
	// host3: the last the runner would reach in inventory order, so every
	// other host is one it could have run something on first.
	bad := c.Hosts[len(c.Hosts)-1]
	hostPattern := fmt.Sprintf("[%s]:%d", bad.Addr, bad.SSHPort)

	known, err := os.ReadFile(c.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	var others []string
	for _, l := range strings.Split(strings.TrimSpace(string(known)), "\n") {
		if !strings.HasPrefix(l, hostPattern+" ") {
			others = append(others, l)
		}
	}
	if len(others) != len(c.Hosts)-1 {
		t.Fatalf("known_hosts %s has no single line for %s:\n%s", c.KnownHostsPath, hostPattern, known)
	}

	cases := []struct {
		name, file string
		lines      []string
		want       []string // in what the operator reads
	}{
		{"changed", "known_hosts-changed", append([]string{hostPattern + " " + newHostKey(t)}, others...),
			[]string{"changed", bad.Addr}},
		{"unknown", "known_hosts-unknown", others,
			[]string{"SHA256:", bad.Addr}},
	}
	for _, tc := range cases {
		t.Logf("%s's key is %s in the operator's known_hosts", bad.Name, tc.name)
		khPath := filepath.Join(c.Dir, tc.file)
		if err := os.WriteFile(khPath, []byte(strings.Join(tc.lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		o.inventory = o.editInventory("inventory-"+tc.file+".yaml", func(inv map[string]any) {
			inv["ssh"].(map[string]any)["known_hosts"] = khPath
		})
		logins := make([]int, len(c.Hosts))
		for i, h := range c.Hosts {
			logins[i] = acceptedLogins(t, h)
		}
		res := o.etcdplay(ctx, "run", "3.4-to-3.5")
		res.expect(t, exitUnreachable)
		out := res.output()
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s key: the refusal does not mention %q:\n%s", tc.name, w, lastLines(out, 20))
			}
		}
		if n := acceptedLogins(t, bad); n != logins[len(c.Hosts)-1] {
			t.Errorf("%s key: sshd on %s accepted %d logins during the run; want none", tc.name, bad.Name, n-logins[len(c.Hosts)-1])
		}
		// Logging in to the other hosts to check their keys first is fine;
		// running the members' preflight commands there (the release's
		// --version, staging) before every host is known to be genuine is not.
		for _, e := range res.events {
			if e.Member != "" && e.Member != bad.Name {
				t.Errorf("%s key of %s: the run acted on %s before refusing: %s %s %s", tc.name, bad.Name, e.Member, e.Kind, e.Action, clip(e.Message, 120))
			}
		}
		for i, h := range c.Hosts[:len(c.Hosts)-1] {
			t.Logf("sshd on %s accepted %d logins during the run", h.Name, acceptedLogins(t, h)-logins[i])
		}
		requireNothingStopped(t, o, res, before)
		t.Logf("refusal: %s", clip(lastLines(res.stderr, 3), 400))
	}
	requireUntouched(t, c, before)
	requireKeys(ctx, t, c)
}

// newHostKey returns a fresh ed25519 public key in known_hosts form: the
// key host1 does not have.
func newHostKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := xssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(xssh.MarshalAuthorizedKey(k)))
}

// acceptedLogins counts the logins sshd on h has accepted (its log).
func acceptedLogins(t *testing.T, h *testbed.Host) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.Dir, "sshd", "sshd.log"))
	if err != nil {
		t.Fatalf("sshd log of %s: %v", h.Name, err)
	}
	return strings.Count(string(b), "Accepted publickey")
}
