package etcdprobe

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProbeLearner: a 3.5 cluster gains a fourth member as a learner
// (MemberAddAsLearner, then an etcd started with
// --initial-cluster-state=existing). The probe must mark it IsLearner, see
// it healthy (a learner serves serializable reads only) and keep the
// cluster healthy. The learner runs outside the bed's sshd: it borrows the
// slot's fourth address, which no other cluster uses while we hold the
// slot.
func TestProbeLearner(t *testing.T) {
	bed := startBed(t, "3.5")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr := fmt.Sprintf("127.0.%d.14", bed.Slot)
	client, peer := "http://"+addr+":2379", "http://"+addr+":2380"
	cli, err := bed.Client()
	if err != nil {
		t.Fatal(err)
	}
	// etcd refuses membership changes ("unhealthy cluster") until every
	// peer has been connected for a few seconds after the start.
	for {
		_, err := cli.MemberAddAsLearner(ctx, []string{peer})
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "unhealthy cluster") || ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err := bed.WaitMemberCount(ctx, len(bed.Hosts)+1); err != nil {
		t.Fatal(err)
	}
	var initial []string
	for _, h := range bed.Hosts {
		initial = append(initial, h.Name+"="+h.PeerURL)
	}
	initial = append(initial, "learner="+peer)
	dir := t.TempDir()
	log, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(filepath.Join(bed.Hosts[0].BinDir, "etcd"),
		"--name=learner", "--data-dir="+filepath.Join(dir, "data"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster="+strings.Join(initial, ","), "--initial-cluster-state=existing",
		"--initial-cluster-token="+bed.Name, "--logger=zap")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})

	var eps []Endpoint
	for _, h := range bed.Hosts {
		eps = append(eps, Endpoint{Name: h.Name, URL: h.ClientURL})
	}
	eps = append(eps, Endpoint{Name: "learner", URL: client})
	p, err := New(eps, Options{RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var c *Cluster
	settle, cancelSettle := context.WithTimeout(ctx, 20*time.Second)
	defer cancelSettle()
	for {
		pc, err := p.Cluster(ctx)
		if err == nil {
			c = pc
			if c.Healthy {
				break
			}
		}
		if settle.Err() != nil {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("the learner never settled: %+v\n%s", c, tail(string(b), 1000))
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, m := range c.Members {
		if m.IsLearner != (m.Name == "learner") || !m.Healthy || m.Endpoint == "" {
			t.Errorf("%s: learner %v healthy %v endpoint %q: %s", m.Name, m.IsLearner, m.Healthy, m.Endpoint, m.HealthError)
		}
	}
	if len(c.Members) != 4 || c.MemberByName("learner").IsLeader {
		t.Errorf("members %+v", c.Members)
	}
	if err := p.MoveLeader(ctx, "learner"); err == nil {
		t.Error("MoveLeader to a learner succeeded")
	}
	t.Logf("learner seen: applied %d of leader's %d", c.MemberByName("learner").RaftAppliedIndex, c.LeaderMember().RaftIndex)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
