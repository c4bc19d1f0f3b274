//go:build bench

package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/playbooks"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/testbed"
)

var (
	flagReps      = flag.Int("bench.reps", 3, "runs of each way per cluster size")
	flagMembers   = flag.String("bench.members", "3,5", "cluster sizes")
	flagWays      = flag.String("bench.ways", "etcdplay,bash,ansible", "ways to upgrade, run in alternation")
	flagBigMB     = flag.Int("bench.big-mb", 200, "data in the cluster for the fixed-wait comparison (0 skips it)")
	flagFixedWait = flag.Duration("bench.fixed-wait", 2*time.Minute, "the 2.x guides' fixed wait between members (shorter: a quicker, labelled variant)")
	flagOut       = flag.String("bench.out", "", "folder for results.json and results.md (default: only the test log)")
	flagBin       = flag.String("bench.etcdplay", "", "an etcdplay binary to measure instead of building ../cmd/etcdplay (e.g. an older build, to compare)")
	flagTimeline  = flag.Bool("bench.timeline", false, "log each etcdplay run's timeline: its events beside each member's stop, start and /health seen from outside (also timeline-*.txt in the output folder)")
	flagRender    = flag.String("bench.render", "", "render an earlier session's results.json again (tables and targets) instead of measuring")
)

var etcdplayBin string

// Result is one upgrade by one way.
type Result struct {
	Way     string `json:"way"`
	Members int    `json:"members"`
	Rep     int    `json:"rep"`
	// WallMS is the whole command; EtcdMS the time inside etcd (each
	// member's stop, from SIGTERM to its process gone, plus its start, from
	// the new process to /health true); DowntimeMS each member's SIGTERM
	// to /health true; GapMS the largest downtime minus that member's
	// etcd time (what the tool adds while a member is down).
	WallMS     int64   `json:"wall_ms"`
	EtcdMS     int64   `json:"etcd_ms"`
	DowntimeMS []int64 `json:"downtime_ms"`
	GapMS      int64   `json:"gap_ms"`
	TransferMS int64   `json:"transfer_ms"`
	BackupMS   int64   `json:"backup_ms"`
	// ClusterWaitMS is etcd deciding the new cluster version: from the
	// last member's /health to /version saying the target, within the
	// command's run (a tool that does not wait for it spends none).
	ClusterWaitMS int64 `json:"cluster_wait_ms"`
	// OverheadMS is the tool's own time, measured the same way for all
	// three, with the accounting (docs/performance.md): the wall
	// time minus what etcd spends (EtcdMS, ClusterWaitMS), transfers and
	// backups. What a tool adds while a member is down counts, as do its
	// checks, gates and hand-off.
	OverheadMS    int64 `json:"overhead_ms"`
	SSH           int   `json:"ssh_connections"`
	LeaderChanges int   `json:"leader_changes"`
	AllFailed     int   `json:"all_endpoints_failed_writes"`
	AllStallMS    int64 `json:"all_endpoints_longest_stall_ms"`
	PinFailed     int   `json:"leader_pinned_failed_writes"`
	PinStallMS    int64 `json:"leader_pinned_longest_stall_ms"`
	// When, from the start of the command, the all-endpoints writer's
	// longest stall began and its failed writes were sent: to line them up
	// with the tool's steps or the members' logs.
	AllStallAtMS  int64   `json:"all_endpoints_stall_at_ms"`
	AllFailedAtMS []int64 `json:"all_endpoints_failed_at_ms,omitempty"`
	AllLastError  string  `json:"all_endpoints_last_error,omitempty"`
	// etcdplay only: its own report's overhead and its peak memory.
	ReportOverheadMS int64 `json:"report_overhead_ms,omitempty"`
	PeakRSSKB        int64 `json:"peak_rss_kb,omitempty"`
}

