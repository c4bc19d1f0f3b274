package fleet

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/internal/golden"
	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
)

// outcomes is a fleet that met every case: one upgraded, one whose lock
// another operator held, one failed, one --fail-fast stopped, one never
// started.
func outcomes() []Outcome {
	up := []runner.MemberResult{
		{Name: "infra0", State: "upgraded", Before: "3.5.35", After: "3.6.16"},
		{Name: "infra1", State: "upgraded (verified after resume)", Before: "3.5.35", After: "3.6.16"},
		{Name: "infra2", State: "already on 3.6.16", Before: "3.6.16", After: "3.6.16"},
	}
	half := []runner.MemberResult{
		{Name: "db0", State: "upgraded", Before: "3.5.35", After: "3.6.16"},
		{Name: "db1", State: "failed at step 3 (swap)", Before: "3.5.35"},
		{Name: "db2", State: "untouched", Before: "3.5.35"},
	}
	return []Outcome{
		{Cluster: "eu-1", Inventory: "fleet/eu-1.yaml", Status: Succeeded, RunID: "20260101T000000Z-aaaaaa",
			Report: ".etcdplay/eu-1/report.md", Members: up, Took: 92*time.Second + 400*time.Millisecond},
		{Cluster: "eu-2", Inventory: "fleet/eu-2.yaml", Status: Skipped,
			Reason: "cluster eu-2 is locked by run 20260101T000001Z-bbbbbb (ci@runner-7, pid 311)", Took: 800 * time.Millisecond},
		{Cluster: "us-1", Inventory: "fleet/us-1.yaml", Status: Failed, Code: 6, Reason: "db1 step 3 (swap): etcd --version printed 3.5.35: " + strings.Repeat("log line | ", 20),
			Resume: "etcdplay resume -i fleet/us-1.yaml", Rollback: "etcdplay rollback -i fleet/us-1.yaml --member db1", Members: half, Took: 41 * time.Second},
		{Cluster: "us-2", Inventory: "fleet/us-2.yaml", Status: Stopped, Code: 130, Reason: "--fail-fast: us-1 failed",
			Resume: "etcdplay resume -i fleet/us-2.yaml", Members: up[:1], Took: 30 * time.Second},
		{Cluster: "us-3", Inventory: "fleet/us-3.yaml", Status: NotStarted, Reason: "--fail-fast: us-1 failed"},
	}
}

func TestSummaryGoldens(t *testing.T) {
	var table, md, js bytes.Buffer
	if err := WriteTable(&table, outcomes()); err != nil {
		t.Fatal(err)
	}
	if err := WriteMarkdown(&md, outcomes()); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&js, outcomes(), time.Date(2026, 1, 1, 0, 1, 40, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/summary.golden", table.Bytes())
	golden.Check(t, "testdata/summary-markdown.golden", md.Bytes())
	golden.Check(t, "testdata/summary-json.golden", js.Bytes())
	if n := strings.Count(strings.TrimSpace(js.String()), "\n"); n != 0 {
		t.Errorf("the JSON summary is %d lines; want one, to end a JSON-lines stream", n+1)
	}
	var e events.Event
	if err := json.Unmarshal(js.Bytes(), &e); err != nil || e.Kind != "fleet-summary" {
		t.Errorf("the summary line does not read as an event of the stream: %v, kind %q", err, e.Kind)
	}
}

// feed plays one cluster's run into a sink, one second apart.
func feed(s events.Sink, clock *time.Time) {
	next := func(e events.Event) {
		*clock = clock.Add(time.Second)
		e.Time = *clock
		s.Emit(e)
	}
	next(events.Event{Kind: events.RunStart, Message: "run 3.5-to-3.6", Fields: map[string]any{"cluster": "eu-1"}})
	next(events.Event{Kind: events.PhaseStart, Phase: schema.PhasePreflight})
	next(events.Event{Kind: events.StepStart, Phase: schema.PhasePreflight, StepIndex: 4, Steps: 4, StepName: "backup", Action: "backup"})
	next(events.Event{Kind: events.StepDone, Phase: schema.PhasePreflight, StepIndex: 4, Steps: 4, StepName: "backup", Action: "backup"})
	next(events.Event{Kind: events.MemberStart, Phase: schema.PhaseMembers, Member: "infra0", Steps: 8,
		Fields: map[string]any{"server": "3.5.35", "target": "3.6"}})
	next(events.Event{Kind: events.StepStart, Phase: schema.PhaseMembers, Member: "infra0", StepIndex: 3, Steps: 8, StepName: "swap", Action: "swap"})
	next(events.Event{Kind: events.Warn, Member: "infra0", Message: "db size 120 MB: the guide advises extra care"})
	next(events.Event{Kind: events.MemberDone, Phase: schema.PhaseMembers, Member: "infra0", Message: "upgraded to 3.6.16"})
	next(events.Event{Kind: events.StepFailed, Phase: schema.PhaseMembers, Member: "infra1", StepIndex: 3, Steps: 8, StepName: "swap", Action: "swap",
		Message: "etcd --version printed 3.5.35\nsecond line"})
}

func TestProgressPlain(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	p := NewProgress(&b, []string{"eu-1", "us-1"}, ProgressOptions{Now: func() time.Time { return clock }})
	p.Started("eu-1")
	feed(p.Sink("eu-1"), &clock)
	p.Finished(outcomes()[0])
	p.Finished(outcomes()[2])
	p.Close()
	golden.Check(t, "testdata/progress-plain.golden", b.Bytes())
	if strings.ContainsAny(b.String(), "\r\x1b") {
		t.Errorf("plain progress holds carriage returns or escapes:\n%q", b.String())
	}
}

func TestProgressLive(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	p := NewProgress(&b, []string{"eu-1", "us-1-with-a-long-name"}, ProgressOptions{Live: true, NoTicker: true, Width: 60,
		Now: func() time.Time { return clock }})
	p.Started("eu-1")
	feed(p.Sink("eu-1"), &clock)
	p.Started("us-1-with-a-long-name")
	p.Finished(outcomes()[0])
	p.Close()
	golden.Check(t, "testdata/progress-live.golden", b.Bytes())
	// every redraw is the whole block: cursor up over it, then one line per cluster
	for _, frame := range strings.Split(b.String(), "\x1b[2A")[1:] {
		if n := strings.Count(frame, "\n"); n != 2 {
			t.Errorf("a redraw wrote %d lines; want 2 (one per cluster): %q", n, frame)
		}
	}
	for _, l := range strings.Split(b.String(), "\n") {
		if i := strings.LastIndex(l, "\x1b[2K"); i >= 0 && len([]rune(l[i+4:])) > 59 {
			t.Errorf("a live line is wider than the terminal (60): %q", l[i+4:])
		}
	}
}

func TestWithClusterAddsField(t *testing.T) {
	var rec events.Recorder
	orig := map[string]any{"server": "3.5.35"}
	WithCluster(&rec, "eu-1").Emit(events.Event{Kind: events.MemberStart, Fields: orig})
	got := rec.Events()[0].Fields
	if got["cluster"] != "eu-1" || got["server"] != "3.5.35" {
		t.Errorf("fields %v; want cluster added, the rest kept", got)
	}
	if _, ok := orig["cluster"]; ok {
		t.Errorf("the runner's own fields map was changed")
	}
}
