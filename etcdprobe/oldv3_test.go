package etcdprobe

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestAppliedIndexBefore34 pins which versions report their applied index
// as raftIndex (3.0-3.3, which have no raftAppliedIndex).
func TestAppliedIndexBefore34(t *testing.T) {
	for v, want := range map[string]bool{
		"3.0.17": true, "3.1.20": true, "3.2.32": true, "3.3.27": true,
		"3.4.23": false, "3.5.35": false, "3.10.1": false, "2.3.8": false, "": false,
	} {
		if got := reportsAppliedAsRaftIndex(v); got != want {
			t.Errorf("reportsAppliedAsRaftIndex(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestProbeOldV3 probes real 3.0 and 3.3 clusters: each member's applied
// index is its raftIndex (not 0, which would stall every caught-up wait),
// alarms and health read as on 3.4+, and V3Keys counts the keys outside
// OwnPrefix only: 0 on a fresh cluster whatever lies under the prefix.
func TestProbeOldV3(t *testing.T) {
	for _, version := range []string{"3.0", "3.3"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			bed := startBed(t, version)
			p := newProber(t, bed)
			p.opts.OwnPrefix = "/etcdplay/lock/"
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cli, err := bed.Client()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cli.Put(ctx, "/etcdplay/lock/x", "ours"); err != nil {
				t.Fatal(err)
			}
			c := probe(t, p)
			if !c.Healthy || len(c.Alarms) != 0 || c.V3Keys != 0 || c.V3Revision < 2 {
				t.Fatalf("fresh %s cluster with only our key: healthy %v alarms %v v3Keys %d v3Revision %d; want healthy, none, 0, >= 2",
					bed.Version, c.Healthy, c.Alarms, c.V3Keys, c.V3Revision)
			}
			for _, m := range c.Members {
				if m.RaftAppliedIndex == 0 || m.RaftAppliedIndex != m.RaftIndex {
					t.Errorf("%s: applied index %d, raft index %d; want the raft index, not 0", m.Name, m.RaftAppliedIndex, m.RaftIndex)
				}
			}
			for i := range 3 {
				if _, err := cli.Put(ctx, fmt.Sprintf("app/%d", i), "v"); err != nil {
					t.Fatal(err)
				}
			}
			if c = probe(t, p); c.V3Keys != 3 {
				t.Errorf("after 3 application keys: v3Keys %d, want 3", c.V3Keys)
			}
		})
	}
}
