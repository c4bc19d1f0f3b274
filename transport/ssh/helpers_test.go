package ssh

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/etcdplay/etcdplay/transport/ssh/internal/sshtest"
)

// newKey returns a fresh private key of the given kind and its signer.
func newKey(t testing.TB, kind string) (any, xssh.Signer) {
	t.Helper()
	var priv any
	var err error
	switch kind {
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "ecdsa":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("unknown key kind %s", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := xssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, s
}

// writeKey writes priv in OpenSSH format (encrypted when passphrase is set).
func writeKey(t testing.TB, path string, priv any, passphrase string) {
	t.Helper()
	var blk *pem.Block
	var err error
	if passphrase != "" {
		blk, err = xssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(passphrase))
	} else {
		blk, err = xssh.MarshalPrivateKey(priv, "")
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writePKCS8 writes an unencrypted PKCS#8 PEM key, as older tools do.
func writePKCS8(t testing.TB, path string, priv any) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fixture is one in-process server and a client config that reaches it
// with an identity file and a known_hosts file in a private home folder.
type fixture struct {
	home       string
	knownHosts string
	hostKey    xssh.Signer
	userPriv   any
	userKey    xssh.Signer
	srv        *sshtest.Server
	cfg        Config
}

type fixtureOpts struct {
	hostKeys   []xssh.Signer // default: one ed25519
	noKnown    bool          // leave known_hosts empty
	userKind   string        // default ed25519
	authorized []xssh.PublicKey
}

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	f := &fixture{home: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(f.home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if len(o.hostKeys) == 0 {
		_, hk := newKey(t, "ed25519")
		o.hostKeys = []xssh.Signer{hk}
	}
	f.hostKey = o.hostKeys[0]
	if o.userKind == "" {
		o.userKind = "ed25519"
	}
	f.userPriv, f.userKey = newKey(t, o.userKind)
	f.srv = sshtest.Start(t, sshtest.Options{HostKeys: o.hostKeys,
		AuthorizedKeys: append([]xssh.PublicKey{f.userKey.PublicKey()}, o.authorized...)})
	idFile := filepath.Join(f.home, "id_test")
	writeKey(t, idFile, f.userPriv, "")
	f.knownHosts = filepath.Join(f.home, "known_hosts")
	content := ""
	if !o.noKnown {
		content = knownhosts.Line([]string{f.srv.Addr}, f.hostKey.PublicKey()) + "\n"
	}
	if err := os.WriteFile(f.knownHosts, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	f.cfg = Config{
		Host:              "127.0.0.1",
		Port:              f.srv.Port(),
		User:              "tester",
		IdentityFiles:     []string{idFile},
		KnownHostsFiles:   []string{f.knownHosts},
		SSHConfigFile:     "none",
		AgentSocket:       "none",
		HomeDir:           f.home,
		ConnectTimeout:    5 * time.Second,
		KeepAliveInterval: -1,
	}
	return f
}

func (f *fixture) dial(t testing.TB) *Client {
	t.Helper()
	c, err := Dial(ctx(t), f.cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// startAgent serves an in-memory keyring on a unix socket, like ssh-agent.
func startAgent(t testing.TB, keys ...any) string {
	t.Helper()
	ring := agent.NewKeyring()
	for _, k := range keys {
		if err := ring.Add(agent.AddedKey{PrivateKey: k}); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); os.RemoveAll(dir) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(ring, c); c.Close() }()
		}
	}()
	return sock
}

// eventually polls cond until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newSigner(t testing.TB) xssh.Signer {
	_, s := newKey(t, "ed25519")
	return s
}
