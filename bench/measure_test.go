//go:build bench

package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/etcdplay/etcdplay/testbed"
)

// What the benchmark observes from outside the tool under test, the same
// way for all three: the members' processes and /health (monitor), their
// logs (SIGTERM, elections) and the sshd logs (connections).

// memberTrack is one member's restart as the monitor saw it.
type memberTrack struct {
	name    string
	gone    time.Time // its process disappeared
	back    time.Time // a new process appeared
	healthy time.Time // then /health said true
}

// monitor polls every member's pid file (cheap) every 20 ms, /health
// while a member is coming back, and, once every member is back, the
// cluster version until it reaches the target (clusterAt).
type monitor struct {
	bed    *testbed.Cluster
	mu     sync.Mutex // guards tracks' times while the monitor runs
	tracks []*memberTrack
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// clusterAt is when /version first said the cluster runs target,
	// after every member had restarted: from the last member's /health
	// to then, the upgrade waits on etcd's own version monitor (its
	// leader decides every few seconds), whichever tool runs it.
	clusterAt time.Time
}

func startMonitor(bed *testbed.Cluster, target string) *monitor {
	ctx, cancel := context.WithCancel(context.Background())
	m := &monitor{bed: bed, cancel: cancel}
	for i, h := range bed.Hosts {
		tr := &memberTrack{name: h.Name}
		m.tracks = append(m.tracks, tr)
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				pid := bed.MemberPID(i)
				now := time.Now()
				m.mu.Lock()
				healthy := tr.healthy
				switch {
				case tr.gone.IsZero():
					if pid == 0 {
						tr.gone = now
					}
				case tr.back.IsZero():
					if pid != 0 {
						tr.back = now
					}
				}
				back := !tr.back.IsZero()
				m.mu.Unlock()
				if back && healthy.IsZero() {
					hctx, c := context.WithTimeout(ctx, 300*time.Millisecond)
					ok, _ := testbed.Health(hctx, h.ClientURL)
					c()
					if ok {
						m.mu.Lock()
						tr.healthy = time.Now()
						m.mu.Unlock()
					}
				}
			}
		}()
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for m.clusterAt.IsZero() {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if !m.allHealthy() {
				continue
			}
			vctx, c := context.WithTimeout(ctx, 300*time.Millisecond)
			v, err := testbed.ServerVersion(vctx, bed.Hosts[0].ClientURL)
			c()
			if err == nil && strings.HasPrefix(v.Cluster, target) {
				m.clusterAt = time.Now()
			}
		}
	}()
	return m
}

// allHealthy: every member has restarted and answered /health since.
func (m *monitor) allHealthy() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, tr := range m.tracks {
		if tr.healthy.IsZero() {
			return false
		}
	}
	return true
}

func (m *monitor) stop() []*memberTrack {
	m.cancel()
	m.wg.Wait()
	return m.tracks
}

// logLine is the part of an etcd JSON log line the benchmark reads.
type logLine struct {
	TS  time.Time `json:"ts"`
	Msg string    `json:"msg"`
}

var electedRe = regexp.MustCompile(`elected leader \S+ at term (\d+)`)

// etcdLog reads a member's log: when it was told to stop within [from,
// to], the terms in which it saw a leader elected then, and the highest
// term it saw before from. A restarted member logs the current term's
// leader again, so only terms above every member's term before from are
// leader changes.
func etcdLog(h *testbed.Host, from, to time.Time) (sigterm time.Time, terms map[int]bool, before int) {
	terms = map[int]bool{}
	f, err := os.Open(filepath.Join(h.Dir, "etcd.log"))
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.TS.After(to) {
			continue
		}
		m := electedRe.FindStringSubmatch(l.Msg)
		term := 0
		if m != nil {
			term, _ = strconv.Atoi(m[1])
		}
		if l.TS.Before(from) {
			before = max(before, term)
			continue
		}
		if strings.HasPrefix(l.Msg, "received signal; shutting down") && sigterm.IsZero() {
			sigterm = l.TS
		}
		if m != nil {
			terms[term] = true
		}
	}
	return
}

// sshAccepted counts the SSH logins every host's sshd has accepted so far.
func sshAccepted(bed *testbed.Cluster) int {
	n := 0
	for _, h := range bed.Hosts {
		b, err := os.ReadFile(filepath.Join(h.Dir, "sshd", "sshd.log"))
		if err == nil {
			n += strings.Count(string(b), "Accepted publickey")
		}
	}
	return n
}
