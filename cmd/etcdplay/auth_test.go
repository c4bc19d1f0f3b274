package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/testbed"
)

// enableAuth turns etcd v3 auth on: a root user, and user "etcdplay"
// holding the root role (snapshots and move-leader are admin calls).
func enableAuth(t *testing.T, c *testbed.Cluster, password string) {
	t.Helper()
	ctl := filepath.Join(testbed.BinDir(c.Version), "etcdctl")
	eps := strings.Join(c.Endpoints(), ",")
	for _, args := range [][]string{
		{"user", "add", "root:rootpw-" + password},
		{"user", "grant-role", "root", "root"},
		{"user", "add", "etcdplay:" + password},
		{"user", "grant-role", "etcdplay", "root"},
		{"auth", "enable"},
	} {
		out, err := exec.Command(ctl, append([]string{"--endpoints", eps}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("etcdctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestAuthRun35To36: on a real 3.5 cluster with v3 auth and RBAC on, an
// inventory whose auth section names a password file upgrades it to 3.6
// (status, lock, snapshot, move-leader all log in); the password appears
// in no output, journal or report; a wrong password is refused before
// anything changes, naming the cause.
func TestAuthRun35To36(t *testing.T) {
	bin := buildEtcdplay(t)
	c := testbed.StartT(t, testbed.Options{Version: "3.5"})
	const password = "s3cr3t-etcdplay-pw"
	enableAuth(t, c, password)

	dir := t.TempDir()
	pwFile := filepath.Join(dir, "etcd-password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(dir, "wrong-password")
	if err := os.WriteFile(wrongFile, []byte("not-it\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := editInventory(t, c, "auth.yaml", func(inv map[string]any) {
		inv["auth"] = map[string]any{"user": "etcdplay", "password_file": pwFile}
	})
	wrong := editInventory(t, c, "auth-wrong.yaml", func(inv map[string]any) {
		inv["auth"] = map[string]any{"user": "etcdplay", "password_file": wrongFile}
	})
	inline := editInventory(t, c, "auth-inline.yaml", func(inv map[string]any) {
		inv["auth"] = map[string]any{"user": "etcdplay", "password": password}
	})

	_, stderr, code := runBin(t, bin, "validate", inline)
	if code != 3 || !strings.Contains(stderr, "auth: an inline password is not allowed in the inventory") || strings.Contains(stderr, password) {
		t.Errorf("validate of an inline password: exit %d\n%s", code, stderr)
	}

	for _, args := range [][]string{{"status", "-i", wrong}, {"run", "3.5-to-3.6", "-i", wrong, "--yes"}} {
		start := time.Now()
		out, stderr, code := runBin(t, bin, args...)
		t.Logf("%s with a wrong password: exit %d after %v\n%s", args[0], code, time.Since(start).Round(time.Millisecond), stderr)
		if code == 0 || !strings.Contains(firstLineOf(stderr), "authentication failed") {
			t.Errorf("%s with a wrong password: exit %d, first line %q; want a refusal naming the authentication failure", args[0], code, firstLineOf(stderr))
		}
		if strings.Contains(out+stderr, "not-it") {
			t.Errorf("%s printed the password", args[0])
		}
	}
	for i := range c.Hosts {
		if c.MemberPID(i) == 0 {
			t.Fatalf("%s stopped by a refused run", c.Hosts[i].Name)
		}
	}

	state := filepath.Join(dir, "state")
	out, stderr, code := runBin(t, bin, "run", "3.5-to-3.6", "-i", inv, "--yes", "--state-dir", state, "--backup-dir", filepath.Join(dir, "backups"))
	if code != 0 {
		t.Fatalf("run with auth: exit %d\n%s\n%s", code, lastN(out, 20), lastN(stderr, 30))
	}
	t.Logf("run with auth:\n%s", lastN(stderr, 12))
	out2, _, code := runBin(t, bin, "status", "-i", inv, "-o", "json")
	if code != 0 || strings.Count(out2, `"server": "3.6.`) != len(c.Hosts) {
		t.Errorf("after the run: status exit %d\n%s", code, out2)
	}
	// The password is in no file the run wrote.
	filepath.Walk(state, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), password) {
				t.Errorf("%s holds the password", p)
			}
		}
		return nil
	})
	if strings.Contains(out+stderr+out2, password) {
		t.Error("the password was printed")
	}
}

func lastN(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
