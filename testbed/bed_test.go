package testbed

import (
	"context"
	"strings"
	"testing"
)

func TestStartSSHWriteVerify(t *testing.T) {
	ctx := context.Background()
	c := StartT(t, Options{Version: "3.5"})
	out, err := c.SSH(ctx, 0, c.Hosts[0].Binary()+" --version")
	if err != nil || !strings.Contains(out, c.Version) {
		t.Fatalf("etcd --version over ssh: %q %v", out, err)
	}
	if err := c.WriteKeys(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if n, err := c.VerifyKeys(ctx); err != nil || n != 100 {
		t.Fatalf("verify: %d %v", n, err)
	}
}
