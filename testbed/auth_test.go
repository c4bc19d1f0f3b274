package testbed

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdplay/etcdplay/schema"
)

// TestAuth brings up clusters with etcd's v3 authentication on, plain and
// production-shaped: the bed's own clients log in, a client without the
// password or with a wrong one is refused, and the password is in a file
// only root reads.
func TestAuth(t *testing.T) {
	for _, prod := range []bool{false, true} {
		name := "plain"
		if prod {
			name = "production"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c := StartT(t, Options{Version: "3.5", Production: prod, Auth: true})
			if c.Auth == nil || c.Auth.User != "root" {
				t.Fatalf("Auth: %+v", c.Auth)
			}
			if b, err := os.ReadFile(c.Auth.PasswordFile); err != nil || string(b) != c.Auth.Password {
				t.Fatalf("password file: %q %v", b, err)
			}
			assertOwner(t, c.Auth.PasswordFile, 0, 0o600)
			checkInventory(t, c)
			src, _ := os.ReadFile(c.InventoryPath)
			if inv, err := schema.LoadInventory(c.InventoryPath, src); err != nil || inv.Auth == nil ||
				inv.Auth.User != "root" || inv.Auth.PasswordFile != c.Auth.PasswordFile {
				t.Errorf("inventory auth: %+v %v", inv, err)
			} else if strings.Contains(string(src), c.Auth.Password) {
				t.Error("the inventory holds the password itself")
			}
			if err := c.WriteKeys(ctx, 100); err != nil {
				t.Fatal(err)
			}
			if n, err := c.VerifyKeys(ctx); err != nil || n != 100 {
				t.Fatalf("VerifyKeys: %d %v", n, err)
			}
			if _, err := c.Leader(ctx); err != nil {
				t.Fatal(err)
			}
			if ok, err := c.Health(ctx, 0); !ok || err != nil {
				t.Errorf("health with auth on: %v %v", ok, err)
			}
			for _, cred := range []struct{ user, password, want string }{
				{"", "", "permission denied|user name not found|user name is empty"},
				{"root", "wrong", "authentication failed"},
			} {
				tc := c.tlsConfig
				if tc != nil {
					tc = tc.Clone()
				}
				cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), TLS: tc, Username: cred.user, Password: cred.password,
					DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
				if err == nil {
					pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
					_, err = cli.Put(pctx, "/etcdplay-bed/intruder", "x")
					pcancel()
					cli.Close()
				}
				if err == nil || !matchesAny(err.Error(), cred.want) {
					t.Errorf("user %q password %q: %v; want %s", cred.user, cred.password, err, cred.want)
				} else {
					t.Logf("user %q password %q refused: %v", cred.user, cred.password, err)
				}
			}
		})
	}
}

func matchesAny(s, alternatives string) bool {
	for _, a := range strings.Split(alternatives, "|") {
		if strings.Contains(s, a) {
			return true
		}
	}
	return false
}
