package ssh

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/etcdplay/etcdplay/internal/exit"
)

// TestHintRendersOnce: every transport error that knows the next step
// keeps it out of its message and returns it as its Hint, so the CLI's
// rendering (exit.Format: message, then "hint: ...") shows it exactly
// once, however deep the runner wraps the error, and a refusal by several
// hosts shows each host's hint once.
func TestHintRendersOnce(t *testing.T) {
	_, priv := newKey(t, "ed25519")
	key := priv.PublicKey()
	errs := []interface {
		error
		Hint() string
	}{
		&EncryptedKeyError{Host: "h0", Files: []string{"/home/op/.ssh/id_ed25519"}},
		&NoIdentityError{Host: "h0", Tried: []string{"~/.ssh/id_ed25519"}},
		&AuthError{Host: "h0", Err: errors.New("unable to authenticate")},
		&UnknownHostKeyError{Addr: "10.0.0.10:22", Key: key, Fingerprint: xssh.FingerprintSHA256(key)},
		&HostKeyChangedError{Host: "h0", Addr: "10.0.0.10:22", Key: key,
			Known: []knownhosts.KnownKey{{Key: key, Filename: "/home/op/.ssh/known_hosts", Line: 3}}},
		&HostKeyRevokedError{Addr: "10.0.0.10:22", Key: knownhosts.KnownKey{Key: key, Filename: "kh", Line: 1}},
		&ConnectionLostError{Host: "h0", Command: "systemctl stop etcd", Err: errors.New("EOF")},
		&SudoError{Host: "h0", Command: "systemctl stop etcd", Stderr: "sudo: a password is required"},
	}
	for _, e := range errs {
		t.Run(fmt.Sprintf("%T", e), func(t *testing.T) {
			hint := e.Hint()
			if hint == "" {
				t.Fatal("no hint")
			}
			if strings.Contains(e.Error(), hint) {
				t.Errorf("the message repeats the hint:\n%s", e.Error())
			}
			wrapped := exit.New(exit.Unreachable, fmt.Errorf("member infra0, members step 2/8 ssh-stop: %w", e), "")
			out := exit.Format(wrapped)
			if n := strings.Count(out, hint); n != 1 {
				t.Errorf("hint shown %d times, want once:\n%s", n, out)
			}
		})
	}

	t.Run("several hosts", func(t *testing.T) {
		a := &UnknownHostKeyError{Addr: "10.0.0.10:22", Key: key, Fingerprint: "SHA256:a"}
		b := &UnknownHostKeyError{Addr: "10.0.0.11:22", Key: key, Fingerprint: "SHA256:b"}
		c := &AuthError{Host: "h2", Err: errors.New("denied")}
		d := &AuthError{Host: "h3", Err: errors.New("denied")}
		out := exit.Format(errors.Join(a, b, c, d))
		for _, h := range []string{a.Hint(), b.Hint(), c.Hint()} {
			if n := strings.Count(out, h); n != 1 {
				t.Errorf("hint %q shown %d times, want once:\n%s", h, n, out)
			}
		}
	})
}
