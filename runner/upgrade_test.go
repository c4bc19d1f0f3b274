package runner

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
)

// routeHops is a two-hop route on the fake cluster: 3.4 to 3.5, then 3.5
// to 3.6, whose members' steps fail on infra1 while vars.boom is set.
func routeHops(t *testing.T, h *harness) []Hop {
	t.Helper()
	next := strings.NewReplacer("3.5", "3.6", "3.4", "3.5").Replace(fakePlaybook)
	next = strings.Replace(next, "    - swap: {to: \"3.6\"}", "    - fail: {msg: boom}\n      when: \"vars.boom == true && member.name == 'infra1'\"\n    - swap: {to: \"3.6\"}", 1)
	pb2, _ := loadFake(t, next)
	return []Hop{
		{Playbook: h.o.Playbook, PlaybookPath: "a.yaml", PlaybookDigest: "sha256:a"},
		{Playbook: pb2, PlaybookPath: "b.yaml", PlaybookDigest: "sha256:b"},
	}
}

func TestUpgradeRunsEveryHopUnderOneRunAndLock(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	res, err := Upgrade(context.Background(), h.o, routeHops(t, h), "3.6")
	if err != nil {
		t.Fatalf("Upgrade: %v", err)
	}
	want := map[string]string{"infra0": "3.6.1", "infra1": "3.6.1", "infra2": "3.6.1"}
	if got := fc.versions(); !reflect.DeepEqual(got, want) {
		t.Errorf("versions %v, want %v", got, want)
	}
	if len(fc.stops) != 6 {
		t.Errorf("stops %v: want each member stopped once per hop", fc.stops)
	}
	if h.locker.acquired != 1 || h.locker.released != 1 {
		t.Errorf("lock acquired %d released %d: want once each, around the whole route", h.locker.acquired, h.locker.released)
	}
	recs, _, err := journal.Read(h.o.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	hops := map[int]int{}
	for _, r := range recs {
		if r.RunID != res.RunID {
			t.Errorf("record %s of run %s, want the route's %s", r.Kind, r.RunID, res.RunID)
		}
		if r.Kind == journal.RunStart {
			hops[r.Hop]++
		}
	}
	if !reflect.DeepEqual(hops, map[int]int{1: 1, 2: 1}) {
		t.Errorf("run-starts by hop %v, want one for each hop", hops)
	}
	m, err := ReadMeta(h.o.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Hop != 2 || len(m.Route) != 2 || m.Route[1].PlaybookPath != "b.yaml" || m.PlaybookPath != "b.yaml" || m.Target != "3.6" {
		t.Errorf("run.json %+v", m)
	}
	md, err := os.ReadFile(res.Report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "route to 3.6: fake 3.4 to 3.5, then fake 3.5 to 3.6") {
		t.Errorf("report.md does not name the route:\n%s", md)
	}
	if !strings.Contains(string(md), "| hop 1 · 2/5 |") || !strings.Contains(string(md), "| hop 2 · 2/6 |") {
		t.Errorf("report.md does not number each member's steps by hop:\n%s", md)
	}
}

// A hop that fails leaves the route there; resume finishes that hop (not
// the one before, whose members are not stopped again) and the rest.
func TestResumeUpgradeContinuesTheHopItStoppedIn(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	hops := routeHops(t, h)
	h.o.Inventory.Vars = map[string]any{"boom": true}
	res, err := Upgrade(context.Background(), h.o, hops, "3.6")
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Upgrade: err %v, want hop 2's boom", err)
	}
	id := res.RunID
	if !strings.Contains(res.Resume, "etcdplay resume") {
		t.Errorf("resume command %q", res.Resume)
	}
	stopsBefore := len(fc.stops)
	h.o.Inventory.Vars = nil
	h.o.RunID = ""
	res, err = ResumeUpgrade(context.Background(), h.o, hops, "3.6")
	if err != nil {
		t.Fatalf("ResumeUpgrade: %v", err)
	}
	if res.RunID != id {
		t.Errorf("resumed as run %s, want %s", res.RunID, id)
	}
	want := map[string]string{"infra0": "3.6.1", "infra1": "3.6.1", "infra2": "3.6.1"}
	if got := fc.versions(); !reflect.DeepEqual(got, want) {
		t.Errorf("versions %v, want %v", got, want)
	}
	// infra1 (last in hop 2) was left down by the failure: resume starts
	// it again without a new stop, and no member of hop 1 or of hop 2's
	// done ones is stopped again: each member stopped once per hop.
	count := map[string]int{}
	for _, n := range fc.stops {
		count[n]++
	}
	if !reflect.DeepEqual(count, map[string]int{"infra0": 2, "infra1": 2, "infra2": 2}) || len(fc.stops) != stopsBefore {
		t.Errorf("stops %v (%d before resume): want each member stopped once per hop, none by the resume", fc.stops, stopsBefore)
	}
	if _, err := ResumeUpgrade(context.Background(), h.o, hops, "3.6"); err != ErrNothingToResume {
		t.Errorf("resume of a finished route: %v, want ErrNothingToResume", err)
	}
}

// Stopped between hops (the journal's last hop finished): resume starts
// the next hop afresh.
func TestResumeUpgradeStartsTheNextHop(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	hops := routeHops(t, h)
	if _, err := Upgrade(context.Background(), h.o, hops[:1], "3.6"); err != nil {
		t.Fatal(err)
	}
	if _, err := ResumeUpgrade(context.Background(), h.o, hops, "3.6"); err != nil {
		t.Fatalf("ResumeUpgrade: %v", err)
	}
	if got := fc.versions()["infra2"]; got != "3.6.1" {
		t.Errorf("infra2 on %s after resume, want 3.6.1", got)
	}
}

// A rollback of the member a route's hop stopped on is journaled in that
// hop, so resume (which folds the hop) sees the member put back and runs
// its steps again; the route then finishes.
func TestRollbackInARouteStaysInItsHop(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	hops := routeHops(t, h)
	h.o.Inventory.Vars = map[string]any{"boom": true}
	if _, err := Upgrade(context.Background(), h.o, hops, "3.6"); err == nil {
		t.Fatal("Upgrade: want hop 2's boom")
	}
	h.o.Inventory.Vars = nil
	rb := h.o
	rb.RunID = ""
	rb.Playbook, rb.PlaybookPath, rb.PlaybookDigest = hops[1].Playbook, hops[1].PlaybookPath, hops[1].PlaybookDigest
	if _, err := Rollback(context.Background(), rb, ""); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	recs, _, err := journal.Read(h.o.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1]
	if last.Kind != journal.RollbackDone || last.Hop != 2 {
		t.Fatalf("last record %s of hop %d, want rollback-done in hop 2", last.Kind, last.Hop)
	}
	if st := journal.Reconcile(recs); !st.Member(last.Member).RolledBack {
		t.Errorf("resume's state does not see %s rolled back", last.Member)
	}
	if _, err := ResumeUpgrade(context.Background(), h.o, hops, "3.6"); err != nil {
		t.Fatalf("ResumeUpgrade: %v", err)
	}
	want := map[string]string{"infra0": "3.6.1", "infra1": "3.6.1", "infra2": "3.6.1"}
	if got := fc.versions(); !reflect.DeepEqual(got, want) {
		t.Errorf("versions %v, want %v", got, want)
	}
}

// A hop with a View (a v2 inventory's hops from 3.0 on) runs against the
// view's inventory and cluster and takes the view's lock besides the
// route's, under the route's run id; both are held until the route ends,
// and the hop before it never touches the view. The view here is a second
// fake of the same members, as hop 1 leaves them, so what each hop
// upgraded shows which cluster it ran against.
func TestUpgradeHopViewAddsItsLockUnderTheSameRun(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	h := newHarness(t, fakePlaybook, fc)
	hops := routeHops(t, h)
	inv := *h.o.Inventory
	view := newFakeCluster("3.5.1", "infra0", "infra1", "infra2")
	hopLock := &fakeLocker{}
	hops[1].View = &View{Inventory: &inv, Cluster: view, Hosts: h.o.Hosts, Locker: hopLock}

	res, err := Upgrade(context.Background(), h.o, hops, "3.6")
	if err != nil {
		t.Fatalf("Upgrade: %v", err)
	}
	three := func(v string) map[string]string { return map[string]string{"infra0": v, "infra1": v, "infra2": v} }
	if got := fc.versions(); !reflect.DeepEqual(got, three("3.5.1")) {
		t.Errorf("the route's cluster: %v, want hop 1's 3.5.1 only", got)
	}
	if got := view.versions(); !reflect.DeepEqual(got, three("3.6.1")) {
		t.Errorf("hop 2's view: %v, want 3.6.1", got)
	}
	for name, l := range map[string]*fakeLocker{"route": h.locker, "hop": hopLock} {
		if l.acquired != 1 || l.released != 1 {
			t.Errorf("%s lock acquired %d released %d: want once each", name, l.acquired, l.released)
		}
		for _, id := range l.runIDs {
			if id != res.RunID {
				t.Errorf("%s lock taken for run %s, want the route's %s", name, id, res.RunID)
			}
		}
	}
}

// HopInventory views a v2 inventory over v3 for a playbook from 3.x only:
// the same members, URLs and TLS; a 2.x hop, or a v3 inventory, keeps the
// inventory as it is. A run of one v3 playbook on a v2 inventory is still
// refused.
func TestHopInventoryAcrossTheMajor(t *testing.T) {
	v2 := &schema.Inventory{Cluster: "c", API: "v2", Members: []*schema.Member{{Name: "m0", Client: "https://m0:2379"}}}
	from := func(major, minor int) *schema.Playbook {
		return &schema.Playbook{From: schema.Minor{Major: major, Minor: minor}, To: schema.Minor{Major: major, Minor: minor + 1}}
	}
	if got := HopInventory(from(2, 3), v2); got != v2 {
		t.Errorf("2.3 hop on a v2 inventory: got %+v, want the inventory itself", got)
	}
	got := HopInventory(from(3, 0), v2)
	if got == v2 || got.API != "v3" || got.Cluster != "c" || !reflect.DeepEqual(got.Members, v2.Members) {
		t.Errorf("3.0 hop on a v2 inventory: got %+v, want the same inventory speaking v3", got)
	}
	if v2.API != "v2" {
		t.Errorf("the operator's inventory changed to api %s", v2.API)
	}
	v3 := &schema.Inventory{Cluster: "c", API: "v3"}
	if got := HopInventory(from(3, 4), v3); got != v3 {
		t.Errorf("v3 inventory: got %+v, want the inventory itself", got)
	}
}
