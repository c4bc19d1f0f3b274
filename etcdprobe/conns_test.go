package etcdprobe

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestProbeLeavesNoConnection probes a real 3.5 cluster from many
// goroutines at once, as the runner's parallel steps do, and then wants no
// TCP connection of this process left open to a member's client port. An
// HTTP connection kept after its request, or dialled for a request that
// another connection served, makes an etcd 3.5 member's graceful stop hang
// until it is killed (cmux waits for the connection's first line; see New).
func TestProbeLeavesNoConnection(t *testing.T) {
	bed := startBed(t, "3.5")
	p := newProber(t, bed)
	ports := map[string]bool{}
	for _, h := range bed.Hosts {
		ports[strings.TrimPrefix(h.ClientURL, "http://")] = true
	}
	// The bed's own client (keys, settling) is this process's too.
	before := map[string]bool{}
	for _, c := range establishedTo(t, ports) {
		before[c] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := p.Cluster(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	// A closed gRPC connection's socket is shut down by its own goroutine
	// a moment after Close returns: give it a second.
	var open []string
	for deadline := time.Now().Add(time.Second); ; time.Sleep(50 * time.Millisecond) {
		open = open[:0]
		for _, c := range establishedTo(t, ports) {
			if !before[c] {
				open = append(open, c)
			}
		}
		if len(open) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(open) > 0 {
		t.Errorf("after the probes returned, this process still holds %d connection(s) to client ports: %v", len(open), open)
	}
}

// establishedTo lists this process's established TCP connections whose
// remote address is one of addrs (host:port), as "local -> remote", read
// from /proc.
func establishedTo(t *testing.T, addrs map[string]bool) []string {
	t.Helper()
	fds, err := filepath.Glob("/proc/self/fd/*")
	if err != nil {
		t.Fatal(err)
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	f, err := os.Open("/proc/self/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 || fs[3] != "01" || !mine[fs[9]] {
			continue
		}
		if a := procAddr(fs[2]); addrs[a] {
			out = append(out, procAddr(fs[1])+" -> "+a)
		}
	}
	return out
}

// procAddr turns /proc/net/tcp's "0B00007F:094B" into "127.0.0.11:2379".
func procAddr(s string) string {
	var ip, port uint32
	if _, err := fmt.Sscanf(s, "%X:%X", &ip, &port); err != nil {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d.%d:%d", ip&0xff, ip>>8&0xff, ip>>16&0xff, ip>>24, port)
}
