package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/target/lock"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// fakeMember is one member of the fake cluster: a small state machine the
// fake actions drive.
type fakeMember struct {
	name    string
	version string // what the running binary reports
	binary  string // what starts next time (swap changes it)
	running bool
	sick    bool // running but unhealthy
	lagging bool // never catches up after a start
	learner bool // a non-voting member
	applied uint64
}

// fakeCluster implements steps.Cluster over fakeMembers.
type fakeCluster struct {
	mu        sync.Mutex
	members   []*fakeMember
	leader    string
	committed uint64
	version   string // cluster version override; "" computes it
	// noVersion hides the cluster version, as a cluster that has not
	// decided one (or a probe that could not read it) shows it.
	noVersion bool

	stops  []string // members stopped, in order
	starts []string
	// afterStart runs (with the lock held) after a member starts.
	afterStart func(f *fakeCluster, name string)
	// block, when set, makes the block action wait for it.
	block   chan struct{}
	blocked chan struct{}
	// attempts counts the flaky action's runs.
	attempts int
	// readAhead is what each ahead-swap's Run found its Prefetch had read.
	readAhead []string
}

func newFakeCluster(version string, names ...string) *fakeCluster {
	f := &fakeCluster{committed: 100}
	for _, n := range names {
		f.members = append(f.members, &fakeMember{name: n, version: version, binary: version, running: true, applied: 100})
	}
	f.leader = names[0]
	return f
}

func (f *fakeCluster) m(name string) *fakeMember {
	for _, m := range f.members {
		if m.name == name {
			return m
		}
	}
	panic("no member " + name)
}

func (f *fakeCluster) view(m *fakeMember) etcdprobe.Member {
	v := etcdprobe.Member{Name: m.name, Endpoint: m.name, ClientURL: "http://" + m.name + ":2379"}
	for i, o := range f.members {
		if o == m {
			v.ID = etcdprobe.ID(i + 1)
		}
		if o.name == f.leader {
			v.LeaderID = etcdprobe.ID(i + 1)
		}
	}
	if !m.running {
		v.Error = "connection refused"
		return v
	}
	v.IsLearner = m.learner
	v.Reachable = true
	v.Healthy = !m.sick
	if m.sick {
		v.HealthError = "no leader"
	}
	v.Server = m.version
	if !f.noVersion {
		v.ClusterVersion = f.clusterVersion()
	}
	v.IsLeader = m.name == f.leader
	v.RaftIndex = m.applied
	v.RaftAppliedIndex = m.applied
	return v
}

func (f *fakeCluster) clusterVersion() string {
	if f.version != "" {
		return f.version
	}
	low := ""
	for _, m := range f.members {
		minor := m.version[:strings.LastIndex(m.version, ".")]
		if low == "" || minor < low {
			low = minor
		}
	}
	return low + ".0"
}

func (f *fakeCluster) Cluster(ctx context.Context) (*etcdprobe.Cluster, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &etcdprobe.Cluster{API: "v3", ID: fakeClusterID, Revision: 100, Version: f.clusterVersion(), Leader: f.leader, Healthy: true}
	if f.noVersion {
		c.Version = ""
	}
	any := false
	for _, m := range f.members {
		v := f.view(m)
		any = any || v.Reachable
		c.Healthy = c.Healthy && v.Healthy
		c.Members = append(c.Members, v)
	}
	if !any {
		return nil, errors.New("no member answered")
	}
	return c, nil
}

func (f *fakeCluster) Member(ctx context.Context, name string) (*etcdprobe.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.view(f.m(name))
	return &v, nil
}

func (f *fakeCluster) LeaderCommitted(ctx context.Context) (string, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leader, f.committed, nil
}

func (f *fakeCluster) MoveLeader(ctx context.Context, to string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leader = to
	return nil
}

func (f *fakeCluster) Snapshot(ctx context.Context, from string, w io.Writer) (int64, error) {
	return 0, errors.New("no snapshots in the fake")
}

func (f *fakeCluster) Downgrade(ctx context.Context, action etcdprobe.DowngradeAction, target string) (string, error) {
	return "", errors.New("no downgrades in the fake")
}

// electNewLeader picks the first running member when the leader stops.
func (f *fakeCluster) electNewLeader() {
	if l := f.m(f.leader); l.running {
		return
	}
	for _, m := range f.members {
		if m.running {
			f.leader = m.name
			return
		}
	}
	f.leader = ""
}

func (f *fakeCluster) stopped() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.stops...)
}

func (f *fakeCluster) versions() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for _, m := range f.members {
		out[m.name] = m.version
		if !m.running {
			out[m.name] = "stopped"
		}
	}
	return out
}

// fakeHosts satisfies steps.Hosts; the fake actions never use it.
type fakeHosts struct{}

func (fakeHosts) Host(ctx context.Context, member string) (steps.Host, error) {
	return fakeHost{}, nil
}

type fakeHost struct{}

