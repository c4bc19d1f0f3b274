package steps_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// TestStopWaitsForTheProcess: a stop command that returns at once (a bare
// kill) while an open watch keeps etcd draining for seconds after its
// client port has closed. ssh-stop must not call the member stopped until
// the etcd process itself is gone: the swap that follows would otherwise
// race a live etcd still holding its data dir.
func TestStopWaitsForTheProcess(t *testing.T) {
	b := startBed(t, "3.5")
	pb := playbook(t, "3.5", "3.6")
	ctx := ctxT(t, 3*time.Minute)
	leader, err := b.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := (leader + 1) % len(b.Hosts)
	fh := b.Hosts[f]

	t.Logf("a watch open on %s keeps its graceful stop draining", fh.Name)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{fh.ClientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer wcancel()
	wch := cli.Watch(wctx, "etcdplay-test/stop-proof")
	if _, err := cli.Put(ctx, "etcdplay-test/stop-proof", "x"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wch:
	case <-ctx.Done():
		t.Fatal("the watch never saw its put")
	}

	pid := b.MemberPID(f)
	env, lg, _ := b.env(t, fh.Name, pb)
	// No service.status, and a stop that only sends SIGTERM and returns.
	env.Member.Service = &schema.Service{
		Start: env.Member.Service.Start,
		Stop:  "kill -TERM " + strconv.Itoa(pid),
	}
	start := time.Now()
	if err := (&steps.SSHStop{}).Run(ctx, env); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if processAlive(pid) {
		t.Fatalf("ssh-stop returned after %s with etcd pid %d still running", took, pid)
	}
	if !lg.has("etcd process " + strconv.Itoa(pid) + " gone") {
		t.Errorf("the stop's proof does not name the process: %v", lg)
	}
	t.Logf("ssh-stop returned after %s, with pid %d gone", took.Round(time.Millisecond), pid)
}
