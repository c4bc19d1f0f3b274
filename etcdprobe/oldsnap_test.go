package etcdprobe

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// TestSnapshotFromOldGRPC takes snapshots of a few MB from real 3.1 and
// 3.3 members. Their gRPC servers end a connection whose client pings
// "too often" (GOAWAY too_many_pings), and a client that estimates its
// flow-control window pings as a large stream arrives: the snapshot then
// fails part way (seen on the bed after 192 KiB). See staticWindows.
func TestSnapshotFromOldGRPC(t *testing.T) {
	for _, version := range []string{"3.1", "3.3"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			bed := startBed(t, version)
			p := newProber(t, bed)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cli, err := bed.Client()
			if err != nil {
				t.Fatal(err)
			}
			value := strings.Repeat("x", 8<<10)
			for i := range 1000 { // about 8 MB
				if _, err := cli.Put(ctx, fmt.Sprintf("big/%04d", i), value); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 5 {
				n, err := p.Snapshot(ctx, bed.Hosts[i%len(bed.Hosts)].Name, io.Discard)
				if err != nil {
					t.Fatalf("snapshot %d: %v", i+1, err)
				}
				if n < 8<<20 {
					t.Fatalf("snapshot %d: %d bytes, want at least the 8 MB written", i+1, n)
				}
			}
		})
	}
}