// TestBench is the benchmark; see doc.go and scripts/bench.sh.
func TestBench(t *testing.T) {
	if *flagRender != "" {
		rerender(t, *flagRender)
		return
	}
	testbed.RequireVersions(t)
	etcdplayBin = *flagBin
	if etcdplayBin == "" {
		etcdplayBin = buildEtcdplay(t)
	}
	var all []Result
	var sizes []int
	for _, s := range strings.Split(*flagMembers, ",") {
		var n int
		fmt.Sscan(s, &n)
		sizes = append(sizes, n)
	}
	ways := strings.Split(*flagWays, ",")
	if slices.Contains(ways, "ansible") {
		if _, err := exec.LookPath("ansible-playbook"); err != nil {
			t.Fatalf("ansible-playbook not found: scripts/bench.sh installs Debian's ansible, or pass -bench.ways=etcdplay,bash")
		}
	}
	for _, n := range sizes {
		for rep := 1; rep <= *flagReps; rep++ {
			for _, way := range ways {
				t.Run(fmt.Sprintf("%s-%dm-%d", way, n, rep), func(t *testing.T) {
					r := upgradeOnce(t, way, n, rep)
					t.Logf("%+v", r)
					all = append(all, r)
					appendRun(r)
				})
			}
		}
	}
	out := map[string]any{"runs": all, "summary": summarize(all), "targets": targets(all)}
	if *flagBigMB > 0 {
		out["fixed_wait_vs_gate"] = fixedWaitVsGate(t)
	}
	out["validate_ms"], out["plan_ms"] = toolTimings(t)
	md := render(out)
	t.Log("\n" + md)
	if *flagOut != "" {
		os.MkdirAll(*flagOut, 0o755)
		b, _ := json.MarshalIndent(out, "", "  ")
		os.WriteFile(filepath.Join(*flagOut, "results.json"), append(b, '\n'), 0o644)
		os.WriteFile(filepath.Join(*flagOut, "results.md"), []byte(md), 0o644)
	}
}

// appendRun keeps each run in runs.jsonl as soon as it is measured, so a
// benchmark stopped half-way still leaves its figures.
func appendRun(r Result) {
	if *flagOut == "" {
		return
	}
	os.MkdirAll(*flagOut, 0o755)
	f, err := os.OpenFile(filepath.Join(*flagOut, "runs.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	b, _ := json.Marshal(r)
	f.Write(append(b, '\n'))
}

func buildEtcdplay(t *testing.T) string {
	out := filepath.Join(t.TempDir(), "etcdplay")
	cmd := exec.Command("go", "build", "-o", out, "../cmd/etcdplay")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build etcdplay: %v\n%s", err, b)
	}
	return out
}

// upgradeOnce upgrades a fresh 3.5 cluster of n members to 3.6 one way,
// with both writers at work, and measures it from outside.
func upgradeOnce(t *testing.T, way string, n, rep int) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bed := testbed.StartT(t, testbed.Options{Version: "3.5", Members: n})
	if err := bed.WriteKeys(ctx, 100); err != nil {
		t.Fatal(err)
	}
	leader, err := bed.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sshBefore := sshAccepted(bed)
	mon := startMonitor(bed, "3.6")
	wAll, err := bed.StartWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wPin, err := bed.StartWriterOn(ctx, leader)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	var tr toolRun
	switch way {
	case "etcdplay":
		tr, err = runEtcdplay(ctx, t, bed, "3.5-to-3.6")
	case "bash":
		tr, err = runBash(ctx, t, bed)
	case "ansible":
		tr, err = runAnsible(ctx, t, bed, leader)
	default:
		t.Fatalf("unknown way %q", way)
	}
	wall := time.Since(t0)
	t1 := time.Now()
	time.Sleep(300 * time.Millisecond)
	sAll, sPin := wAll.Stop(), wPin.Stop()
	tracks := mon.stop()
	if err != nil {
		t.Fatal(err)
	}
	r := Result{Way: way, Members: n, Rep: rep, WallMS: wall.Milliseconds(),
		SSH: sshAccepted(bed) - sshBefore, AllFailed: sAll.Failed, AllStallMS: sAll.LongestStall.Milliseconds(),
		PinFailed: sPin.Failed, PinStallMS: sPin.LongestStall.Milliseconds(),
		TransferMS: tr.transfers.Milliseconds(), BackupMS: tr.backups.Milliseconds(), PeakRSSKB: tr.peakRSSKB,
		AllStallAtMS: sAll.StallStart.Sub(t0).Milliseconds(), AllLastError: sAll.LastError}
	for _, f := range sAll.FailedAt {
		r.AllFailedAtMS = append(r.AllFailedAtMS, f.Sub(t0).Milliseconds())
	}
	if tr.report != nil {
		r.ReportOverheadMS = tr.report["overhead_ms"]
	}
	terms, before := map[int]bool{}, 0
	sigterms := map[string]time.Time{}
	for i, h := range bed.Hosts {
		sig, ts, b := etcdLog(h, t0, t1)
		sigterms[h.Name] = sig
		before = max(before, b)
		for k := range ts {
			terms[k] = true
		}
		tk := tracks[i]
		if sig.IsZero() || tk.gone.IsZero() || tk.back.IsZero() || tk.healthy.IsZero() {
			t.Errorf("%s: restart not fully observed (signal %v, gone %v, back %v, healthy %v)", h.Name, sig, tk.gone, tk.back, tk.healthy)
			continue
		}
		etcd := tk.gone.Sub(sig) + tk.healthy.Sub(tk.back)
		d := tk.healthy.Sub(sig)
		r.EtcdMS += etcd.Milliseconds()
		r.DowntimeMS = append(r.DowntimeMS, d.Milliseconds())
		r.GapMS = max(r.GapMS, (d - etcd).Milliseconds())
	}
	for k := range terms {
		if k > before {
			r.LeaderChanges++
		}
	}
	var lastHealthy time.Time
	for _, tk := range tracks {
		if tk.healthy.After(lastHealthy) {
			lastHealthy = tk.healthy
		}
	}
	if !mon.clusterAt.IsZero() && !lastHealthy.IsZero() {
		end := mon.clusterAt
		if done := t0.Add(wall); done.Before(end) {
			end = done // the tool did not wait for it
		}
		r.ClusterWaitMS = max(0, end.Sub(lastHealthy).Milliseconds())
	}
	r.OverheadMS = (wall - time.Duration(r.EtcdMS+r.ClusterWaitMS)*time.Millisecond - tr.transfers - tr.backups).Milliseconds()
	if *flagTimeline && tr.events != nil {
		tl := timeline(t0, tr.events, tracks, sigterms)
		t.Logf("timeline of %s, %d members, run %d:\n%s", way, n, rep, tl)
		writeTimeline(fmt.Sprintf("%s-%dm-%d", way, n, rep), tl)
	}
	for i := range bed.Hosts {
		if v, err := testbed.ServerVersion(ctx, bed.Hosts[i].ClientURL); err != nil || !strings.HasPrefix(v.Server, "3.6.") {
			t.Errorf("%s after the upgrade: %+v %v", bed.Hosts[i].Name, v, err)
		}
	}
	return r
}

