package target

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/testbed"
)

// TestV2DataSizeOverSSH: on a real 2.3 cluster whose members have taken a
// snapshot, the size guards read is each member's newest snapshot file,
// measured over SSH, the way the 2.x guides say to estimate data size;
// without the option (status) the v2 probe reports 0, as the HTTP API does.
func TestV2DataSizeOverSSH(t *testing.T) {
	bed := testbed.StartT(t, testbed.Options{Version: "2.3", ExtraFlags: []string{"--snapshot-count=100"}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := bed.WriteKeys(ctx, 400); err != nil {
		t.Fatal(err)
	}
	// A follower applies (and snapshots) a moment after the quorum commits:
	// let every member hold every key, then wait until no snapshot file
	// changes, so the sizes compared below are the settled ones.
	for i := range bed.Hosts {
		if _, err := bed.VerifyKeysOn(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	newest := func() string {
		out, err := bed.SSH(ctx, 0, fmt.Sprintf("ls -l %s/member/snap %s/member/snap %s/member/snap",
			bed.Hosts[0].DataDir, bed.Hosts[1].DataDir, bed.Hosts[2].DataDir))
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for prev := newest(); ; {
		time.Sleep(300 * time.Millisecond)
		cur := newest()
		if cur == prev {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("snapshots never settled")
		}
		prev = cur
	}
	src, err := os.ReadFile(bed.InventoryPath)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := schema.LoadInventory(bed.InventoryPath, src)
	if err != nil {
		t.Fatal(err)
	}
	open := func(v2size bool) *Target {
		tg, err := Open(ctx, inv, Options{SSHConfigFile: "none", AgentSocket: "none", HomeDir: t.TempDir(), V2DataSize: v2size})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tg.Close() })
		return tg
	}

	plain, err := open(false).Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if plain.DBSize != 0 {
		t.Errorf("without V2DataSize: dbSize %d, want 0 (the v2 HTTP API has no size)", plain.DBSize)
	}

	c, err := open(true).Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var largest int64
	for i, h := range bed.Hosts {
		out, err := bed.SSH(ctx, i, fmt.Sprintf("wc -c <\"$(ls -1t '%s'/member/snap/*.snap | head -n 1)\"", h.DataDir))
		if err != nil {
			t.Fatalf("%s: newest snapshot: %v", h.Name, err)
		}
		want, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		m := c.MemberByName(h.Name)
		if m == nil || m.DBSize != want || want == 0 {
			t.Errorf("%s: dbSize %v, want its newest snapshot's %d bytes", h.Name, m, want)
		}
		largest = max(largest, want)
	}
	if c.DBSize != largest {
		t.Errorf("cluster dbSize %d, want the largest member's %d", c.DBSize, largest)
	}
	t.Logf("v2 data size from snapshots: cluster %d bytes", c.DBSize)
}
