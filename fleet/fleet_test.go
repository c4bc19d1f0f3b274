package fleet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/schema"
)

func TestInventoriesExpandsFolders(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.yaml", "a.yml", "notes.txt", "sub/c.yaml"} {
		p := filepath.Join(dir, "fleet", n)
		os.MkdirAll(filepath.Dir(p), 0o700)
		os.WriteFile(p, []byte("cluster: x\n"), 0o600)
	}
	one := filepath.Join(dir, "one.yaml")
	os.WriteFile(one, []byte("cluster: y\n"), 0o600)

	files, several, err := Inventories([]string{one})
	if err != nil || several || !slices.Equal(files, []string{one}) {
		t.Errorf("one file: %v %v %v; want itself, not a fleet", files, several, err)
	}
	fleet := filepath.Join(dir, "fleet")
	files, several, err = Inventories([]string{fleet, one, filepath.Join(fleet, "a.yml")})
	want := []string{filepath.Join(fleet, "a.yml"), filepath.Join(fleet, "b.yaml"), one}
	if err != nil || !several || !slices.Equal(files, want) {
		t.Errorf("folder + file: %v %v %v; want %v (sorted, no subfolder, no .txt, a file named twice once)", files, several, err, want)
	}
	if _, _, err := Inventories([]string{filepath.Join(fleet, "sub", "..", "sub", "..")}); err != nil {
		t.Errorf("folder given through ..: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o700)
	if _, _, err := Inventories([]string{empty}); err == nil {
		t.Errorf("an empty folder is a fleet of nothing: want an error")
	}
}

// member is a fake run's members loop: it asks the fleet at each safe
// point (as runner.Options.Ask is asked) and stops when told.
func members(ctx context.Context, c Control, n int, each time.Duration) Outcome {
	for i := 0; i < n; i++ {
		if a, _ := c.Ask(ctx, runner.PausePoint{}); a == runner.Stop {
			return Outcome{Status: Interrupted, Code: exit.Interrupted, Reason: "stopped by the operator"}
		}
		time.Sleep(each)
	}
	return Outcome{Status: Succeeded}
}

func TestRunBoundsParallelAndKeepsOrder(t *testing.T) {
	var now, peak atomic.Int32
	var tasks []Task
	for _, name := range []string{"c1", "c2", "c3", "c4", "c5"} {
		tasks = append(tasks, Task{Cluster: name, Inventory: name + ".yaml", Run: func(ctx context.Context, c Control) Outcome {
			n := now.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			defer now.Add(-1)
			return members(ctx, c, 2, 5*time.Millisecond)
		}})
	}
	outs := Run(context.Background(), tasks, Options{Parallel: 2})
	if p := peak.Load(); p > 2 {
		t.Errorf("%d clusters ran at once; --parallel 2", p)
	}
	for i, o := range outs {
		if o.Cluster != tasks[i].Cluster || o.Inventory != tasks[i].Inventory || o.Status != Succeeded {
			t.Errorf("outcome %d: %+v; want %s succeeded, in the tasks' order", i, o, tasks[i].Cluster)
		}
	}
	if err := Err(outs); err != nil {
		t.Errorf("Err = %v; want nil when every cluster succeeded", err)
	}
}

func TestFailureStopsOnlyItsCluster(t *testing.T) {
	tasks := []Task{
		{Cluster: "good1", Run: func(ctx context.Context, c Control) Outcome { return members(ctx, c, 3, 10*time.Millisecond) }},
		{Cluster: "bad", Run: func(ctx context.Context, c Control) Outcome {
			return Outcome{Status: Failed, Code: exit.StepFailed, Reason: "host2 step 3 (swap) failed"}
		}},
		{Cluster: "good2", Run: func(ctx context.Context, c Control) Outcome { return members(ctx, c, 3, 10*time.Millisecond) }},
	}
	outs := Run(context.Background(), tasks, Options{Parallel: 2})
	got := []Status{outs[0].Status, outs[1].Status, outs[2].Status}
	if !slices.Equal(got, []Status{Succeeded, Failed, Succeeded}) {
		t.Errorf("statuses %v; want the failure to stop only its own cluster", got)
	}
	if code := exit.Code(Err(outs)); code != exit.StepFailed {
		t.Errorf("exit %d; want the failed cluster's %d", code, exit.StepFailed)
	}
}

func TestFailFastStopsOthersAtSafePoint(t *testing.T) {
	failed := make(chan struct{})
	var asked sync.Map
	tasks := []Task{
		{Cluster: "long", Run: func(ctx context.Context, c Control) Outcome {
			<-failed // the failure comes while this cluster is mid-way
			for i := 0; i < 200; i++ {
				asked.Store("long", i)
				if a, _ := c.Ask(ctx, runner.PausePoint{}); a == runner.Stop {
					return Outcome{Status: Interrupted, Code: exit.Interrupted, Reason: "stopped by the operator"}
				}
				time.Sleep(5 * time.Millisecond)
			}
			return Outcome{Status: Succeeded}
		}},
		{Cluster: "bad", Run: func(ctx context.Context, c Control) Outcome {
			return Outcome{Status: Failed, Code: exit.Refused, Reason: "preflight refused"}
		}},
		{Cluster: "later", Run: func(ctx context.Context, c Control) Outcome {
			t.Errorf("a cluster started after --fail-fast stopped the fleet")
			return Outcome{Status: Succeeded}
		}},
	}
	view := &recordView{onFinish: func(o Outcome) {
		if o.Cluster == "bad" {
			close(failed)
		}
	}}
	outs := Run(context.Background(), tasks, Options{Parallel: 2, FailFast: true, View: view})
	want := []Status{Stopped, Failed, NotStarted}
	if got := []Status{outs[0].Status, outs[1].Status, outs[2].Status}; !slices.Equal(got, want) {
		t.Fatalf("statuses %v; want %v", got, want)
	}
	if outs[0].Reason != "--fail-fast: bad failed" || outs[2].Reason != "--fail-fast: bad failed" {
		t.Errorf("reasons %q, %q; want each to name the cluster that failed", outs[0].Reason, outs[2].Reason)
	}
	if code := exit.Code(Err(outs)); code != exit.Refused {
		t.Errorf("exit %d; want the failed cluster's %d, not the stopped one's", code, exit.Refused)
	}
	if i, _ := asked.Load("long"); i.(int) > 1 {
		t.Errorf("the long cluster went on for %d safe points after the failure; want it to stop at the next", i)
	}
}

func TestInterruptStartsNoMore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	tasks := []Task{
		{Cluster: "c1", Run: func(ctx context.Context, c Control) Outcome {
			cancel() // the operator's Ctrl-C while c1 runs
			return Outcome{Status: Interrupted, Code: exit.Interrupted}
		}},
		{Cluster: "c2", Run: func(ctx context.Context, c Control) Outcome {
			t.Errorf("c2 started after Ctrl-C")
			return Outcome{}
		}},
	}
	outs := Run(ctx, tasks, Options{Parallel: 1})
	if outs[0].Status != Interrupted || outs[1].Status != NotStarted {
		t.Errorf("statuses %s, %s; want interrupted, not started", outs[0].Status, outs[1].Status)
	}
	if code := exit.Code(Err(outs)); code != exit.Interrupted {
		t.Errorf("exit %d; want %d", code, exit.Interrupted)
	}
}