// stat is a median with its spread.
type stat struct {
	Median, Min, Max int64
}

func statOf(xs []int64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return stat{Median: s[len(s)/2], Min: s[0], Max: s[len(s)-1]}
}

func (s stat) ms() string {
	if s.Min == s.Max {
		return fmt.Sprintf("%d", s.Median)
	}
	return fmt.Sprintf("%d (%d–%d)", s.Median, s.Min, s.Max)
}

// Summary is the medians of one way on one size.
type Summary struct {
	Way     string          `json:"way"`
	Members int             `json:"members"`
	Runs    int             `json:"runs"`
	Stats   map[string]stat `json:"stats"`
}

func summarize(rs []Result) []Summary {
	groups := map[string][]Result{}
	var keys []string
	for _, r := range rs {
		k := fmt.Sprintf("%d/%s", r.Members, r.Way)
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	var out []Summary
	for _, k := range keys {
		g := groups[k]
		col := func(f func(Result) int64) stat {
			var xs []int64
			for _, r := range g {
				xs = append(xs, f(r))
			}
			return statOf(xs)
		}
		s := Summary{Way: g[0].Way, Members: g[0].Members, Runs: len(g), Stats: map[string]stat{
			"wall_ms":     col(func(r Result) int64 { return r.WallMS }),
			"etcd_ms":     col(func(r Result) int64 { return r.EtcdMS }),
			"cluster_ms":  col(func(r Result) int64 { return r.ClusterWaitMS }),
			"downtime_ms": col(func(r Result) int64 { return statOf(r.DowntimeMS).Median }),
			"gap_ms":      col(func(r Result) int64 { return r.GapMS }),
			"transfer_ms": col(func(r Result) int64 { return r.TransferMS }),
			"backup_ms":   col(func(r Result) int64 { return r.BackupMS }),
			"overhead_ms": col(func(r Result) int64 { return r.OverheadMS }),
			"ssh":         col(func(r Result) int64 { return int64(r.SSH) }),
			"leader":      col(func(r Result) int64 { return int64(r.LeaderChanges) }),
			"all_failed":  col(func(r Result) int64 { return int64(r.AllFailed) }),
			"all_stall":   col(func(r Result) int64 { return r.AllStallMS }),
			"pin_failed":  col(func(r Result) int64 { return int64(r.PinFailed) }),
			"pin_stall":   col(func(r Result) int64 { return r.PinStallMS }),
			"report_oh":   col(func(r Result) int64 { return r.ReportOverheadMS }),
			"rss_kb":      col(func(r Result) int64 { return r.PeakRSSKB }),
		}}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b Summary) int { return cmp.Compare(a.Members, b.Members) })
	return out
}

