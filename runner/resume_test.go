package runner

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// crashJournal writes the journal a runner leaves when it dies in the
// middle of member's critical step stepIndex (action): run-start with the
// harness's digests, preflight done, the member's steps up to the crash.
func crashJournal(t *testing.T, h *harness, member string, stepIndex int, action string) string {
	t.Helper()
	j, err := journal.Open(h.o.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	id := "20261121T050000Z-c0ffee"
	at := time.Date(2026, 11, 21, 5, 0, 0, 0, time.UTC)
	recs := []journal.Record{
		{Kind: journal.RunStart, PlaybookDigest: h.o.PlaybookDigest, InventoryDigest: h.o.InventoryDigest},
		{Kind: journal.StepStart, Phase: "preflight", StepIndex: 1, Action: "noop"},
		{Kind: journal.StepDone, Phase: "preflight", StepIndex: 1, Action: "noop"},
	}
	actions := []string{"move-leader", "stop", "swap", "start"}
	for i := 1; i < stepIndex; i++ {
		recs = append(recs,
			journal.Record{Kind: journal.StepStart, Phase: "members", Member: member, StepIndex: i, Action: actions[i-1]},
			journal.Record{Kind: journal.StepDone, Phase: "members", Member: member, StepIndex: i, Action: actions[i-1]})
	}
	recs = append(recs, journal.Record{Kind: journal.StepStart, Phase: "members", Member: member, StepIndex: stepIndex, Action: action, Critical: true})
	for _, r := range recs {
		r.RunID, r.Time = id, at
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	// The preflight that passed took the run's backup.
	m, err := fakeBackup(h.o.BackupDir)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(backupRecord{RunID: id, Backups: []steps.BackupManifest{m}})
	if err := os.WriteFile(filepath.Join(h.o.StateDir, BackupFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return id
}

// Resume after a crash in the middle of infra0's start: the member is in
// fact up on 3.5 and healthy. It is verified and never stopped again; the
// others are upgraded; the run keeps its id.
func TestResumeAfterCrashDoesNotStopUpgradedMemberAgain(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	fc.m("infra0").version, fc.m("infra0").binary = "3.5.1", "3.5.1"
	h := newHarness(t, fakePlaybook, fc)
	id := crashJournal(t, h, "infra0", 4, "start")
	res, err := Resume(context.Background(), h.o)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if res.RunID != id {
		t.Errorf("run id %s, want the journal's %s", res.RunID, id)
	}
	if got := fc.stopped(); !reflect.DeepEqual(got, []string{"infra1", "infra2"}) {
		t.Errorf("stopped %v: infra0 was stopped again", got)
	}
	if got := h.messages("reconcile"); len(got) != 1 || !strings.Contains(got[0], "infra0: step 4 (start) was in flight; found on 3.5.1: upgraded, it is verified and not stopped again") {
		t.Errorf("reconcile events %q", got)
	}
	for _, e := range h.rec.Events() {
		if e.Kind == events.StepStart && e.Phase == schema.PhasePreflight {
			t.Errorf("preflight repeated: %+v", e)
		}
	}
	if st := journal.Reconcile(journalKinds(t, h.o.StateDir)); !st.Finished() || st.RunID != id {
		t.Errorf("journal state after resume: ended %s run %s", st.Ended, st.RunID)
	}
}

// Resume after a crash right after infra0's stop: the member is down with
// the old binary. The preflight gate lets that one member be down, and its
// steps run again from the first.
func TestResumeContinuesStoppedMember(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	fc.m("infra1").running = false
	h := newHarness(t, fakePlaybook, fc)
	crashJournal(t, h, "infra1", 3, "swap")
	if _, err := Resume(context.Background(), h.o); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	for n, v := range fc.versions() {
		if v != "3.5.1" {
			t.Errorf("%s on %s", n, v)
		}
	}
	// infra1 first although infra0 comes before it: while infra1 is down,
	// stopping infra0 would cost quorum.
	if got, want := fc.starts, []string{"infra1", "infra0", "infra2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("starts %v, want %v (the member left down first)", got, want)
	}
}

// Resume refuses files that changed since the run started (exit 3), unless
// --force.
func TestResumeRefusesChangedFiles(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	crashJournal(t, h, "infra0", 2, "stop")
	h.o.PlaybookDigest = "sha256:edited"
	_, err := Resume(context.Background(), h.o)
	if exit.Code(err) != exit.Invalid || !strings.Contains(err.Error(), "started with another playbook") || !strings.Contains(exit.Hint(err), "--force") {
		t.Fatalf("got %v (hint %q)", err, exit.Hint(err))
	}
	if len(fc.stopped()) != 0 {
		t.Error("a refused resume touched the cluster")
	}
}

// Resume of a finished run says there is nothing to do.
func TestResumeOfFinishedRun(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	if _, err := Apply(context.Background(), h.o); err != nil {
		t.Fatal(err)
	}
	if _, err := Resume(context.Background(), h.o); !errors.Is(err, ErrNothingToResume) {
		t.Fatalf("got %v", err)
	}
	_, err := Resume(context.Background(), Options{Playbook: h.o.Playbook, Inventory: h.o.Inventory, Cluster: fc, Hosts: fakeHosts{}, StateDir: filepath.Join(t.TempDir(), "none")})
	if exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), "no journal") {
		t.Fatalf("no journal: %v", err)
	}
}

// Rollback is refused once the cluster version moved: an old binary would
// not start; the message names the ways back that remain.
func TestRollbackRefusedAfterClusterVersionMoved(t *testing.T) {
	fc := newFakeCluster("3.5.1", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	_, err := Rollback(context.Background(), h.o, "infra2")
	if exit.Code(err) != exit.Refused {
		t.Fatalf("exit %d (%v), want 5", exit.Code(err), err)
	}
	if !strings.Contains(err.Error(), "cluster version is 3.5.0: every member already speaks 3.5 and a 3.4 binary will refuse to start") {
		t.Errorf("message %q", err)
	}
	if h := exit.Hint(err); !strings.Contains(h, "etcdutl snapshot restore") || !strings.Contains(h, "downgrade API exists only from 3.6") {
		t.Errorf("hint %q", h)
	}
	if len(fc.stopped()) != 0 {
		t.Error("a refused rollback stopped a member")
	}
}

// Rollback fails closed: with the cluster version unreadable and no
// reachable member on the old minor, nothing proves an old binary would
// be let back in, so it is refused before anything stops; with a member
// still on the old minor the rollback goes on.
func TestRollbackRefusedWhenClusterVersionUnreadable(t *testing.T) {
	fc := newFakeCluster("3.5.1", "infra0", "infra1", "infra2")
	fc.noVersion = true
	h := newHarness(t, fakePlaybook, fc)
	_, err := Rollback(context.Background(), h.o, "infra2")
	if exit.Code(err) != exit.Refused || !strings.Contains(err.Error(), "cluster version cannot be read") {
		t.Fatalf("exit %d (%v), want 5 and a refusal naming the unreadable version", exit.Code(err), err)
	}
	if len(fc.stopped()) != 0 {
		t.Errorf("a refused rollback stopped %v", fc.stopped())
	}

	fc = newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.m("infra2").version, fc.m("infra2").binary = "3.5.1", "3.5.1"
	fc.noVersion = true
	h = newHarness(t, fakePlaybook, fc)
	if _, err := Rollback(context.Background(), h.o, "infra2"); err != nil {
		t.Fatalf("rollback with infra0/infra1 still on 3.4: %v", err)
	}
	if v := fc.versions()["infra2"]; !strings.HasPrefix(v, "3.4.") {
		t.Errorf("infra2 on %s after rollback", v)
	}
}

// Rollback of the member a run failed on (found in the journal): it goes
// back to 3.4 behind the same gates, and the journal records it.
func TestRollbackPutsFailedMemberBack(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.leader = "infra2"
	pb := strings.Replace(fakePlaybook, "    - start: {}\n", "    - start: {}\n    - when: 'member.name == \"infra1\"'\n      fail: {msg: \"observed a bad thing\"}\n", 1)
	h := newHarness(t, pb, fc)
	res, err := Apply(context.Background(), h.o)
	if exit.Code(err) != exit.StepFailed || res.Rollback == "" {
		t.Fatalf("run: %v", err)
	}
	if v := fc.versions()["infra1"]; v != "3.5.1" {
		t.Fatalf("infra1 on %s after the failed step", v)
	}
	res, err = Rollback(context.Background(), h.o, "")
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if v := fc.versions()["infra1"]; v != "3.4.1" {
		t.Errorf("infra1 on %s after rollback, want 3.4.1", v)
	}
	if res.Members[1].State != "rolled back" {
		t.Errorf("infra1 state %q", res.Members[1].State)
	}
	st := journal.Reconcile(journalKinds(t, h.o.StateDir))
	if !st.Member("infra1").RolledBack {
		t.Errorf("journal: infra1 not rolled back: %+v", st.Member("infra1"))
	}
}

// A refused rollback after a finished run leaves the run finished: it
// journals no run-start or run-failed, and its report goes to rollback/.
func TestRefusedRollbackLeavesFinishedRunAlone(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	if _, err := Apply(context.Background(), h.o); err != nil {
		t.Fatal(err)
	}
	res, err := Rollback(context.Background(), h.o, "infra1")
	if exit.Code(err) != exit.Refused {
		t.Fatalf("rollback: %v", err)
	}
	if res.Report != filepath.Join(h.o.StateDir, "rollback", "report.md") {
		t.Errorf("rollback report at %s", res.Report)
	}
	if _, err := Resume(context.Background(), h.o); !errors.Is(err, ErrNothingToResume) {
		t.Fatalf("resume after a refused rollback: %v", err)
	}
}

func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