type recordView struct {
	mu       sync.Mutex
	started  []string
	onFinish func(Outcome)
}

func (v *recordView) Started(c string) { v.mu.Lock(); v.started = append(v.started, c); v.mu.Unlock() }
func (v *recordView) Finished(o Outcome) {
	if v.onFinish != nil {
		v.onFinish(o)
	}
}

func TestFromRun(t *testing.T) {
	held := exit.New(exit.Locked, errors.New("cluster prod is locked by ops@laptop (run 20260101T000000Z-abc, pid 4242); wait for it, or use --break-lock\nmore"), "")
	tests := []struct {
		name   string
		res    *runner.Result
		err    error
		status Status
		code   int
		reason string
	}{
		{"done", &runner.Result{RunID: "r1", Outcome: runner.OutcomeSucceeded}, nil, Succeeded, 0, ""},
		{"one upgraded", &runner.Result{Outcome: runner.OutcomeSucceeded, Members: []runner.MemberResult{{Name: "a", State: "already on 3.6.16"}, {Name: "b", State: "upgraded"}}}, nil, Succeeded, 0, ""},
		// a second operator upgraded it between the fleet's look and this run
		{"upgraded meanwhile", &runner.Result{Outcome: runner.OutcomeSucceeded, Members: []runner.MemberResult{{Name: "a", State: "already on 3.6.16"}, {Name: "b", State: "already on 3.6.16"}}}, nil, Skipped, 0,
			"every member was already on the target when this run reached it: nothing to upgrade"},
		{"locked", &runner.Result{Outcome: runner.OutcomeLocked}, held, Skipped, 0, "cluster prod is locked by ops@laptop (run 20260101T000000Z-abc, pid 4242)"},
		{"nothing to resume", &runner.Result{RunID: "r1"}, runner.ErrNothingToResume, Skipped, 0, "run r1 finished: nothing to resume"},
		{"interrupted", &runner.Result{Outcome: runner.OutcomeInterrupted}, exit.New(exit.Interrupted, errors.New("interrupted at host2"), ""), Interrupted, exit.Interrupted, "interrupted at host2"},
		{"failed", &runner.Result{Outcome: runner.OutcomeFailed, Resume: "etcdplay resume -i a.yaml"}, exit.New(exit.StepFailed, errors.New("host2 swap failed"), ""), Failed, exit.StepFailed, "host2 swap failed"},
	}
	for _, tt := range tests {
		o := FromRun(tt.res, tt.err)
		if o.Status != tt.status || o.Code != tt.code || o.Reason != tt.reason {
			t.Errorf("%s: %s %d %q; want %s %d %q", tt.name, o.Status, o.Code, o.Reason, tt.status, tt.code, tt.reason)
		}
	}
}

func TestOnTarget(t *testing.T) {
	to := schema.Minor{Major: 3, Minor: 6}
	m := func(server string, up bool) etcdprobe.Member { return etcdprobe.Member{Server: server, Reachable: up} }
	tests := []struct {
		name string
		c    *etcdprobe.Cluster
		ok   bool
	}{
		{"all on 3.6", &etcdprobe.Cluster{Version: "3.6.0", Members: []etcdprobe.Member{m("3.6.16", true), m("3.6.16", true)}}, true},
		{"one on 3.5", &etcdprobe.Cluster{Version: "3.5.0", Members: []etcdprobe.Member{m("3.6.16", true), m("3.5.35", true)}}, false},
		{"servers on 3.6, cluster version not yet", &etcdprobe.Cluster{Version: "3.5.0", Members: []etcdprobe.Member{m("3.6.16", true)}}, false},
		{"one down", &etcdprobe.Cluster{Version: "3.6.0", Members: []etcdprobe.Member{m("3.6.16", true), m("", false)}}, false},
		{"no probe", nil, false},
	}
	for _, tt := range tests {
		why, ok := OnTarget(tt.c, to)
		if ok != tt.ok {
			t.Errorf("%s: %v (%q); want %v", tt.name, ok, why, tt.ok)
		}
		if ok && why != "already on 3.6 (servers 3.6.16)" {
			t.Errorf("%s: reason %q", tt.name, why)
		}
	}
}
