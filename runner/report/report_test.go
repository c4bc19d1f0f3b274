package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/internal/golden"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// script builds a run's events on a fake clock, the way the runner emits
// them.
type script struct {
	now time.Time
	evs []events.Event
}

func newScript() *script {
	return &script{now: time.Date(2026, 11, 21, 6, 12, 0, 0, time.UTC)}
}

func (s *script) emit(e events.Event) {
	e.Time, e.RunID = s.now, "20261121-0612-ab12"
	s.evs = append(s.evs, e)
}

func (s *script) run(kind events.Kind, msg string, fields map[string]any) {
	s.emit(events.Event{Kind: kind, Message: msg, Fields: fields})
}

// spentBy labels step events as the runner does (runner/spent.go).
var spentBy = map[string]events.Spent{
	"ssh-stop": events.SpentEtcdStop, "ssh-start": events.SpentEtcdStart, "wait": events.SpentCatchUp,
	"move-leader": events.SpentLeader, "swap": events.SpentSwap, "backup": events.SpentBackup,
	"health": events.SpentCheck, "assert-version": events.SpentCheck,
}

// step runs one step taking d: start, then done/skipped/failed.
func (s *script) step(phase schema.Phase, member string, i, n int, action string, d time.Duration, end events.Kind, msg string) {
	sp := spentBy[action]
	s.emit(events.Event{Kind: events.StepStart, Phase: phase, Member: member, StepIndex: i, Steps: n, StepName: action, Action: action, Spent: sp})
	s.now = s.now.Add(d)
	s.emit(events.Event{Kind: end, Phase: phase, Member: member, StepIndex: i, Steps: n, StepName: action, Action: action, Duration: d, Message: msg, Spent: sp})
	s.now = s.now.Add(40 * time.Millisecond) // the runner's own time between steps
}

// gate passes a safety gate taking d.
func (s *script) gate(member string, d time.Duration, sp events.Spent) {
	s.now = s.now.Add(d)
	s.emit(events.Event{Kind: events.Gate, Phase: schema.PhaseMembers, Member: member, Message: "safety gate passed", Duration: d, Spent: sp})
}

func (s *script) preflight() {
	s.run(events.RunStart, "", map[string]any{"playbook": "etcd 3.4 to 3.5"})
	s.emit(events.Event{Kind: events.PhaseStart, Phase: schema.PhasePreflight})
	s.step(schema.PhasePreflight, "", 1, 2, "health", 120*time.Millisecond, events.StepDone, "")
	s.step(schema.PhasePreflight, "", 2, 2, "backup", 3200*time.Millisecond, events.StepDone, "snapshot 12 MB, sha256 verified")
	for _, m := range members {
		s.now = s.now.Add(300 * time.Millisecond)
		s.emit(events.Event{Kind: events.Info, Phase: schema.PhasePreflight, Member: m, StepIndex: 3, Action: "swap",
			Message: "preflight check of the members step passed", Duration: 300 * time.Millisecond, Spent: events.SpentStaging})
	}
	s.emit(events.Event{Kind: events.PhaseStart, Phase: schema.PhaseMembers})
}

// upgrade runs a member's whole step list, all steps done.
func (s *script) upgrade(member string, leader bool) {
	s.emit(events.Event{Kind: events.MemberStart, Phase: schema.PhaseMembers, Member: member})
	if leader {
		s.step(schema.PhaseMembers, member, 1, 7, "move-leader", 800*time.Millisecond, events.StepDone, "leader moved to infra1")
	} else {
		s.step(schema.PhaseMembers, member, 1, 7, "move-leader", 0, events.StepSkipped, "not the leader")
	}
	s.gate(member, 20*time.Millisecond, events.SpentCheck)
	s.step(schema.PhaseMembers, member, 2, 7, "ssh-stop", 1300*time.Millisecond, events.StepDone, "")
	s.step(schema.PhaseMembers, member, 3, 7, "swap", 400*time.Millisecond, events.StepDone, "etcd 3.5.35 in place, 3.4.23 kept")
	s.step(schema.PhaseMembers, member, 4, 7, "ssh-start", 900*time.Millisecond, events.StepDone, "")
	s.step(schema.PhaseMembers, member, 5, 7, "wait", 2500*time.Millisecond, events.StepDone, "healthy")
	s.step(schema.PhaseMembers, member, 6, 7, "wait", 0, events.StepSkipped, "guard false: cluster.dbSize > 50 * MB")
	s.step(schema.PhaseMembers, member, 7, 7, "assert-version", 30*time.Millisecond, events.StepDone, "")
	s.gate(member, 60*time.Millisecond, events.SpentCatchUp)
	s.emit(events.Event{Kind: events.MemberDone, Phase: schema.PhaseMembers, Member: member})
}