// fixedWaitVsGate: a cluster holding >= big-mb, upgraded by etcdplay with
// the 2.x guides' fixed wait after each member, and another with only the
// caught-up gate. The figure is the time from a member's restart (its
// ssh-start done) to the next member's stop, and the writer's stall.
func fixedWaitVsGate(t *testing.T) map[string]any {
	src, _, err := playbooks.Read("3.5-to-3.6")
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "      wait: {for: caught-up}\n"
	if !bytes.Contains(src, []byte(anchor)) {
		t.Fatalf("3.5-to-3.6 no longer has %q", anchor)
	}
	fixed := bytes.Replace(src, []byte(anchor), []byte(anchor+
		fmt.Sprintf("    - name: \"The 2.x guides' fixed wait\"\n      wait: {duration: %s}\n", *flagFixedWait)), 1)
	out := map[string]any{"data_mb": *flagBigMB, "fixed_wait": flagFixedWait.String()}
	for _, c := range []struct {
		name string
		pb   []byte
	}{{"caught-up gate", src}, {"fixed wait", fixed}} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			defer cancel()
			bed := testbed.StartT(t, testbed.Options{Version: "3.5"})
			fill(ctx, t, bed, *flagBigMB)
			pb := filepath.Join(t.TempDir(), "pb.yaml")
			os.WriteFile(pb, c.pb, 0o644)
			w, err := bed.StartWriter(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			tr, err := runEtcdplay(ctx, t, bed, pb)
			wall := time.Since(t0)
			st := w.Stop()
			if err != nil {
				t.Fatal(err)
			}
			gaps := restartToNextStop(tr.events)
			t.Logf("%s: wall %v, restart to next stop %v, writer %v", c.name, wall, gaps, st)
			out[c.name] = map[string]any{"wall_ms": wall.Milliseconds(), "restart_to_next_stop_ms": gaps,
				"writer_failed": st.Failed, "writer_longest_stall_ms": st.LongestStall.Milliseconds()}
		})
	}
	return out
}

// fill writes mb MB of 1 MB values.
func fill(ctx context.Context, t *testing.T, bed *testbed.Cluster, mb int) {
	cli, err := bed.Client()
	if err != nil {
		t.Fatal(err)
	}
	val := make([]byte, 1<<20)
	rand.Read(val)
	start := time.Now()
	for i := 0; i < mb; i++ {
		val[0] = byte(i)
		pctx, c := context.WithTimeout(ctx, 30*time.Second)
		_, err := cli.Put(pctx, fmt.Sprintf("/bench/big/%04d", i), string(val))
		c()
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %d MB in %v", mb, time.Since(start).Round(time.Millisecond))
}

// restartToNextStop reads etcdplay's events: from each member's ssh-start
// done to the next member's ssh-stop start.
func restartToNextStop(evs []byte) []int64 {
	var out []int64
	var started time.Time
	sc := bufio.NewScanner(bytes.NewReader(evs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e events.Event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		switch {
		case e.Kind == events.StepDone && e.Action == "ssh-start":
			started = e.Time
		case e.Kind == events.StepStart && e.Action == "ssh-stop" && !started.IsZero():
			out = append(out, e.Time.Sub(started).Milliseconds())
		}
	}
	return out
}

// toolTimings: validate of every shipped playbook, and a live plan.
func toolTimings(t *testing.T) (validate, plan stat) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	files, _ := filepath.Glob("../playbooks/*.yaml")
	home := t.TempDir()
	timeIt := func(args ...string) stat {
		var xs []int64
		for range 5 {
			cmd := exec.CommandContext(ctx, etcdplayBin, args...)
			cmd.Env = cleanEnv(home)
			t0 := time.Now()
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("etcdplay %s: %v\n%s", strings.Join(args, " "), err, tail(string(b)))
			}
			xs = append(xs, time.Since(t0).Milliseconds())
		}
		return statOf(xs)
	}
	validate = timeIt(append([]string{"validate"}, files...)...)
	bed := testbed.StartT(t, testbed.Options{Version: "3.5"})
	plan = timeIt("plan", "3.5-to-3.6", "-i", bed.InventoryPath)
	return
}