func (fakeHost) Run(ctx context.Context, cmd ssh.Command) (ssh.Result, error) {
	return ssh.Result{}, nil
}
func (fakeHost) Upload(ctx context.Context, local, remote string, mode fs.FileMode) error {
	return nil
}

// fakeAction is every test action: its kind decides what Run does to the
// fake cluster.
type fakeAction struct {
	kind string
	To   string `yaml:"to"`
	Msg  string `yaml:"msg"`
	// flaky: the first Hang attempts wait until their ctx ends; a later one
	// succeeds. Own is the action's own bound (Bound).
	Hang int             `yaml:"hang"`
	Own  schema.Duration `yaml:"own"`
}

func (a *fakeAction) Kind() string { return a.kind }
func (a *fakeAction) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	d.Fields(n, a.kind, a, func(key string, v *yaml.Node) {
		switch key {
		case "to":
			a.To = d.String(v, "to")
		case "msg":
			a.Msg = d.String(v, "msg")
		case "hang":
			a.Hang = d.Int(v, "hang")
		case "own":
			a.Own = d.Duration(v, "own")
		}
	})
}
func (a *fakeAction) Plan(c *steps.PlanContext) (steps.Plan, error) {
	who := "the member"
	if c.Member != nil {
		who = c.Member.Name
	}
	p := steps.Plan{Text: a.kind + " " + who}
	if a.To != "" {
		p.Args = map[string]string{"to": a.To}
	}
	return p, nil
}
func (a *fakeAction) Bound() time.Duration { return time.Duration(a.Own) }

func (a *fakeAction) Critical() bool {
	switch a.kind {
	case "stop", "swap", "start", "block":
		return true
	}
	return false
}

func (a *fakeAction) Run(ctx context.Context, env *steps.Env) error {
	f := env.Cluster.(*fakeCluster)
	if a.kind == "slow" { // non-critical: gives up when its ctx ends
		f.blocked <- struct{}{}
		<-ctx.Done()
		return fmt.Errorf("gave up waiting: %v", ctx.Err())
	}
	if a.kind == "flaky" {
		f.mu.Lock()
		f.attempts++
		n := f.attempts
		f.mu.Unlock()
		if n <= a.Hang {
			<-ctx.Done()
			return fmt.Errorf("attempt %d saw no answer: %v", n, ctx.Err())
		}
		return nil
	}
	if a.kind == "block" {
		f.blocked <- struct{}{}
		<-f.block // a critical step ignores the soft cancel
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch a.kind {
	case "noop":
		return nil
	case "backup": // a verified backup, as far as the runner can tell
		m, err := fakeBackup(env.BackupDir)
		if err == nil && env.RecordBackup != nil {
			err = env.RecordBackup(m)
		}
		return err
	case "fail":
		return errors.New(a.Msg)
	case "move-leader":
		if f.leader == env.Member.Name {
			for _, m := range f.members {
				if m.name != env.Member.Name && m.running {
					f.leader = m.name
					break
				}
			}
		}
	case "stop":
		m := f.m(env.Member.Name)
		if m.running {
			f.stops = append(f.stops, m.name)
		}
		m.running = false
		f.electNewLeader()
	case "swap":
		m := f.m(env.Member.Name)
		if m.running {
			return fmt.Errorf("observed %s running; expected it stopped before a swap", m.name)
		}
		m.binary = a.To + ".1"
	case "start":
		m := f.m(env.Member.Name)
		m.running = true
		m.version = m.binary
		m.applied = f.committed
		if m.lagging {
			m.applied = f.committed / 2
		}
		f.starts = append(f.starts, m.name)
		if f.leader == "" {
			f.leader = m.name
		}
		if f.afterStart != nil {
			f.afterStart(f, m.name)
		}
	}
	return nil
}

// aheadSwap is the fake swap that reads ahead (steps.Prefetcher): its
// Prefetch notes whether the member was running, and its Run what it
// found of that.
type aheadSwap struct{ fakeAction }

func (*aheadSwap) Critical() bool { return true }

func (a *aheadSwap) Prefetch(ctx context.Context, env *steps.Env) {
	f := env.Cluster.(*fakeCluster)
	f.mu.Lock()
	running := f.m(env.Member.Name).running
	f.mu.Unlock()
	env.Ahead.Put("swap", fmt.Sprintf("read on %s while running=%t", env.Member.Name, running))
}

func (a *aheadSwap) Run(ctx context.Context, env *steps.Env) error {
	f := env.Cluster.(*fakeCluster)
	v, ok := env.Ahead.Take("swap")
	f.mu.Lock()
	f.readAhead = append(f.readAhead, fmt.Sprintf("%s found %v (%t)", env.Member.Name, v, ok))
	f.mu.Unlock()
	swap := a.fakeAction
	swap.kind = "swap"
	return swap.Run(ctx, env)
}

// fakeClusterID is the fake cluster's id, which backups must name.
const fakeClusterID = etcdprobe.ID(0xfeed)

// fakeBackup writes a snapshot file into dir and returns its manifest, as
// the backup step records it.
func fakeBackup(dir string) (steps.BackupManifest, error) {
	file := filepath.Join(dir, "snapshot.db")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return steps.BackupManifest{}, err
	}
	if err := os.WriteFile(file, []byte("fake snapshot"), 0o600); err != nil {
		return steps.BackupManifest{}, err
	}
	sum := sha256.Sum256([]byte("fake snapshot"))
	return steps.BackupManifest{Kind: "fake", Cluster: "fake", Member: "infra0", File: file, ClusterID: fakeClusterID.String(),
		Revision: 90, Size: int64(len("fake snapshot")), SHA256: hex.EncodeToString(sum[:])}, nil
}