var (
	members = []string{"infra1", "infra2", "infra0"}
	before  = map[string]string{"infra0": "3.4.23", "infra1": "3.4.23", "infra2": "3.4.23"}
	snap    = steps.BackupManifest{Kind: "v3-snapshot", Cluster: "prod-etcd", ClusterID: "cdf818194e3a8c32", Member: "infra0",
		File: "backups/prod-etcd/20261121T061200Z-ab12cd/snapshot.db", Revision: 48213, Keys: 1200,
		ServerVersion: "3.4.23", ClusterVersion: "3.4.0", Size: 12582912,
		SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Time:   time.Date(2026, 11, 21, 6, 12, 3, 0, time.UTC)}
	v2Backup = steps.BackupManifest{Kind: "v2-etcdctl-backup", Cluster: "prod-etcd", Member: "infra1",
		File: "backups/prod-etcd/20261121T061200Z-ab12cd/infra1.tar", Size: 2048,
		SHA256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
		Time:   time.Date(2026, 11, 21, 6, 12, 5, 0, time.UTC), RemoteDir: "/var/backups/etcd/infra1", WALFiles: 1}
)

func successRun() ([]events.Event, Extra) {
	s := newScript()
	s.preflight()
	s.upgrade("infra1", false)
	s.upgrade("infra2", false)
	s.upgrade("infra0", true)
	s.emit(events.Event{Kind: events.PhaseStart, Phase: schema.PhaseFinish})
	s.step(schema.PhaseFinish, "", 1, 2, "assert-version", 20*time.Millisecond, events.StepDone, "cluster 3.5.0")
	s.step(schema.PhaseFinish, "", 2, 2, "health", 90*time.Millisecond, events.StepDone, "")
	s.run(events.RunDone, "3 members upgraded", nil)
	after := map[string]string{"infra0": "3.5.35", "infra1": "3.5.35", "infra2": "3.5.35"}
	return s.evs, Extra{Cluster: "prod-etcd", Members: members, VersionsBefore: before, VersionsAfter: after,
		Backups: []steps.BackupManifest{snap}, JournalPath: ".etcdplay/prod-etcd/journal.jsonl"}
}

func failedRun() ([]events.Event, Extra) {
	s := newScript()
	s.preflight()
	s.upgrade("infra1", false)
	s.emit(events.Event{Kind: events.MemberStart, Phase: schema.PhaseMembers, Member: "infra2"})
	s.step(schema.PhaseMembers, "infra2", 1, 7, "move-leader", 0, events.StepSkipped, "not the leader")
	s.step(schema.PhaseMembers, "infra2", 2, 7, "ssh-stop", 1100*time.Millisecond, events.StepDone, "")
	s.step(schema.PhaseMembers, "infra2", 3, 7, "swap", 300*time.Millisecond, events.StepDone, "")
	s.step(schema.PhaseMembers, "infra2", 4, 7, "ssh-start", 2*time.Second, events.StepFailed,
		"systemctl start etcd: exit 1: etcd --password=hunter2: bind: address already in use")
	s.run(events.RunFailed, "infra2 failed at step 4 (ssh-start); run `etcdplay rollback -i prod.yaml` to put it back on 3.4.23", nil)
	after := map[string]string{"infra0": "3.4.23", "infra1": "3.5.35"}
	return s.evs, Extra{Cluster: "prod-etcd", Members: members, VersionsBefore: before, VersionsAfter: after,
		Backups: []steps.BackupManifest{snap, v2Backup}, JournalPath: ".etcdplay/prod-etcd/journal.jsonl"}
}

func interruptedRun() ([]events.Event, Extra) {
	s := newScript()
	s.run(events.RunStart, "resumed", map[string]any{"playbook": "etcd 3.4 to 3.5"})
	// infra1 was upgraded before the crash: resume finds it on the target
	s.emit(events.Event{Kind: events.MemberStart, Phase: schema.PhaseMembers, Member: "infra1"})
	for i, a := range []string{"move-leader", "ssh-stop", "swap", "ssh-start", "wait", "wait", "assert-version"} {
		s.emit(events.Event{Kind: events.StepSkipped, Phase: schema.PhaseMembers, Member: "infra1", StepIndex: i + 1, Steps: 7, Action: a, StepName: a, Message: "already on 3.5.35"})
	}
	s.emit(events.Event{Kind: events.MemberDone, Phase: schema.PhaseMembers, Member: "infra1"})
	s.emit(events.Event{Kind: events.MemberStart, Phase: schema.PhaseMembers, Member: "infra2"})
	s.step(schema.PhaseMembers, "infra2", 1, 7, "move-leader", 0, events.StepSkipped, "not the leader")
	s.emit(events.Event{Kind: events.StepStart, Phase: schema.PhaseMembers, Member: "infra2", StepIndex: 2, Steps: 7, StepName: "stop etcd", Action: "ssh-stop"})
	s.now = s.now.Add(700 * time.Millisecond)
	s.run(events.Interrupted, "interrupted by SIGINT; `etcdplay resume -i prod.yaml` continues", nil)
	return s.evs, Extra{Cluster: "prod-etcd", Members: members, VersionsBefore: map[string]string{"infra1": "3.5.35", "infra2": "3.4.23", "infra0": "3.4.23"}}
}

