package ssh

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/etcdplay/etcdplay/transport/ssh/internal/sshtest"
)

func TestProxyJumpChain(t *testing.T) {
	target := newFixture(t, fixtureOpts{})
	hop1key := newSigner(t)
	hop1 := sshtest.Start(t, sshtest.Options{HostKeys: []xssh.Signer{hop1key}, AuthorizedKeys: []xssh.PublicKey{target.userKey.PublicKey()}})
	hop2key := newSigner(t)
	hop2 := sshtest.Start(t, sshtest.Options{HostKeys: []xssh.Signer{hop2key}, AuthorizedKeys: []xssh.PublicKey{target.userKey.PublicKey()}})
	known := knownhosts.Line([]string{target.srv.Addr}, target.hostKey.PublicKey()) + "\n" +
		knownhosts.Line([]string{hop1.Addr}, hop1key.PublicKey()) + "\n" +
		knownhosts.Line([]string{hop2.Addr}, hop2key.PublicKey()) + "\n"
	os.WriteFile(target.knownHosts, []byte(known), 0o600)
	target.cfg.ProxyJump = fmt.Sprintf("jumper@127.0.0.1:%d,127.0.0.1:%d", hop1.Port(), hop2.Port())
	c := target.dial(t)
	res, err := c.Run(ctx(t), Command{Argv: []string{"echo", "through two hops"}})
	if err != nil || string(res.Stdout) != "through two hops\n" {
		t.Fatal(res, err)
	}
	if hop1.Execs.Load() != 0 || hop2.Execs.Load() != 0 || target.srv.Execs.Load() != 1 {
		t.Fatal("the command ran on a jump host")
	}

	t.Run("hop host key verified", func(t *testing.T) {
		os.WriteFile(target.knownHosts, []byte(strings.Replace(known, knownhosts.Line([]string{hop2.Addr}, hop2key.PublicKey()), "", 1)), 0o600)
		_, err := Dial(ctx(t), target.cfg)
		var u *UnknownHostKeyError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), "jump host") || u.Addr != hop2.Addr {
			t.Fatalf("an unknown jump host was not refused as such: %v", err)
		}
	})
}
