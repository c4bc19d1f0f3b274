//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/internal/shell"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/testbed"
)

// fleetKeys is what each cluster of a fleet holds: the machine has two
// cores and a fleet test runs three clusters at once.
const fleetKeys = 300

// fleetRun is one finished fleet command.
type fleetRun struct {
	name           string
	code           int
	stdout, stderr string
}

// fleetSummary is the last line of a fleet's -o json stream.
type fleetSummary struct {
	Kind     string `json:"kind"`
	OK       bool   `json:"ok"`
	Clusters []struct {
		Cluster string `json:"cluster"`
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		RunID   string `json:"run_id"`
	} `json:"clusters"`
}

// startFleetCommand starts etcdplay ARGS as one "operator" of a fleet (its
// own HOME and state folder: another machine); wait returns how it ended.
func startFleetCommand(ctx context.Context, t *testing.T, name string, home string, args ...string) (wait func() fleetRun) {
	t.Helper()
	return startFleetCommandOn(ctx, t, name, home, false, args...)
}

// startFleetCommandOn is startFleetCommand; with tty, etcdplay runs on a
// pseudo-terminal (util-linux script), which merges stdout and stderr.
func startFleetCommandOn(ctx context.Context, t *testing.T, name string, home string, tty bool, args ...string) (wait func() fleetRun) {
	t.Helper()
	cmd := exec.CommandContext(ctx, etcdplayBin, args...)
	if tty {
		cmd = exec.CommandContext(ctx, "script", "-qefc", shell.Join(append([]string{etcdplayBin}, args...)...), "/dev/null")
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "HOME" && k != "SSH_AUTH_SOCK" {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+home, "NO_COLOR=1", "TERM=xterm")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	t.Logf("[%s] $ etcdplay %s", name, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() fleetRun {
		err := cmd.Wait()
		r := fleetRun{name: name, stdout: out.String(), stderr: errb.String()}
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee) && ee.Exited():
			r.code = ee.ExitCode()
		default:
			t.Fatalf("[%s] etcdplay: %v\n%s", name, err, r.stderr)
		}
		t.Logf("[%s] exit %d", name, r.code)
		return r
	}
}

// stopsPerMember counts, over the events.jsonl of every state folder
// given, how many times each member of each cluster had its ssh-stop
// started: an upgrade stops each member exactly once.
func stopsPerMember(t *testing.T, stateDirs ...string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, sd := range stateDirs {
		files, _ := filepath.Glob(filepath.Join(sd, "*", "events.jsonl"))
		for _, f := range files {
			cluster := filepath.Base(filepath.Dir(f))
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(fh)
			sc.Buffer(make([]byte, 1<<20), 4<<20)
			for sc.Scan() {
				var e events.Event
				if json.Unmarshal(sc.Bytes(), &e) == nil && e.Kind == events.StepStart && e.Action == "ssh-stop" {
					n[cluster+"/"+e.Member]++
				}
			}
			fh.Close()
		}
	}
	return n
}