func TestGolden(t *testing.T) {
	for name, run := range map[string]func() ([]events.Event, Extra){
		"success": successRun, "failed": failedRun, "interrupted": interruptedRun,
	} {
		t.Run(name, func(t *testing.T) {
			evs, x := run()
			r := Build(evs, x)
			dir := t.TempDir()
			if err := r.WriteFiles(dir); err != nil {
				t.Fatal(err)
			}
			for _, file := range []string{MarkdownFile, JSONFile} {
				got, err := os.ReadFile(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				golden.Check(t, filepath.Join("testdata", name+"."+file), got)
				for _, secret := range []string{"hunter2", "client-key.pem"} {
					if bytes.Contains(got, []byte(secret)) {
						t.Errorf("%s holds the secret %q", file, secret)
					}
				}
			}
			// rendering is deterministic: a second build renders the same bytes
			again := Build(evs, x)
			if !bytes.Equal(again.Markdown(), r.Markdown()) {
				t.Error("two builds of the same events render differently")
			}
		})
	}
}

func TestTotalsAddUp(t *testing.T) {
	evs, x := successRun()
	r := Build(evs, x)
	tt := r.Totals
	// 3 members: ssh-stop 1.3s, ssh-start 0.9s, wait 2.5s and a 60ms gate,
	// swap 0.4s, a 20ms stop gate and a 30ms assert-version each; one
	// 0.8s leader move; a 3.2s backup; 0.3s staging per member.
	want := map[events.Spent]time.Duration{
		events.SpentEtcdStop: 3900 * time.Millisecond, events.SpentEtcdStart: 2700 * time.Millisecond,
		events.SpentCatchUp: 7680 * time.Millisecond, events.SpentSwap: 1200 * time.Millisecond,
		events.SpentLeader: 800 * time.Millisecond, events.SpentBackup: 3200 * time.Millisecond,
		events.SpentStaging: 900 * time.Millisecond,
		events.SpentCheck:   (120 + 3*20 + 3*30 + 20 + 90) * time.Millisecond,
	}
	var sum time.Duration
	for sp, d := range want {
		if tt.Of(sp) != d {
			t.Errorf("%s: %v, want %v", sp, tt.Of(sp), d)
		}
		sum += d
	}
	if tt.Total != r.Finished.Sub(r.Started) || tt.Overhead != tt.Total-sum {
		t.Errorf("total %v overhead %v, want total - %v", tt.Total, tt.Overhead, sum)
	}
	// the overhead left is the runner's time between steps: 40ms after each
	// of the 2 + 3*7 + 2 steps
	if tt.Overhead != 25*40*time.Millisecond {
		t.Errorf("overhead %v, want 1s", tt.Overhead)
	}
	// down from the stop's start to the healthy wait's end: stop 1.3s,
	// swap 0.4s, start 0.9s, wait 2.5s and the 40ms between each
	for _, m := range r.Members {
		if want := 5100*time.Millisecond + 3*40*time.Millisecond; m.Downtime != want {
			t.Errorf("%s down %v, want %v", m.Name, m.Downtime, want)
		}
	}
	if r.Result != Succeeded || r.Playbook != "etcd 3.4 to 3.5" {
		t.Errorf("result %q playbook %q", r.Result, r.Playbook)
	}
}

func TestMemberStates(t *testing.T) {
	cases := map[string]func() ([]events.Event, Extra){"failed": failedRun, "interrupted": interruptedRun}
	want := map[string]string{
		"failed":      "infra1=upgraded infra2=failed at step 4 (ssh-start) infra0=untouched",
		"interrupted": "infra1=skipped infra2=interrupted at step 2 (ssh-stop) infra0=untouched",
	}
	for name, run := range cases {
		evs, x := run()
		var got []string
		for _, m := range Build(evs, x).Members {
			got = append(got, m.Name+"="+m.State)
		}
		if strings.Join(got, " ") != want[name] {
			t.Errorf("%s: %s\nwant %s", name, strings.Join(got, " "), want[name])
		}
	}
}

func TestEmptyRun(t *testing.T) {
	r := Build(nil, Extra{Cluster: "c"})
	if r.Result != Incomplete || len(r.Members) != 0 {
		t.Errorf("%+v", r)
	}
	if md := string(r.Markdown()); !strings.Contains(md, "No member was reached.") {
		t.Error(md)
	}
	if _, err := r.JSON(); err != nil {
		t.Error(err)
	}
}

// A run the operator stopped mid-member and resumed ten minutes later: the
// member's "before" is the version the run first saw (not what the resume
// probed), its state is how it ended (verified after resume, not
// "interrupted"), and the ten minutes are the operator's, not overhead.
func TestReportAcrossInterruptAndResume(t *testing.T) {
	s := newScript()
	s.run(events.RunStart, "run etcd 3.4 to 3.5", map[string]any{"playbook": "etcd 3.4 to 3.5"})
	s.emit(events.Event{Kind: events.MemberStart, Phase: schema.PhaseMembers, Member: "infra1", Fields: map[string]any{"server": "3.4.23", "target": "3.5"}})
	s.step(schema.PhaseMembers, "infra1", 1, 4, "ssh-stop", time.Second, events.StepDone, "")
	s.emit(events.Event{Kind: events.StepStart, Phase: schema.PhaseMembers, Member: "infra1", StepIndex: 2, Steps: 4, StepName: "swap", Action: "swap"})
	s.now = s.now.Add(2 * time.Second)
	s.emit(events.Event{Kind: events.StepInterrupted, Phase: schema.PhaseMembers, Member: "infra1", StepIndex: 2, Steps: 4, StepName: "swap", Action: "swap", Duration: 2 * time.Second})
	s.run(events.Interrupted, "interrupted at member infra1, members step 2/4 (swap); resume with: etcdplay resume -i prod.yaml", nil)
	mid := s.evs
	s.now = s.now.Add(10 * time.Minute) // the operator looks around
	s.run(events.RunStart, "resume etcd 3.4 to 3.5", map[string]any{"playbook": "etcd 3.4 to 3.5"})
	s.now = s.now.Add(time.Second)
	s.emit(events.Event{Kind: events.MemberDone, Phase: schema.PhaseMembers, Member: "infra1", Message: "already on 3.5.35"})
	s.run(events.RunDone, "run done", nil)

	// as the resume sees it: infra1 already on 3.5
	x := Extra{Cluster: "prod-etcd", Members: []string{"infra1"},
		VersionsBefore: map[string]string{"infra1": "3.5.35"}, VersionsAfter: map[string]string{"infra1": "3.5.35"}}
	r := Build(s.evs, x)
	m := r.Members[0]
	if m.VersionBefore != "3.4.23" || m.State != "upgraded (verified after resume)" {
		t.Errorf("member %s: before %q state %q, want 3.4.23 and upgraded (verified after resume)", m.Name, m.VersionBefore, m.State)
	}
	if tl := m.Timeline; len(tl) != 2 || tl[1].Outcome != OutcomeInterrupted || tl[1].Duration != 2*time.Second {
		t.Errorf("timeline %+v: the swap was interrupted after 2s", tl)
	}
	if op := r.Totals.Of(events.SpentHuman); op != 10*time.Minute {
		t.Errorf("operator time %v, want the 10m between the stop and the resume", op)
	}
	if r.Totals.Overhead > 5*time.Second {
		t.Errorf("overhead %v: the pause was counted as the runner's time", r.Totals.Overhead)
	}
	// before the resume, the report says where the run stopped
	if st := Build(mid, x).Members[0].State; st != "interrupted at step 2 (swap)" {
		t.Errorf("state after the interruption %q", st)
	}
}

// Ctrl-C lands while a critical step runs: the step finishes (the runner
// never leaves a swap half done) and the run ends interrupted. The member
// was interrupted after that step, as the runner says, not "stopped".
func TestInterruptedAfterACriticalStep(t *testing.T) {
	s := newScript()
	s.run(events.RunStart, "run etcd 3.5 to 3.6", map[string]any{"playbook": "etcd 3.5 to 3.6"})
	s.emit(events.Event{Kind: events.MemberStart, Phase: schema.PhaseMembers, Member: "infra1", Fields: map[string]any{"server": "3.5.35", "target": "3.6"}})
	s.step(schema.PhaseMembers, "infra1", 1, 4, "ssh-stop", time.Second, events.StepDone, "")
	s.step(schema.PhaseMembers, "infra1", 2, 4, "swap", 200*time.Millisecond, events.StepDone, "")
	s.run(events.Interrupted, "interrupted at member infra1, members step 2/4 (swap)", nil)
	x := Extra{Cluster: "prod-etcd", Members: []string{"infra1"}}
	if st := Build(s.evs, x).Members[0].State; st != "interrupted after step 2 (swap)" {
		t.Errorf("state %q, want interrupted after step 2 (swap)", st)
	}
}