func fakeRegistry() *steps.Registry {
	var kinds []steps.Kind
	for _, k := range []string{"noop", "fail", "move-leader", "stop", "swap", "start", "block", "slow", "flaky", "backup"} {
		k := k
		kinds = append(kinds, steps.Kind{Name: k, New: func() steps.Action { return &fakeAction{kind: k} }})
	}
	kinds = append(kinds, steps.Kind{Name: "ahead-swap", New: func() steps.Action { return &aheadSwap{fakeAction{kind: "ahead-swap"}} }})
	return steps.NewRegistry(kinds...)
}

const fakePlaybook = `playbook: fake 3.4 to 3.5
from: "3.4"
to: "3.5"
preflight:
  - noop: {}
  - backup: {}
members:
  order: leader-last
  steps:
    - move-leader: {}
    - stop: {}
    - swap: {to: "3.5"}
    - start: {}
    - name: only on a leader
      when: "member.isLeader"
      noop: {}
finish:
  - noop: {}
rollback:
  - stop: {}
  - swap: {to: "3.4"}
  - start: {}
`

const fakeInventory = `cluster: fake
binary: /usr/local/bin/etcd
service: {start: systemctl start etcd, stop: systemctl stop etcd}
members:
  - {name: infra0, host: h0, client: http://infra0:2379}
  - {name: infra1, host: h1, client: http://infra1:2379}
  - {name: infra2, host: h2, client: http://infra2:2379}
`

func loadFake(t *testing.T, playbook string) (*schema.Playbook, *schema.Inventory) {
	t.Helper()
	pb, err := schema.LoadPlaybook("pb.yaml", []byte(playbook), fakeRegistry())
	if err != nil {
		t.Fatal(err)
	}
	inv, err := schema.LoadInventory("inv.yaml", []byte(fakeInventory))
	if err != nil {
		t.Fatal(err)
	}
	return pb, inv
}

// fakeLocker records what happened to the lock.
type fakeLocker struct {
	mu       sync.Mutex
	held     *lock.Holder // another run's lock
	acquired int
	released int
	broken   int
	runIDs   []string // every Acquire's
}

// The real lock and its refusal satisfy the runner's interfaces.
var (
	_ Locker    = (*lock.V3Locker)(nil)
	_ Avoider   = (*lock.V3Locker)(nil)
	_ Locker    = (*lock.V2Locker)(nil)
	_ HeldError = (*lock.HeldError)(nil)
)

func (l *fakeLocker) Acquire(ctx context.Context, runID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runIDs = append(l.runIDs, runID)
	if l.held != nil {
		return &lock.HeldError{Cluster: "fake", Holder: l.held, Key: lock.Key("fake"), Expires: true}
	}
	l.acquired++
	return nil
}

func (l *fakeLocker) Check(context.Context) error { return nil }

func (l *fakeLocker) Release(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.released++
	return nil
}

func (l *fakeLocker) Break(ctx context.Context) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.broken++
	who := l.held.String()
	l.held = nil
	return who, nil
}

// harness is one test's runner wiring.
type harness struct {
	t      *testing.T
	fc     *fakeCluster
	locker *fakeLocker
	rec    *events.Recorder
	o      Options
}

func newHarness(t *testing.T, playbook string, fc *fakeCluster) *harness {
	t.Helper()
	pb, inv := loadFake(t, playbook)
	h := &harness{t: t, fc: fc, locker: &fakeLocker{}, rec: &events.Recorder{}}
	clock := time.Date(2026, 11, 21, 6, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	h.o = Options{
		Playbook: pb, Inventory: inv,
		PlaybookPath: "pb.yaml", InventoryPath: "inv.yaml",
		PlaybookDigest: "sha256:pb", InventoryDigest: "sha256:inv",
		Cluster: fc, Hosts: fakeHosts{}, Sink: h.rec,
		StateDir:  filepath.Join(t.TempDir(), "fake"),
		BackupDir: t.TempDir(),
		Locker:    h.locker,
		Now: func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			clock = clock.Add(time.Second)
			return clock
		},
		GateTimeout: 300 * time.Millisecond,
		Poll:        5 * time.Millisecond,
	}
	return h
}

// messages returns the messages of events of kind k.
func (h *harness) messages(k events.Kind) []string {
	var out []string
	for _, e := range h.rec.Events() {
		if e.Kind == k {
			out = append(out, e.Member+": "+e.Message)
		}
	}
	return out
}