// copyInventory puts the bed's inventory (absolute paths only) into a
// fleet folder under name.
func copyInventory(t *testing.T, c *testbed.Cluster, dir, name string) {
	t.Helper()
	b, err := os.ReadFile(c.InventoryPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFleet_ThreeClusters_TwoOperators_3_5_to_3_6 upgrades a fleet of
// three 3.5 clusters to 3.6. Operator A runs the whole fleet folder with
// --parallel 2; at the same moment operator B, on "another machine" (its
// own HOME and state folder), runs a folder holding two of the same
// clusters, in the other order. No coordinator: each cluster's lock in
// the cluster decides. Every cluster ends on 3.6 upgraded exactly once
// (one operator says succeeded, the other skipped with its reason), no
// member is stopped twice, and A ran two clusters at once.
func TestFleet_ThreeClusters_TwoOperators_3_5_to_3_6(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	var clusters []*testbed.Cluster
	for i := 0; i < 3; i++ {
		clusters = append(clusters, startBed(ctx, t, "3.5", fleetKeys))
	}
	root := t.TempDir()
	all, some := filepath.Join(root, "fleet"), filepath.Join(root, "some")
	for _, d := range []string{all, some, filepath.Join(root, "homeA"), filepath.Join(root, "homeB")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range clusters {
		copyInventory(t, c, all, string(rune('a'+i))+".yaml")
	}
	// B's folder: the last two clusters. B starts with the second, as A
	// does (--parallel 2): both reach for its lock at the same moment, and
	// one of them must be refused by it.
	copyInventory(t, clusters[1], some, "1.yaml")
	copyInventory(t, clusters[2], some, "2.yaml")

	// The read-only commands take the folder too.
	st := startFleetCommand(ctx, t, "status", filepath.Join(root, "homeA"), "status", "-i", all, "-o", "json")()
	var statuses []map[string]any
	if err := json.Unmarshal([]byte(st.stdout), &statuses); err != nil || st.code != 0 || len(statuses) != 3 {
		t.Fatalf("status -i FOLDER -o json: exit %d, %d clusters (%v)\n%s", st.code, len(statuses), err, st.stderr)
	}
	pl := startFleetCommand(ctx, t, "plan", filepath.Join(root, "homeA"), "plan", "3.5-to-3.6", "-i", all, "--offline")()
	for _, c := range clusters {
		if pl.code != 0 || !strings.Contains(pl.stdout, "== cluster "+c.Name) {
			t.Fatalf("plan -i FOLDER --offline: exit %d, no plan for %s\n%s%s", pl.code, c.Name, pl.stdout, pl.stderr)
		}
	}

	stateA, stateB := filepath.Join(root, "stateA"), filepath.Join(root, "stateB")
	waitA := startFleetCommand(ctx, t, "A", filepath.Join(root, "homeA"), "run", "3.5-to-3.6", "-i", all, "--parallel", "2",
		"--state-dir", stateA, "--backup-dir", filepath.Join(root, "backupsA"), "-o", "json")
	_, noScript := exec.LookPath("script")
	if noScript != nil {
		t.Log("no script(1): B runs without a terminal")
	}
	waitB := startFleetCommandOn(ctx, t, "B", filepath.Join(root, "homeB"), noScript == nil, "run", "3.5-to-3.6", "-i", some,
		"--state-dir", stateB, "--backup-dir", filepath.Join(root, "backupsB"))
	var a, b fleetRun
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a = waitA() }()
	go func() { defer wg.Done(); b = waitB() }()
	wg.Wait()
	t.Logf("[B] output:\n%q", lastLines(b.stdout, 12))
	if noScript == nil {
		// On a terminal: B's two clusters are one block of two lines,
		// rewritten in place (cursor up 2), never plain milestone lines.
		if !strings.Contains(b.stdout, "\x1b[2A\r\x1b[2K") {
			t.Errorf("B on a terminal never rewrote its two-line block in place")
		}
		if strings.Contains(b.stdout, ": started") {
			t.Errorf("B on a terminal printed plain milestone lines")
		}
	}
	if a.code != 0 || b.code != 0 {
		t.Fatalf("exit A %d, B %d; want 0 and 0 (succeeded or skipped everywhere)\nA: %s\nB: %s", a.code, b.code, lastLines(a.stderr, 20), lastLines(b.stderr+b.stdout, 30))
	}

	// A's stream: every event names its cluster; the last line is the summary.
	lines := strings.Split(strings.TrimSpace(a.stdout), "\n")
	var sum fleetSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum.Kind != "fleet-summary" {
		t.Fatalf("A's last line is not the fleet summary: %q (%v)", lines[len(lines)-1], err)
	}
	running, overlap := map[string]bool{}, false
	for _, l := range lines[:len(lines)-1] {
		var e events.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("A printed a line that is not an event: %q", l)
		}
		c, _ := e.Fields["cluster"].(string)
		if c == "" {
			t.Fatalf("A's event has no cluster field: %q", l)
		}
		switch e.Kind {
		case events.RunStart:
			running[c] = true
			if len(running) > 1 {
				overlap = true
			}
		case events.RunDone, events.RunFailed, events.Interrupted:
			delete(running, c)
		}
	}
	if !overlap {
		t.Errorf("A (--parallel 2) never had two clusters running at once")
	}

	// Each cluster: succeeded for exactly one operator, skipped with a
	// reason for the other (B's table: CLUSTER STATUS ...).
	status := map[string][]string{}
	lockSkips := strings.Count(b.stdout, " is locked by ")
	for _, c := range sum.Clusters {
		status[c.Cluster] = append(status[c.Cluster], "A "+c.Status)
		if c.Status == "skipped" && c.Reason == "" {
			t.Errorf("A skipped %s without a reason", c.Cluster)
		}
		if strings.Contains(c.Reason, " is locked by ") {
			lockSkips++
		}
		t.Logf("[A] %s: %s %s", c.Cluster, c.Status, c.Reason)
	}
	if lockSkips == 0 {
		t.Errorf("no cluster was skipped for its lock; both operators started %s at once, so one must have been", clusters[1].Name)
	}
	for _, l := range strings.Split(b.stdout, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && strings.HasPrefix(f[0], "bed-") {
			status[f[0]] = append(status[f[0]], "B "+f[1])
		}
	}
	for _, c := range clusters {
		won := 0
		for _, s := range status[c.Name] {
			if strings.HasSuffix(s, " succeeded") {
				won++
			} else if !strings.HasSuffix(s, " skipped") {
				t.Errorf("%s: %s; want succeeded or skipped", c.Name, s)
			}
		}
		if won != 1 {
			t.Errorf("%s: %v; want exactly one operator to have upgraded it", c.Name, status[c.Name])
		}
	}
	stops := stopsPerMember(t, stateA, stateB)
	for _, c := range clusters {
		for _, h := range c.Hosts {
			if n := stops[c.Name+"/"+h.Name]; n != 1 {
				t.Errorf("%s/%s was stopped %d times over both operators; want once", c.Name, h.Name, n)
			}
		}
	}
	for _, c := range clusters {
		requireVersions(ctx, t, c, release(t, "3.6"), "3.6.0")
		requireKeys(ctx, t, c)
	}
}

// TestFleet_FailFast_3_5_to_3_6: two clusters at once with --fail-fast;
// one's inventory names, as its 3.6 release, a binary that prints 3.5, so
// its preflight refuses within seconds. The other cluster, mid-way, stops
// at its next safe point, between members: none of its members is left
// stopped or half-way, its run is journaled as interrupted, and the fleet
// exits with the refused cluster's code. `resume` over the same folder
// finishes the stopped cluster and refuses the other again, on its own.
func TestFleet_FailFast_3_5_to_3_6(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	good := startBed(ctx, t, "3.5", fleetKeys)
	bad := startBed(ctx, t, "3.5", fleetKeys)
	v35, v36 := release(t, "3.5"), release(t, "3.6")
	ob := newOperator(t, bad)
	badInv := ob.editInventory("inventory-wrong-release.yaml", func(inv map[string]any) {
		old := inv["releases"].(map[string]any)[v35].(map[string]any)["remote"].(string)
		setRelease(inv, v36, old)
	})

	root := t.TempDir()
	dir := filepath.Join(root, "fleet")
	home := filepath.Join(root, "home")
	for _, d := range []string{dir, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	copyInventory(t, good, dir, "1-good.yaml")
	b, err := os.ReadFile(badInv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "2-bad.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(root, "state")
	before := pids(good)
	r := startFleetCommand(ctx, t, "fleet", home, "run", "3.5-to-3.6", "-i", dir, "--parallel", "2", "--fail-fast",
		"--state-dir", state, "--backup-dir", filepath.Join(root, "backups"), "-o", "markdown")()
	t.Logf("summary (-o markdown):\n%s", r.stdout)
	t.Logf("progress:\n%s", lastLines(r.stderr, 30))
	if r.code != exitPreflight {
		t.Fatalf("exit %d; want %d, the refused cluster's", r.code, exitPreflight)
	}
	for _, want := range []string{"| " + good.Name + " | `", " | stopped | ", " | failed | ", "--fail-fast: " + bad.Name + " failed", "etcdplay resume -i "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the markdown summary lacks %q", want)
		}
	}
	// Between members: every member of the stopped cluster runs and is
	// healthy, on 3.5 or already on 3.6, none stopped twice.
	after := pids(good)
	upgraded := 0
	for i, h := range good.Hosts {
		if after[i] == 0 {
			t.Errorf("%s of the stopped cluster is down: --fail-fast must stop between members", h.Name)
			continue
		}
		v, err := good.ServerVersion(ctx, i)
		if err != nil {
			t.Errorf("%s: %v", h.Name, err)
			continue
		}
		switch {
		case v.Server == v36 && after[i] != before[i]:
			upgraded++
		case v.Server == v35 && after[i] == before[i]:
		default:
			t.Errorf("%s: server %s, pid %d before, %d after; want untouched on 3.5 or upgraded", h.Name, v.Server, before[i], after[i])
		}
	}
	t.Logf("%s stopped at a safe point with %d of %d members upgraded", good.Name, upgraded, len(good.Hosts))
	requireHealthy(ctx, t, good)

	// `resume` over the same folder: the stopped cluster's run goes on
	// where it stopped; the broken one fails again, on its own.
	rs := startFleetCommand(ctx, t, "resume", home, "resume", "-i", dir, "--state-dir", state,
		"--backup-dir", filepath.Join(root, "backups"), "-o", "json")()
	lines := strings.Split(strings.TrimSpace(rs.stdout), "\n")
	var sum fleetSummary
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || len(sum.Clusters) != 2 {
		t.Fatalf("resume -i FOLDER: exit %d, no summary line (%v)\n%s", rs.code, err, lastLines(rs.stderr, 20))
	}
	got := map[string]string{}
	for _, c := range sum.Clusters {
		got[c.Cluster] = c.Status
		t.Logf("[resume] %s: %s %s (run %s)", c.Cluster, c.Status, clip(c.Reason, 100), c.RunID)
	}
	if got[good.Name] != "succeeded" || got[bad.Name] != "failed" || rs.code != exitPreflight {
		t.Errorf("resume -i FOLDER: %v, exit %d; want %s succeeded, %s failed, exit %d", got, rs.code, good.Name, bad.Name, exitPreflight)
	}
	requireVersions(ctx, t, good, v36, "3.6.0")
	requireKeys(ctx, t, good)
}
