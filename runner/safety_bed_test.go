package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/internal/shell"
	"github.com/etcdplay/etcdplay/playbooks"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/target"
	"github.com/etcdplay/etcdplay/testbed"
)

// The safety invariants of docs/safety.md on real clusters: real etcd
// behind real sshd, the runner wired as the CLI wires it.

// bedRun is one run's wiring against a bed: the shipped playbook name,
// optionally edited (edit gets the YAML source), the bed's inventory
// optionally changed after loading.
type bedRun struct {
	o   Options
	rec *events.Recorder
}

func newBedRun(t *testing.T, ctx context.Context, bed *testbed.Cluster, playbook string, edit func(string) string, invEdit func(*schema.Inventory)) *bedRun {
	t.Helper()
	src, path, err := playbooks.Read(playbook)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		src = []byte(edit(string(src)))
	}
	pb, err := schema.LoadPlaybook(path, src, steps.Default())
	if err != nil {
		t.Fatal(err)
	}
	isrc, err := os.ReadFile(bed.InventoryPath)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := schema.LoadInventory(bed.InventoryPath, isrc)
	if err != nil {
		t.Fatal(err)
	}
	if invEdit != nil {
		invEdit(inv)
	}
	tg, err := target.Open(ctx, inv, target.Options{SSHConfigFile: "none", AgentSocket: "none", HomeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	br := &bedRun{rec: &events.Recorder{}}
	br.o = Options{
		Playbook: pb, Inventory: inv, PlaybookPath: playbook, InventoryPath: bed.InventoryPath,
		PlaybookDigest: journal.Digest(src), InventoryDigest: journal.Digest(isrc),
		Cluster: tg, Hosts: tg, Sink: events.Multi(br.rec, logSink{t}),
		StateDir: filepath.Join(t.TempDir(), inv.Cluster), BackupDir: t.TempDir(),
		Locker: tg.Locker(),
	}
	return br
}

// pids are the bed's etcd pids, to prove nothing was stopped.
func pids(bed *testbed.Cluster) []int {
	var out []int
	for i := range bed.Hosts {
		out = append(out, bed.MemberPID(i))
	}
	return out
}

func samePIDs(t *testing.T, bed *testbed.Cluster, before []int) {
	t.Helper()
	if after := pids(bed); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("etcd pids %v -> %v: a refused run stopped a member", before, after)
	}
}

// TestBedLearnerIsNotAVoter: a 3.5 cluster of 2 voters and 1 learner
// (a follower removed, then added back with `member add --learner` and started
// on a fresh data dir). The old gate counted the learner and would stop a
// voter, leaving 1 of 2 voters: no quorum. The run is refused before any
// stop, first because a learner is mid-promotion, then, with the playbook
// allowing learners, because 2 voters cannot spare one.
func TestBedLearnerIsNotAVoter(t *testing.T) {
	if testing.Short() {
		t.Skip("real bed")
	}
	bed := testbed.StartT(t, testbed.Options{Version: "3.5"})
	ctx, cancel := context.WithTimeout(context.Background(), bedTimeout)
	defer cancel()
	leader, err := bed.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l := (leader + 1) % len(bed.Hosts) // a follower becomes the learner
	makeLearner(t, ctx, bed, l)

	br := newBedRun(t, ctx, bed, "3.5-to-3.6", nil, nil)
	waitLearner(t, ctx, br.o.Cluster, bed.Hosts[l].Name)
	before := pids(bed)
	t.Log("run 3.5-to-3.6 on 2 voters + 1 learner: refused, the learner is mid-promotion")
	_, err = Apply(ctx, br.o)
	if exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), "learner(s) mid-promotion: "+bed.Hosts[l].Name) {
		t.Fatalf("exit %d (%v), want 5 naming the learner", exit.Code(err), err)
	}
	samePIDs(t, bed, before)

	t.Log("the playbook allows learners: still refused, 2 voters cannot spare one")
	br = newBedRun(t, ctx, bed, "3.5-to-3.6", func(s string) string {
		return strings.Replace(s, "  order: leader-last\n", "  order: leader-last\n  learners: allow\n", 1)
	}, nil)
	_, err = Apply(ctx, br.o)
	if exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), "2 voter(s), quorum 2") {
		t.Fatalf("exit %d (%v), want 5: 2 voters, quorum 2", exit.Code(err), err)
	}
	samePIDs(t, bed, before)

	p, err := PlanLive(ctx, br.o.Playbook, br.o.Inventory, br.o.Cluster, br.o.Hosts, Digests{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "2 voter(s), quorum 2") || !strings.Contains(p.Warnings[0], "1 learner(s) do not count") {
		t.Errorf("plan warnings %q", p.Warnings)
	}
}

