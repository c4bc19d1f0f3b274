package etcdprobe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// TestProbeAlarmNoSpace: a 3.5 cluster with a 1 MiB backend quota is
// written until etcd raises NOSPACE; the probe must list the alarm and
// call the cluster (and every member, as etcdctl does) unhealthy.
func TestProbeAlarmNoSpace(t *testing.T) {
	bed := startBed(t, "3.5", "--quota-backend-bytes=1048576")
	p := newProber(t, bed)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cli, err := bed.Client()
	if err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("x", 64<<10)
	began := time.Now()
	for i := 0; ; i++ {
		if i == 200 {
			t.Fatal("200 puts of 64 KiB and no NOSPACE")
		}
		_, err := cli.Put(ctx, fmt.Sprintf("fill/%03d", i), value)
		if errors.Is(err, rpctypes.ErrNoSpace) {
			t.Logf("NOSPACE after %d puts of 64 KiB in %v", i, time.Since(began).Round(time.Millisecond))
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	c := probe(t, p)
	if len(c.Alarms) == 0 || c.Alarms[0].Type != "NOSPACE" || c.Alarms[0].Member == "" {
		t.Errorf("alarms %+v, want NOSPACE naming a member", c.Alarms)
	}
	if c.Healthy {
		t.Error("cluster healthy with NOSPACE raised")
	}
	for _, m := range c.Members {
		if !m.Reachable || m.Healthy || !strings.Contains(m.HealthError, "NOSPACE") {
			t.Errorf("%s: reachable %v healthy %v health error %q", m.Name, m.Reachable, m.Healthy, m.HealthError)
		}
	}
	t.Logf("alarms %+v; %s reads: %s", c.Alarms, c.Members[0].Name, c.Members[0].HealthError)
}
