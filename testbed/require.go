package testbed

import (
	"fmt"
	"os"
	"os/user"
	"strings"
)

// RequireEnv names the variable that turns a missing bed into a test
// failure. scripts/test.sh and .ci/run set it to 1, so CI can never pass by
// skipping every real-cluster test; a newcomer's plain `go test ./...`
// leaves it unset and gets a green run of everything that needs no bed.
const RequireEnv = "ETCDPLAY_REQUIRE_BED"

// ProvisionHint is the one command that provisions the bed.
const ProvisionHint = "provision with `bash testbed/provision.sh` as root"

// A Need is one thing a bed-backed test needs from the machine. Require
// checks a list of them.
type Need struct {
	// missing returns a short phrase naming what is absent ("etcd 3.5.35
	// binaries in /x/bin/3.5.35"), or "" when it is present.
	missing func() string
	// bad is a mistake in the test itself (an unknown version): always a
	// failure, never a skip.
	bad error
}

// Binaries needs every binary of each version (a role or an exact version
// from versions.txt); no versions means all of versions.txt.
func Binaries(versions ...string) Need {
	var exact []string
	if len(versions) == 0 {
		for _, v := range Versions() {
			exact = append(exact, v.Version)
		}
	}
	for _, r := range versions {
		v, err := Resolve(r)
		if err != nil {
			return Need{bad: err}
		}
		exact = append(exact, v)
	}
	return Need{missing: func() string {
		var absent []string
		for _, v := range exact {
			if CheckBinaries(v) != nil {
				absent = append(absent, v)
			}
		}
		switch len(absent) {
		case 0:
			return ""
		case 1:
			return fmt.Sprintf("etcd %s binaries in %s", absent[0], BinDir(absent[0]))
		}
		return fmt.Sprintf("etcd %s binaries in %s/bin", strings.Join(absent, ", "), Dir())
	}}
}

// OpenSSH needs what a cluster behind OpenSSH's sshd needs: root (the bed
// starts sshd and switches to the bed user), /usr/sbin/sshd, and the bed
// user etcdtest.
func OpenSSH() Need {
	return Need{missing: func() string {
		var absent []string
		if os.Geteuid() != 0 {
			absent = append(absent, "root (the bed starts sshd and runs members as "+User+")")
		}
		if _, err := os.Stat(sshdPath); err != nil {
			absent = append(absent, sshdPath+" (openssh-server)")
		}
		if _, err := user.Lookup(User); err != nil {
			absent = append(absent, "user "+User)
		}
		return strings.Join(absent, ", ")
	}}
}

// ProductionShape needs what a production-shaped cluster adds to OpenSSH:
// the login and etcd users, sudo with visudo, and setpriv.
func ProductionShape() Need {
	return Need{missing: func() string {
		var absent []string
		for _, u := range []string{LoginUser, EtcdUser} {
			if _, err := user.Lookup(u); err != nil {
				absent = append(absent, "user "+u)
			}
		}
		for _, p := range []string{"/usr/bin/sudo", "/usr/sbin/visudo", "/usr/bin/setpriv"} {
			if _, err := os.Stat(p); err != nil {
				absent = append(absent, p)
			}
		}
		return strings.Join(absent, ", ")
	}}
}

// Require skips the test, with one line naming what is missing and how to
// provision it, unless every need is met. With ETCDPLAY_REQUIRE_BED=1 it
// fails the test instead. Every bed-backed test goes through it (StartT and
// RequireVersions do), so a fresh clone's `go test ./...` is green and CI's
// is complete.
func Require(t TB, needs ...Need) {
	t.Helper()
	var absent []string
	for _, n := range needs {
		if n.bad != nil {
			t.Fatalf("%v", n.bad)
			return
		}
		if m := n.missing(); m != "" {
			absent = append(absent, m)
		}
	}
	if len(absent) == 0 {
		return
	}
	msg := "testbed: no real test bed here: missing " + strings.Join(absent, "; ") + "; " + ProvisionHint
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1: a missing bed fails)", msg, RequireEnv)
		return
	}
	t.Skipf("SKIP %s (%s=1 makes this a failure)", msg, RequireEnv)
}