// makeLearner turns bed member i into a learner: remove it, then add it
// back as a learner and start it on an empty data dir with
// --initial-cluster-state=existing.
func makeLearner(t *testing.T, ctx context.Context, bed *testbed.Cluster, i int) {
	t.Helper()
	cli, err := bed.Client()
	if err != nil {
		t.Fatal(err)
	}
	h := bed.Hosts[i]
	list, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// etcd refuses membership changes ("unhealthy cluster") until every
	// peer has been connected for a few seconds; and the member just
	// removed stops itself, answering "server stopped" to a call the
	// all-endpoints client happens to send it. Neither changed anything.
	retry := func(f func() error) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := f()
			if err == nil {
				return
			}
			transient := strings.Contains(err.Error(), "unhealthy cluster") || strings.Contains(err.Error(), "server stopped")
			if !transient || time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	for _, m := range list.Members {
		if m.Name == h.Name {
			retry(func() error {
				_, err := cli.MemberRemove(ctx, m.ID)
				if err != nil && strings.Contains(err.Error(), "member not found") {
					return nil // an earlier try was applied before its answer was lost
				}
				return err
			})
		}
	}
	if err := bed.StopMember(ctx, i); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(h.DataDir); err != nil {
		t.Fatal(err)
	}
	flags := filepath.Join(h.Dir, "etcd.flags")
	b, err := os.ReadFile(flags)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(flags, []byte(strings.Replace(string(b), "--initial-cluster-state=new", "--initial-cluster-state=existing", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	retry(func() error { _, err := cli.MemberAddAsLearner(ctx, []string{h.PeerURL}); return err })
	if err := bed.WaitMemberCount(ctx, len(bed.Hosts)); err != nil {
		t.Fatal(err)
	}
	if _, err := bed.SSH(ctx, i, shell.Join(h.Service, "start")); err != nil {
		t.Fatal(err)
	}
}

// waitLearner waits until the probe sees name as a healthy learner.
func waitLearner(t *testing.T, ctx context.Context, cl steps.Cluster, name string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		c, err := cl.Cluster(wctx)
		if err == nil && c.Healthy {
			if m := c.MemberByName(name); m != nil && m.IsLearner {
				return
			}
		}
		if wctx.Err() != nil {
			t.Fatalf("%s never became a healthy learner: %v %+v", name, err, c)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestBedTwoMembers: a 2-member cluster loses quorum while either member
// is stopped. Without --allow-quorum-loss the run is refused before any
// stop and plan says why; with it the upgrade goes through.
func TestBedTwoMembers(t *testing.T) {
	if testing.Short() {
		t.Skip("real bed")
	}
	bed := testbed.StartT(t, testbed.Options{Version: "3.5", Members: 2})
	ctx, cancel := context.WithTimeout(context.Background(), bedTimeout)
	defer cancel()
	br := newBedRun(t, ctx, bed, "3.5-to-3.6", nil, nil)
	p, err := PlanOffline(br.o.Playbook, br.o.Inventory)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "--allow-quorum-loss") {
		t.Errorf("plan warnings %q, want the quorum warning", p.Warnings)
	}
	before := pids(bed)
	t.Log("run without --allow-quorum-loss: refused")
	_, err = Apply(ctx, br.o)
	if exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), "2 voter(s), quorum 2") || !strings.Contains(exit.Hint(err), "--allow-quorum-loss") {
		t.Fatalf("exit %d (%v, hint %q), want 5 with the opt-in named", exit.Code(err), err, exit.Hint(err))
	}
	samePIDs(t, bed, before)

	t.Log("run with --allow-quorum-loss: both members upgraded, each stop announced")
	br.o.AllowQuorumLoss = true
	res, err := Apply(ctx, br.o)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, m := range res.Members {
		if !strings.HasPrefix(m.After, "3.6.") {
			t.Errorf("%s: %s -> %s (%s)", m.Name, m.Before, m.After, m.State)
		}
	}
	var warned int
	for _, e := range br.rec.Events() {
		if e.Kind == events.Warn && strings.Contains(e.Message, "allowed by --allow-quorum-loss") {
			warned++
		}
	}
	if warned != 2 {
		t.Errorf("%d quorum-loss warnings, want one per member", warned)
	}
}

// TestBedCrossedNames: the inventory calls etcd's host1 "host2" and the
// other way round. Machine host1 (the inventory's "host2") already runs
// 3.6. Every lookup must follow the client URL: the inventory's "host2"
// is done and never stopped, the other two are upgraded. Looking members
// up by etcd's names took the 3.5 machine for done and stopped the 3.6 one.
func TestBedCrossedNames(t *testing.T) {
	if testing.Short() {
		t.Skip("real bed")
	}
	bed := testbed.StartT(t, testbed.Options{Version: "3.5"})
	ctx, cancel := context.WithTimeout(context.Background(), bedTimeout)
	defer cancel()
	if err := testbed.InstallVersion(bed.Hosts[0], "3.6"); err != nil {
		t.Fatal(err)
	}
	if err := bed.StopMember(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := bed.StartMember(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := bed.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	upgraded := bed.MemberPID(0)
	mixed := func(s string) string { // this playbook's preflight wants every server on 3.5
		return strings.Replace(s, `assert-version: {cluster: "3.5", servers: "3.5.*"}`, `assert-version: {cluster: "3.5"}`, 1)
	}
	br := newBedRun(t, ctx, bed, "3.5-to-3.6", mixed, func(inv *schema.Inventory) {
		inv.Members[0].Name, inv.Members[1].Name = inv.Members[1].Name, inv.Members[0].Name
	})
	res, err := Apply(ctx, br.o)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for i, h := range bed.Hosts {
		v, err := testbed.ServerVersion(ctx, h.ClientURL)
		if err != nil || !strings.HasPrefix(v.Server, "3.6.") {
			t.Errorf("machine %d (%s): %+v %v, want 3.6", i, h.Addr, v, err)
		}
	}
	if bed.MemberPID(0) != upgraded {
		t.Errorf("the machine already on 3.6 was restarted (pid %d -> %d)", upgraded, bed.MemberPID(0))
	}
	for _, m := range res.Members {
		if m.Name == "host2" && !strings.HasPrefix(m.State, "already on 3.6") {
			t.Errorf("inventory host2 (etcd's host1, on 3.6): %s", m.State)
		}
	}
}

// TestBedNoBackupNoStop: the shipped 3.5-to-3.6 with its backup step
// removed is refused before any stop on a real cluster; the 2.x guide's
// order (stop, then etcdctl backup of the stopped member) still runs,
// gated before the swap.
func TestBedNoBackupNoStop(t *testing.T) {
	if testing.Short() {
		t.Skip("real bed")
	}
	t.Run("3.5 without a backup step", func(t *testing.T) {
		bed := testbed.StartT(t, testbed.Options{Version: "3.5"})
		ctx, cancel := context.WithTimeout(context.Background(), bedTimeout)
		defer cancel()
		br := newBedRun(t, ctx, bed, "3.5-to-3.6", func(s string) string {
			return strings.Replace(s, "    backup: {from: leader}\n", "    health: {}\n", 1)
		}, nil)
		before := pids(bed)
		_, err := Apply(ctx, br.o)
		if exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), "holds no verified backup") {
			t.Fatalf("exit %d (%v), want 5", exit.Code(err), err)
		}
		samePIDs(t, bed, before)
	})
	t.Run("2.0 backs up each stopped member", func(t *testing.T) {
		bed := testbed.StartT(t, testbed.Options{Version: "2.0"})
		ctx, cancel := context.WithTimeout(context.Background(), bedTimeout)
		defer cancel()
		br := newBedRun(t, ctx, bed, "2.0-to-2.1", nil, nil)
		if _, err := Apply(ctx, br.o); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	})
}
