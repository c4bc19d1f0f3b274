package runner

import (
	"context"
	"encoding/base64"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// optionHosts answers steps.ReadOptions' script with one etcd process
// per member and records which member's options were read, in order.
type optionHosts struct {
	mu    sync.Mutex
	reads []string
}

func (o *optionHosts) Host(_ context.Context, member string) (steps.Host, error) {
	return &optionHost{o: o, member: member}, nil
}

type optionHost struct {
	o      *optionHosts
	member string
}

func (h *optionHost) Run(_ context.Context, cmd ssh.Command) (ssh.Result, error) {
	if len(cmd.Argv) < 5 || !strings.Contains(cmd.Argv[2], "/proc/[0-9]*/cmdline") {
		return ssh.Result{}, nil
	}
	h.o.mu.Lock()
	h.o.reads = append(h.o.reads, h.member)
	h.o.mu.Unlock()
	argv := cmd.Argv[4] + "\x00--name=" + h.member + "\x00"
	out := fmt.Sprintf("cmd\t100\t%s\nenv\t100\t%s\n", base64.StdEncoding.EncodeToString([]byte(argv)),
		base64.StdEncoding.EncodeToString([]byte("ETCD_LOG_LEVEL=info\x00")))
	return ssh.Result{Stdout: []byte(out)}, nil
}

func (h *optionHost) Upload(context.Context, string, string, fs.FileMode) error { return nil }

// TestOptionsReadInPreflightAndAfterRestart: every member's options are
// read once before the preflight steps (a guard may read any member's;
// the hosts in parallel, so in any order), then a restarted member's again
// when the next guard asks for facts: here each next member's guard, so
// every restarted member but the last (no guard follows it). Guards read
// nothing else over SSH.
func TestOptionsReadInPreflightAndAfterRestart(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra1"
	h := newHarness(t, fakePlaybook, fc)
	hosts := &optionHosts{}
	h.o.Hosts = hosts
	if _, err := Apply(context.Background(), h.o); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	stopped := fc.stopped()
	want := append([]string{"infra0", "infra1", "infra2"}, stopped[:len(stopped)-1]...)
	if len(hosts.reads) >= 3 {
		slices.Sort(hosts.reads[:3]) // the first reads run side by side
	}
	if !reflect.DeepEqual(hosts.reads, want) {
		t.Errorf("options read for %v, want %v (all in preflight, then each restarted member when the next guard asks)", hosts.reads, want)
	}
}