// render writes the tables of the README's "Performance" section.
func render(out map[string]any) string {
	var b strings.Builder
	b.WriteString("| members | way | runs | wall s | in etcd s | cluster version wait ms | downtime/member ms | tool gap while down ms | transfers ms | backups ms | overhead ms | SSH conns | leader changes | all-endpoints writer: failed / stall ms | leader-pinned writer: failed / stall ms |\n")
	b.WriteString("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|\n")
	sums, _ := out["summary"].([]Summary)
	for _, s := range sums {
		st := s.Stats
		fmt.Fprintf(&b, "| %d | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s |\n",
			s.Members, s.Way, s.Runs, secs(st["wall_ms"]), secs(st["etcd_ms"]), st["cluster_ms"].ms(), st["downtime_ms"].ms(), st["gap_ms"].ms(),
			st["transfer_ms"].ms(), st["backup_ms"].ms(), st["overhead_ms"].ms(), st["ssh"].ms(), st["leader"].ms(),
			st["all_failed"].ms(), st["all_stall"].ms(), st["pin_failed"].ms(), st["pin_stall"].ms())
	}
	b.WriteString("\nMedian (min–max). ")
	for _, s := range sums {
		if s.Way == "etcdplay" {
			fmt.Fprintf(&b, "etcdplay on %d members: its report's own overhead %s ms, peak memory %s KB. ",
				s.Members, s.Stats["report_oh"].ms(), s.Stats["rss_kb"].ms())
		}
	}
	b.WriteString("\n")
	if fw, ok := out["fixed_wait_vs_gate"].(map[string]any); ok {
		fmt.Fprintf(&b, "\nWith %v MB in the cluster (fixed wait %v):\n\n| between members | restart to next stop ms | wall ms | writer failed / longest stall ms |\n|---|---|--:|---|\n", fw["data_mb"], fw["fixed_wait"])
		for _, k := range []string{"caught-up gate", "fixed wait"} {
			if m, ok := fw[k].(map[string]any); ok {
				fmt.Fprintf(&b, "| %s | %v | %v | %v / %v |\n", k, m["restart_to_next_stop_ms"], m["wall_ms"], m["writer_failed"], m["writer_longest_stall_ms"])
			}
		}
	}
	if v, ok := out["validate_ms"].(stat); ok {
		fmt.Fprintf(&b, "\n`etcdplay validate` of every shipped playbook: %s ms; live `plan`: %s ms (median of 5).\n",
			v.ms(), out["plan_ms"].(stat).ms())
	}
	ts, _ := out["targets"].([]Target)
	b.WriteString(renderTargets(ts))
	return b.String()
}

// rerender reads a results.json an earlier session wrote and renders it
// again with today's summary and targets, so older figures can be judged
// the same way without measuring them again.
func rerender(t *testing.T, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		Runs       []Result       `json:"runs"`
		FixedWait  map[string]any `json:"fixed_wait_vs_gate"`
		ValidateMS *stat          `json:"validate_ms"`
		PlanMS     *stat          `json:"plan_ms"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(in.Runs) == 0 {
		t.Fatalf("%s holds no runs", path)
	}
	out := map[string]any{"summary": summarize(in.Runs), "targets": targets(in.Runs)}
	if in.FixedWait != nil {
		out["fixed_wait_vs_gate"] = in.FixedWait
	}
	if in.ValidateMS != nil && in.PlanMS != nil {
		out["validate_ms"], out["plan_ms"] = *in.ValidateMS, *in.PlanMS
	}
	t.Log("\n" + render(out))
}

func secs(s stat) string {
	f := func(ms int64) string { return fmt.Sprintf("%.1f", float64(ms)/1000) }
	if s.Min == s.Max {
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
}
