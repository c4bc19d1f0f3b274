package ssh

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestKnownHostAccepted(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t)
	res, err := c.Run(ctx(t), Command{Script: "echo out; echo err >&2; exit 3"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitStatus != 3 || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		t.Fatalf("got exit %d stdout %q stderr %q", res.ExitStatus, res.Stdout, res.Stderr)
	}
}

func TestUnknownHostRefusedWithFingerprint(t *testing.T) {
	f := newFixture(t, fixtureOpts{noKnown: true})
	_, err := Dial(ctx(t), f.cfg)
	var u *UnknownHostKeyError
	if !errors.As(err, &u) {
		t.Fatalf("want UnknownHostKeyError, got %v", err)
	}
	fp := xssh.FingerprintSHA256(f.hostKey.PublicKey())
	for _, want := range []string{fp, "ssh-ed25519", "is not known",
		fmt.Sprintf("ssh-keyscan -p %d -t ed25519 127.0.0.1 | ssh-keygen -lf -", f.srv.Port()), "--accept-new-host-keys"} {
		if !strings.Contains(exit.Format(err), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if got := f.srv.AuthAttempts.Load(); got != 0 {
		t.Errorf("offered %d keys to an unverified host", got)
	}
}

func TestChangedHostKeyRefusedLoudly(t *testing.T) {
	f := newFixture(t, fixtureOpts{noKnown: true})
	_, old := newKey(t, "ed25519")
	line := knownhosts.Line([]string{f.srv.Addr}, old.PublicKey())
	os.WriteFile(f.knownHosts, []byte("# a comment\n"+line+"\n"), 0o600)
	for _, acceptNew := range []bool{false, true} {
		f.cfg.AcceptNewHostKeys = acceptNew
		_, err := Dial(ctx(t), f.cfg)
		var ch *HostKeyChangedError
		if !errors.As(err, &ch) {
			t.Fatalf("accept-new=%v: want HostKeyChangedError, got %v", acceptNew, err)
		}
		for _, want := range []string{"REMOTE HOST IDENTIFICATION HAS CHANGED", f.knownHosts + ":2",
			xssh.FingerprintSHA256(old.PublicKey()), xssh.FingerprintSHA256(f.hostKey.PublicKey()), "ssh-keygen -R"} {
			if !strings.Contains(exit.Format(err), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
	}
	if b, _ := os.ReadFile(f.knownHosts); strings.Count(string(b), "\n") != 2 {
		t.Errorf("known_hosts was modified after a changed key:\n%s", b)
	}
}

// A host with two keys where only the ecdsa one is on record must present
// that one (OpenSSH's known-types-first preference), not look "changed".
func TestKnownKeyTypePreferred(t *testing.T) {
	_, ed := newKey(t, "ed25519")
	_, ec := newKey(t, "ecdsa")
	f := newFixture(t, fixtureOpts{hostKeys: []xssh.Signer{ed, ec}, noKnown: true})
	for _, known := range []xssh.Signer{ec, ed} {
		os.WriteFile(f.knownHosts, []byte(knownhosts.Line([]string{f.srv.Addr}, known.PublicKey())+"\n"), 0o600)
		f.dial(t)
	}
}

func TestHashedKnownHostsEntry(t *testing.T) {
	f := newFixture(t, fixtureOpts{noKnown: true})
	hashed := knownhosts.HashHostname(knownhosts.Normalize(f.srv.Addr))
	line := hashed + " " + string(xssh.MarshalAuthorizedKey(f.hostKey.PublicKey()))
	os.WriteFile(f.knownHosts, []byte(line), 0o600)
	f.dial(t)
}

func TestCertAuthority(t *testing.T) {
	_, ca := newKey(t, "ed25519")
	_, host := newKey(t, "ecdsa")
	cert := &xssh.Certificate{
		Key: host.PublicKey(), CertType: xssh.HostCert, KeyId: "bed",
		ValidPrincipals: []string{"127.0.0.1"},
		ValidAfter:      uint64(time.Now().Add(-time.Hour).Unix()), ValidBefore: uint64(time.Now().Add(time.Hour).Unix()),
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	certSigner, err := xssh.NewCertSigner(cert, host)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, fixtureOpts{hostKeys: []xssh.Signer{certSigner}, noKnown: true})
	ok := fmt.Sprintf("@cert-authority [127.0.0.1]:%d %s", f.srv.Port(), xssh.MarshalAuthorizedKey(ca.PublicKey()))
	os.WriteFile(f.knownHosts, []byte(ok), 0o600)
	f.dial(t)

	t.Run("other authority", func(t *testing.T) {
		_, other := newKey(t, "ed25519")
		bad := fmt.Sprintf("@cert-authority [127.0.0.1]:%d %s", f.srv.Port(), xssh.MarshalAuthorizedKey(other.PublicKey()))
		os.WriteFile(f.knownHosts, []byte(bad), 0o600)
		if _, err := Dial(ctx(t), f.cfg); err == nil || !strings.Contains(err.Error(), "host certificate") {
			t.Fatalf("a certificate from an unknown authority was accepted or misreported: %v", err)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		rev := ok + fmt.Sprintf("@revoked * %s", xssh.MarshalAuthorizedKey(host.PublicKey()))
		os.WriteFile(f.knownHosts, []byte(rev), 0o600)
		if _, err := Dial(ctx(t), f.cfg); err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("a revoked host key was accepted: %v", err)
		}
	})
}

func TestAcceptNewAppendsThenStrict(t *testing.T) {
	f := newFixture(t, fixtureOpts{noKnown: true})
	os.Remove(f.knownHosts) // accept-new creates the file, as OpenSSH does
	f.cfg.AcceptNewHostKeys = true
	c := f.dial(t)
	c.Close()
	b, err := os.ReadFile(f.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("[127.0.0.1]:%d %s", f.srv.Port(), xssh.MarshalAuthorizedKey(f.hostKey.PublicKey()))
	if string(b) != want {
		t.Fatalf("known_hosts:\n%q\nwant\n%q", b, want)
	}
	f.cfg.AcceptNewHostKeys = false
	f.dial(t)
	if b2, _ := os.ReadFile(f.knownHosts); string(b2) != string(b) {
		t.Fatalf("strict dial changed known_hosts")
	}
	if _, err := os.Stat(f.home + "/.ssh/known_hosts"); err == nil {
		t.Errorf("accept-new wrote the default known_hosts instead of the inventory's")
	}
}

// A known_hosts whose names are hashed (HashKnownHosts yes) gets a hashed
// line from accept-new, not the host in clear beside hashed ones; the
// strict dial after it finds the host by that hashed line.
func TestAcceptNewHashesIntoHashedFile(t *testing.T) {
	f := newFixture(t, fixtureOpts{noKnown: true})
	_, other := newKey(t, "ed25519")
	hashed := knownhosts.Line([]string{knownhosts.HashHostname("db.example.net")}, other.PublicKey()) + "\n"
	if err := os.WriteFile(f.knownHosts, []byte(hashed), 0o600); err != nil {
		t.Fatal(err)
	}
	f.cfg.AcceptNewHostKeys = true
	f.dial(t).Close()
	b, err := os.ReadFile(f.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "|1|") || strings.Contains(string(b), "127.0.0.1") {
		t.Fatalf("known_hosts after accept-new:\n%s\nwant a second, hashed line", b)
	}
	f.cfg.AcceptNewHostKeys = false
	f.dial(t).Close()
}
