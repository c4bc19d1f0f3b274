package etcdprobe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/testbed"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// startBed starts a real 3-member cluster of the version (or role) on the
// test bed (testbed.StartT: skipped loudly where the bed is not
// provisioned, a failure in CI).
func startBed(t *testing.T, version string, extraFlags ...string) *testbed.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no real etcd clusters")
	}
	return testbed.StartT(t, testbed.Options{Version: version, ExtraFlags: extraFlags, Timeout: 2 * time.Minute})
}

// newProber makes a Prober over the bed's members, named as the bed names
// them (host1...).
func newProber(t *testing.T, bed *testbed.Cluster) *Prober {
	t.Helper()
	var eps []Endpoint
	for _, h := range bed.Hosts {
		eps = append(eps, Endpoint{Name: h.Name, URL: h.ClientURL})
	}
	p, err := New(eps, Options{API: bed.API, RequestTimeout: 5 * time.Second, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func probe(t *testing.T, p *Prober) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	began := time.Now()
	c, err := p.Cluster(ctx)
	if err != nil {
		t.Fatalf("Cluster: %v", err)
	}
	t.Logf("probe in %v: version %q leader %q healthy %v revision %d", time.Since(began).Round(time.Millisecond), c.Version, c.Leader, c.Healthy, c.Revision)
	return c
}

// clusterVersionOf is the cluster version a settled cluster of server
// version v reports: "X.Y.0".
func clusterVersionOf(v string) string {
	parts := strings.SplitN(v, ".", 3)
	return parts[0] + "." + parts[1] + ".0"
}

// wantStorage is the storage version a settled cluster reports (3.6+).
func wantStorage(version string) string {
	if strings.HasPrefix(version, "3.6.") || strings.HasPrefix(version, "3.7.") {
		return clusterVersionOf(version)
	}
	return ""
}

// settle probes until the cluster reads settled: the cluster version is
// decided and, on 3.6+, every member's storage version has followed it
// (it reads the previous minor's for a moment after a start;
// docs/etcd-behaviour.md).
func settle(t *testing.T, bed *testbed.Cluster, p *Prober) *Cluster {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c := probe(t, p)
		ok := c.Healthy && c.Version == clusterVersionOf(bed.Version)
		for _, m := range c.Members {
			ok = ok && m.Storage == wantStorage(bed.Version)
		}
		if ok || time.Now().After(deadline) {
			return c
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkSettled asserts the picture of a freshly started, healthy cluster.
func checkSettled(t *testing.T, bed *testbed.Cluster, c *Cluster) {
	t.Helper()
	if c.API != bed.API {
		t.Errorf("api %q, want %q", c.API, bed.API)
	}
	if len(c.Members) != len(bed.Hosts) {
		t.Fatalf("%d members, want %d: %+v", len(c.Members), len(bed.Hosts), c.Members)
	}
	leaders := 0
	for i, m := range c.Members {
		h := bed.Hosts[i]
		if m.Name != h.Name || m.ClientURL != h.ClientURL {
			t.Errorf("member %d is %s at %s, want %s at %s", i, m.Name, m.ClientURL, h.Name, h.ClientURL)
		}
		if !m.Reachable || !m.Healthy || m.Error != "" || m.HealthError != "" {
			t.Errorf("%s: reachable %v healthy %v error %q health error %q", m.Name, m.Reachable, m.Healthy, m.Error, m.HealthError)
		}
		if m.Server != bed.Version {
			t.Errorf("%s: server %q, want %q", m.Name, m.Server, bed.Version)
		}
		if m.ID == 0 || m.RaftIndex == 0 || m.RaftTerm == 0 {
			t.Errorf("%s: id %s raft index %d term %d: want all set", m.Name, m.ID, m.RaftIndex, m.RaftTerm)
		}
		if m.RaftAppliedIndex == 0 || m.RaftAppliedIndex > m.RaftIndex+10 {
			t.Errorf("%s: applied index %d (raft index %d)", m.Name, m.RaftAppliedIndex, m.RaftIndex)
		}
		if bed.API == APIv3 && m.DBSize == 0 {
			t.Errorf("%s: db size 0", m.Name)
		}
		if want := wantStorage(bed.Version); m.Storage != want {
			t.Errorf("%s: storage %q, want %q", m.Name, m.Storage, want)
		}
		if m.IsLeader {
			leaders++
			if c.Leader != m.Name || c.LeaderID != m.ID {
				t.Errorf("leader %s (%s), but %s (%s) says it leads", c.Leader, c.LeaderID, m.Name, m.ID)
			}
		}
		if m.LeaderID != c.LeaderID {
			t.Errorf("%s believes in leader %s, cluster leader %s", m.Name, m.LeaderID, c.LeaderID)
		}
	}
	if leaders != 1 {
		t.Errorf("%d leaders, want exactly 1", leaders)
	}
	if want := clusterVersionOf(bed.Version); c.Version != want {
		t.Errorf("cluster version %q, want %q", c.Version, want)
	}
	if c.ID == 0 || !c.Healthy || len(c.Alarms) != 0 || c.AuthEnabled {
		t.Errorf("cluster id %s healthy %v alarms %v auth %v", c.ID, c.Healthy, c.Alarms, c.AuthEnabled)
	}
}

// TestProbeReal runs the probe against a real cluster of every line the
// playbooks touch: settled picture, per-member and leader helpers, the v3
// operations (move leader, snapshot + verify), then one member stopped.
func TestProbeReal(t *testing.T) {
	for _, role := range []string{"2.0", "2.1", "2.3", "3.4", "3.5", "3.6", "3.7"} {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			bed := startBed(t, role)
			p := newProber(t, bed)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()

			keys := 50
			if bed.Version == "2.0.8" {
				keys = 20 // 2.0 writes slowly (docs/etcd-behaviour.md "v2 quirks")
			}
			if err := bed.WriteKeys(ctx, keys); err != nil {
				t.Fatal(err)
			}
			c := settle(t, bed, p)
			checkSettled(t, bed, c)

			t.Log("members are named by the inventory, matched by client URL; etcd's own name is kept apart")
			var renamed []Endpoint
			for i, h := range bed.Hosts {
				renamed = append(renamed, Endpoint{Name: fmt.Sprintf("inv%d", i), URL: h.ClientURL})
			}
			rp, err := New(renamed, Options{API: bed.API})
			if err != nil {
				t.Fatal(err)
			}
			defer rp.Close()
			if rc, err := rp.Cluster(ctx); err != nil {
				t.Fatal(err)
			} else {
				for i, m := range rc.Members {
					if m.Name != renamed[i].Name || m.Endpoint != renamed[i].Name || m.EtcdName != bed.Hosts[i].Name {
						t.Errorf("endpoint inv%d named %q (endpoint %q, etcd name %q), want %q with etcd name %q",
							i, m.Name, m.Endpoint, m.EtcdName, renamed[i].Name, bed.Hosts[i].Name)
					}
				}
				if lm := rc.LeaderMember(); lm == nil || rc.Leader != lm.Name || !strings.HasPrefix(rc.Leader, "inv") {
					t.Errorf("leader %q is not named by the inventory (%+v)", rc.Leader, lm)
				}
			}
			if m, err := rp.Member(ctx, "inv1"); err != nil || m.Name != "inv1" || m.EtcdName != bed.Hosts[1].Name || m.Endpoint != "inv1" || !m.Healthy {
				t.Errorf("Member(inv1) = %+v, %v", m, err)
			}

			t.Log("the helpers agree with the whole-cluster probe")
			name, idx, err := p.LeaderCommitted(ctx)
			if err != nil || name != c.Leader || idx < c.LeaderMember().RaftIndex {
				t.Errorf("LeaderCommitted = %s %d %v, want %s >= %d", name, idx, err, c.Leader, c.LeaderMember().RaftIndex)
			}
			m, err := p.Member(ctx, bed.Hosts[1].Name)
			if err != nil || !m.Healthy || m.Name != bed.Hosts[1].Name || m.Server != bed.Version || m.ID != c.Members[1].ID {
				t.Errorf("Member(%s) = %+v, %v", bed.Hosts[1].Name, m, err)
			}

			if bed.API == APIv3 {
				moveLeader(t, p, c)
				snapshot(t, bed, p)
			} else {
				if err := p.MoveLeader(ctx, bed.Hosts[0].Name); !errors.Is(err, ErrNotSupported) {
					t.Errorf("v2 MoveLeader: %v, want ErrNotSupported", err)
				}
				if _, err := p.Snapshot(ctx, bed.Hosts[0].Name, os.Stdout); !errors.Is(err, ErrNotSupported) {
					t.Errorf("v2 Snapshot: %v, want ErrNotSupported", err)
				}
			}

			down := 2
			t.Logf("stop %s: it must read unreachable and the cluster unhealthy", bed.Hosts[down].Name)
			if err := bed.StopMember(ctx, down); err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			c = probe(t, p)
			if d := time.Since(began); d > 3*time.Second {
				t.Errorf("probe with a member down took %v: a refused connection should end that member's probe at once", d)
			}
			for i, m := range c.Members {
				if i == down {
					if m.Reachable || m.Healthy || m.Error == "" || !strings.Contains(m.Error, bed.Hosts[down].ClientURL) {
						t.Errorf("stopped %s: reachable %v healthy %v error %q", m.Name, m.Reachable, m.Healthy, m.Error)
					}
					t.Logf("stopped member reads: %s", m.Error)
					continue
				}
				if !m.Reachable {
					t.Errorf("%s unreachable: %s", m.Name, m.Error)
				}
			}
			if c.Healthy || c.Leader == "" {
				t.Errorf("healthy %v leader %q, want unhealthy with a leader", c.Healthy, c.Leader)
			}
			if m, err := p.Member(ctx, bed.Hosts[down].Name); err != nil || m.Reachable {
				t.Errorf("Member(stopped) = %+v, %v: want unreachable, no error", m, err)
			}

			t.Log("stop a second member: quorum is lost; the last one still answers, unhealthy")
			last, second := -1, -1
			for i := range bed.Hosts {
				if i != down && second < 0 {
					second = i
				} else if i != down {
					last = i
				}
			}
			if err := bed.StopMember(ctx, second); err != nil {
				t.Fatal(err)
			}
			qp, err := New([]Endpoint{{bed.Hosts[last].Name, bed.Hosts[last].ClientURL}}, Options{API: bed.API, RequestTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer qp.Close()
			began = time.Now()
			c, err = qp.Cluster(ctx)
			took := time.Since(began)
			if err != nil {
				t.Fatal(err)
			}
			lastM := c.Members[0]
			t.Logf("no quorum, probe in %v: %s reachable %v healthy %v (%s); %d members listed", took.Round(time.Millisecond), lastM.Name, lastM.Reachable, lastM.Healthy, lastM.HealthError, len(c.Members))
			if !lastM.Reachable || lastM.Healthy || lastM.HealthError == "" || c.Healthy || lastM.Server != bed.Version {
				t.Errorf("without quorum: %+v", lastM)
			}
			if took > 3*time.Second {
				t.Errorf("probe without quorum took %v with RequestTimeout 2s", took)
			}
		})
	}
}

// moveLeader hands leadership to a follower and checks a fresh probe.
func moveLeader(t *testing.T, p *Prober, c *Cluster) {
	t.Helper()
	var to string
	for _, m := range c.Members {
		if !m.IsLeader {
			to = m.Name
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	began := time.Now()
	if err := p.MoveLeader(ctx, to); err != nil {
		t.Fatalf("MoveLeader(%s): %v", to, err)
	}
	t.Logf("moved leadership %s -> %s in %v", c.Leader, to, time.Since(began).Round(time.Millisecond))
	after := probe(t, p)
	if after.Leader != to || !after.MemberByName(to).IsLeader {
		t.Errorf("after MoveLeader(%s) the leader is %q", to, after.Leader)
	}
	if err := p.MoveLeader(ctx, to); err != nil {
		t.Errorf("MoveLeader to the leader itself: %v, want a no-op", err)
	}
	if err := p.MoveLeader(ctx, "nobody"); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("MoveLeader(nobody): %v, want ErrUnknownMember", err)
	}
}

// snapshot streams a snapshot from the leader, verifies it against the
// cluster's revision and key count, then corrupts it.
func snapshot(t *testing.T, bed *testbed.Cluster, p *Prober) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli, err := bed.Client()
	if err != nil {
		t.Fatal(err)
	}
	// Overwrites and tombstones, so the live-key count is really tested.
	for i := range 10 {
		if _, err := cli.Put(ctx, fmt.Sprintf("probe/%d", i), "v1"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := cli.Put(ctx, fmt.Sprintf("probe/%d", i), "v2"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Delete(ctx, "probe/5", clientv3.WithRange("probe/9")); err != nil { // 5..8
		t.Fatal(err)
	}
	c := probe(t, p)
	path := filepath.Join(t.TempDir(), "snap.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	n, err := p.Snapshot(ctx, c.Leader, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("Snapshot(%s): %v", c.Leader, err)
	}
	info, err := VerifySnapshot(path)
	if err != nil {
		t.Fatalf("VerifySnapshot: %v", err)
	}
	t.Logf("snapshot from %s: %d bytes in %v: %+v", c.Leader, n, time.Since(began).Round(time.Millisecond), info)
	if info.Size != n {
		t.Errorf("size %d, streamed %d", info.Size, n)
	}
	all, err := cli.Get(ctx, "\x00", clientv3.WithFromKey(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if info.Revision != all.Header.Revision || info.Revision != c.Revision {
		t.Errorf("snapshot revision %d, cluster revision %d (probe %d)", info.Revision, all.Header.Revision, c.Revision)
	}
	if int64(info.Keys) != all.Count || info.Keys < bed.Keys() {
		t.Errorf("snapshot keys %d, cluster holds %d, bed wrote %d", info.Keys, all.Count, bed.Keys())
	}

	etcdutl := filepath.Join(bed.Hosts[0].BinDir, "etcdutl")
	if _, err := os.Stat(etcdutl); err == nil {
		// etcd's own tool agrees: same revision, and the file restores.
		out, err := exec.CommandContext(ctx, etcdutl, "snapshot", "status", "-w", "json", path).Output()
		var st struct {
			Revision int64 `json:"revision"`
		}
		if err != nil || json.Unmarshal(out, &st) != nil || st.Revision != info.Revision {
			t.Errorf("etcdutl snapshot status: %s %v: revision %d, VerifySnapshot says %d", out, err, st.Revision, info.Revision)
		}
		restored := filepath.Join(t.TempDir(), "restored")
		if out, err := exec.CommandContext(ctx, etcdutl, "snapshot", "restore", path, "--data-dir", restored).CombinedOutput(); err != nil {
			t.Errorf("etcdutl snapshot restore: %v\n%s", err, out)
		} else {
			t.Logf("etcdutl agrees (revision %d) and restores the snapshot", st.Revision)
		}
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	bad := filepath.Join(t.TempDir(), "corrupt.db")
	if err := os.WriteFile(bad, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifySnapshot(bad); err == nil {
		t.Errorf("a snapshot with a flipped byte verified")
	} else {
		t.Logf("corrupted snapshot refused: %v", err)
	}
}

// TestProbeUnreachable: no member answers, quickly, and the error names
// them; New itself never connects.
func TestProbeUnreachable(t *testing.T) {
	p, err := New([]Endpoint{{"a", "http://127.0.0.1:1"}, {"b", "http://127.0.0.1:9"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, api := range []string{APIv2, APIv3} {
		p.opts.API = api
		began := time.Now()
		c, err := p.Cluster(context.Background())
		if err == nil || c == nil || !strings.Contains(err.Error(), "a (http://127.0.0.1:1)") {
			t.Fatalf("%s: Cluster = %v, %v: want an error naming the members", api, c, err)
		}
		if d := time.Since(began); d > 2*time.Second {
			t.Errorf("%s: took %v to find nobody home", api, d)
		}
		if c.Healthy || len(c.Members) != 2 || c.Members[0].Reachable {
			t.Errorf("%s: %+v", api, c)
		}
	}
	for _, bad := range [][]Endpoint{nil, {{"", "http://x:1"}}, {{"a", "x:1"}}, {{"a", "http://x:1"}, {"a", "http://x:2"}}} {
		if _, err := New(bad, Options{}); err == nil {
			t.Errorf("New(%v) accepted", bad)
		}
	}
	if _, err := New([]Endpoint{{"a", "http://x:1"}}, Options{API: "v4"}); err == nil {
		t.Error("api v4 accepted")
	}
}
