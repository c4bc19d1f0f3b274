package ssh

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/internal/exit"
)

func TestIdentityFileKinds(t *testing.T) {
	for _, kind := range []string{"ed25519", "ecdsa", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{userKind: kind})
			f.dial(t)
		})
	}
	t.Run("pkcs8", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{userKind: "ecdsa"})
		writePKCS8(t, f.cfg.IdentityFiles[0], f.userPriv)
		f.dial(t)
	})
}

// With no identity configured, the default ~/.ssh/id_* files are used.
func TestDefaultIdentityFiles(t *testing.T) {
	for _, kind := range []string{"ed25519", "ecdsa", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{userKind: kind})
			writeKey(t, filepath.Join(f.home, ".ssh", "id_"+kind), f.userPriv, "")
			f.cfg.IdentityFiles = nil
			f.dial(t)
		})
	}
}

func TestAgentAuth(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.cfg.IdentityFiles = nil // nothing on disk: only the agent can log in
	f.cfg.AgentSocket = startAgent(t, f.userPriv)
	f.dial(t)

	t.Run("SSH_AUTH_SOCK", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", f.cfg.AgentSocket)
		cfg := f.cfg
		cfg.AgentSocket = ""
		c, err := Dial(ctx(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
	t.Run("agent without the key", func(t *testing.T) {
		_, other := newKey(t, "ed25519")
		_ = other
		cfg := f.cfg
		otherPriv, _ := newKey(t, "ed25519")
		cfg.AgentSocket = startAgent(t, otherPriv)
		_, err := Dial(ctx(t), cfg)
		var ae *AuthError
		if !errors.As(err, &ae) {
			t.Fatalf("want AuthError, got %v", err)
		}
	})
}

func TestEncryptedKeyIsAClearError(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	enc := filepath.Join(f.home, "id_encrypted")
	writeKey(t, enc, f.userPriv, "secret")
	f.cfg.IdentityFiles = []string{enc}
	_, err := Dial(ctx(t), f.cfg)
	var ee *EncryptedKeyError
	if !errors.As(err, &ee) {
		t.Fatalf("want EncryptedKeyError, got %v", err)
	}
	for _, want := range []string{enc, "ssh-add " + enc, "encrypted"} {
		if !strings.Contains(exit.Format(err), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}

	t.Run("held by the agent", func(t *testing.T) {
		cfg := f.cfg
		cfg.AgentSocket = startAgent(t, f.userPriv)
		c, err := Dial(ctx(t), cfg)
		if err != nil {
			t.Fatalf("the agent holds the encrypted key's private half, yet: %v", err)
		}
		c.Close()
	})
	t.Run("beside a key that works", func(t *testing.T) {
		cfg := f.cfg
		plain := filepath.Join(f.home, "id_plain")
		writeKey(t, plain, f.userPriv, "")
		cfg.IdentityFiles = []string{enc, plain}
		c, err := Dial(ctx(t), cfg)
		if err != nil {
			t.Fatalf("an unusable encrypted key blocked a usable one: %v", err)
		}
		c.Close()
	})
}

func TestMissingExplicitIdentityFile(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.cfg.IdentityFiles = []string{filepath.Join(f.home, "nope")}
	_, err := Dial(ctx(t), f.cfg)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("want a not-exist error naming the file, got %v", err)
	}
}

// IdentitiesOnly in ssh_config: agent keys that match no identity file are
// not offered (a full agent would otherwise use up MaxAuthTries).
func TestIdentitiesOnly(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	var others []any
	for i := 0; i < 8; i++ {
		k, _ := newKey(t, "ed25519")
		others = append(others, k)
	}
	f.cfg.AgentSocket = startAgent(t, others...)
	cfgFile := filepath.Join(f.home, "config")
	os.WriteFile(cfgFile, []byte("Host *\n  IdentitiesOnly yes\n"), 0o600)
	f.cfg.SSHConfigFile = cfgFile
	f.dial(t)
	if n := f.srv.AuthAttempts.Load(); n != 1 {
		t.Fatalf("offered %d keys; IdentitiesOnly should offer only the identity file's", n)
	}
}
