package target

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/testbed"
)

// openAsV2 opens a target on the bed's cluster through its inventory
// with api: v2, as the inventory of a cluster upgraded from 2.3 says.
func openAsV2(ctx context.Context, t *testing.T, bed *testbed.Cluster) *Target {
	t.Helper()
	src, err := os.ReadFile(bed.InventoryPath)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := schema.LoadInventory(bed.InventoryPath, src)
	if err != nil {
		t.Fatal(err)
	}
	inv.API = etcdprobe.APIv2
	tg, err := Open(ctx, inv, Options{SSHConfigFile: "none", AgentSocket: "none", HomeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

// TestV3ViewOfAV2Inventory: a v2 inventory whose cluster runs 3.x (here
// 3.5 with --enable-v2, which serves both APIs as 3.0 does) sees the v3
// store through cluster.v3Revision and v3Healthy: revision 1 while no v3
// key was ever written, above 1 after one put, though the v2 API (the
// probe the inventory asks for) saw neither.
func TestV3ViewOfAV2Inventory(t *testing.T) {
	bed := testbed.StartT(t, testbed.Options{Version: "3.5", ExtraFlags: []string{"--enable-v2"}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg := openAsV2(ctx, t, bed)

	c, err := tg.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.API != etcdprobe.APIv2 || !c.Healthy {
		t.Fatalf("v2 probe of the 3.5 cluster: api %s healthy %v (%+v)", c.API, c.Healthy, c.Members)
	}
	if c.V3Revision != 1 || !c.V3Healthy {
		t.Errorf("before any v3 write: v3Revision %d, v3Healthy %v; want 1 and true", c.V3Revision, c.V3Healthy)
	}

	cli, err := bed.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(ctx, "v3-marker", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Delete(ctx, "v3-marker"); err != nil {
		t.Fatal(err)
	}
	if c, err = tg.Cluster(ctx); err != nil {
		t.Fatal(err)
	}
	if c.V3Revision != 3 {
		t.Errorf("after one v3 put and its delete: v3Revision %d, want 3 (the store keeps its revision)", c.V3Revision)
	}
	t.Logf("v2 inventory on 3.5: v3 revision 1 before any v3 write, %d after a put and a delete", c.V3Revision)
}

// TestNoV3ViewOn2x: a 2.x cluster is never asked over gRPC, and its
// facts say no v3 API answered.
func TestNoV3ViewOn2x(t *testing.T) {
	bed := testbed.StartT(t, testbed.Options{Version: "2.3"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tg := openAsV2(ctx, t, bed)
	c, err := tg.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != "2.3.0" || c.V3Revision != 0 || c.V3Healthy {
		t.Errorf("2.3 cluster: version %s, v3Revision %d, v3Healthy %v; want 2.3.0, 0, false", c.Version, c.V3Revision, c.V3Healthy)
	}
}
