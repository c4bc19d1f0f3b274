package target

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/testbed"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

func TestResolvePath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"pki/ca.pem", "/inv/pki/ca.pem"},
		{"../keys/id", "/keys/id"},
		{"/abs/x", "/abs/x"},
		{"~/.ssh/id", "/home/op/.ssh/id"},
		{"~", "/home/op"},
	} {
		if got := resolvePath(c.in, "/inv", "/home/op"); got != c.want {
			t.Errorf("resolvePath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.pem"), []byte("not pem"), 0o600)
	for _, c := range []struct {
		tls  schema.TLS
		want string
	}{
		{schema.TLS{CA: "missing.pem"}, "tls.ca"},
		{schema.TLS{CA: "bad.pem"}, "no PEM certificate"},
		{schema.TLS{Cert: "c.pem"}, "cert and key go together"},
	} {
		_, err := tlsConfig(&c.tls, dir, dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("tlsConfig(%+v) = %v, want an error with %q", c.tls, err, c.want)
		}
	}
	if tc, err := tlsConfig(nil, dir, dir); tc != nil || err != nil {
		t.Errorf("no tls section: got %v, %v; want plain http", tc, err)
	}
}

// TestOpenBed opens a real bed cluster's inventory: the probe sees every
// member and SSH reaches each member's own host (the sshd on its address).
func TestOpenBed(t *testing.T) {
	bed := testbed.StartT(t, testbed.Options{Version: "3.5"})
	src, err := os.ReadFile(bed.InventoryPath)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := schema.LoadInventory(bed.InventoryPath, src)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tg, err := Open(ctx, inv, Options{SSHConfigFile: "none", AgentSocket: "none", HomeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	c, err := tg.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Healthy || len(c.Members) != 3 {
		t.Fatalf("cluster: healthy %v, %d members; want a healthy 3-member cluster", c.Healthy, len(c.Members))
	}
	for _, h := range bed.Hosts {
		host, err := tg.Host(ctx, h.Name)
		if err != nil {
			t.Fatal(err)
		}
		res, err := host.Run(ctx, ssh.Command{Script: `echo "$SSH_CONNECTION"`})
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(res.Stdout)); len(f) < 3 || f[2] != h.Addr {
			t.Errorf("%s: session arrived at %q, want the host's own sshd on %s", h.Name, res.Stdout, h.Addr)
		}
	}
	if _, err := tg.Host(ctx, "nope"); err == nil {
		t.Error("Host(nope): want an error for a member the inventory does not list")
	}
}
