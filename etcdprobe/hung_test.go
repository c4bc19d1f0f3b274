package etcdprobe

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestProbeHungMember: a member that accepts connections but never
// answers (SIGSTOP) costs one RequestTimeout, not the whole probe, and is
// reported unreachable while the others read healthy. Afterwards no
// goroutine of the probe is left behind.
func TestProbeHungMember(t *testing.T) {
	bed := startBed(t, "3.5")
	var eps []Endpoint
	for _, h := range bed.Hosts {
		eps = append(eps, Endpoint{Name: h.Name, URL: h.ClientURL})
	}
	p, err := New(eps, Options{RequestTimeout: time.Second, DialTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := probe(t, p)
	hung := 0
	for i, m := range c.Members {
		if !m.IsLeader {
			hung = i
			break
		}
	}
	before := runtime.NumGoroutine()
	pid := bed.MemberPID(hung)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	t.Logf("SIGSTOP %s (pid %d)", bed.Hosts[hung].Name, pid)

	began := time.Now()
	c, err = p.Cluster(context.Background())
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("probe with a hung member: %v; it reads: %s", took.Round(time.Millisecond), c.Members[hung].Error)
	if took > 2*time.Second {
		t.Errorf("probe took %v with RequestTimeout 1s", took)
	}
	for i, m := range c.Members {
		if i == hung {
			if m.Reachable || m.Healthy || m.Error == "" {
				t.Errorf("hung %s: reachable %v healthy %v error %q", m.Name, m.Reachable, m.Healthy, m.Error)
			}
		} else if !m.Reachable || !m.Healthy {
			t.Errorf("%s: reachable %v healthy %v: %s %s", m.Name, m.Reachable, m.Healthy, m.Error, m.HealthError)
		}
	}
	if c.Healthy {
		t.Error("cluster healthy with a hung member")
	}

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	p.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before the probe, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
