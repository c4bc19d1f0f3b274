package testbed

import (
	"os"
	"testing"

	"github.com/etcdplay/etcdplay/schema"
)

// checkInventory loads the inventory the bed wrote through the project's
// strict loader: the bed and schema agree on the contract in
// docs/architecture.md, or this fails.
func checkInventory(t *testing.T, c *Cluster) {
	t.Helper()
	src, err := os.ReadFile(c.InventoryPath)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := schema.LoadInventory(c.InventoryPath, src)
	if err != nil {
		t.Fatalf("the bed's inventory does not load:\n%v\n%s", err, src)
	}
	if inv.Cluster != c.Name || inv.API != c.API || len(inv.Members) != len(c.Hosts) {
		t.Fatalf("inventory: cluster %q api %q %d members; want %q %q %d", inv.Cluster, inv.API, len(inv.Members), c.Name, c.API, len(c.Hosts))
	}
	for i, m := range inv.Members {
		h := c.Hosts[i]
		if m.Name != h.Name || m.Host != h.Addr || m.Client != h.ClientURL || m.Binary != h.Binary() || m.DataDir != h.DataDir {
			t.Errorf("member %d: %+v does not match host %+v", i, m, h)
		}
	}
	for _, v := range Versions() {
		r, ok := inv.Releases[v.Version]
		if !ok || r.Remote != BinDir(v.Version)+"/etcd" {
			t.Errorf("releases[%s] = %+v", v.Version, r)
		}
	}
}
