package runner

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/internal/golden"
)

// TestPlanLiveGolden: the live plan of the shipped 3.4-to-3.5 playbook
// against a fake of the example cluster, leader infra0 and infra2 already
// on 3.5: order infra1 then infra0 (the leader last), infra2 skipped, every
// guard evaluated with the facts it read, digests recorded.
func TestPlanLiveGolden(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	fc.m("infra2").version = "3.5.35"
	var texts, jsons [][]byte
	for i := 0; i < 2; i++ {
		pb, inv := loadPair(t, "3.4-to-3.5", "../examples/inventory-v3.yaml")
		p, err := PlanLive(context.Background(), pb, inv, fc, nil, Digests{Playbook: "sha256:pb", Inventory: "sha256:inv"})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(p.Members, ","); got != "infra1,infra0,infra2" {
			t.Errorf("order %s, want infra1,infra0,infra2", got)
		}
		tx, js := render(t, p)
		texts, jsons = append(texts, tx), append(jsons, js)
	}
	if !bytes.Equal(texts[0], texts[1]) || !bytes.Equal(jsons[0], jsons[1]) {
		t.Fatal("two live plans of the same cluster differ")
	}
	golden.Check(t, filepath.Join("testdata/plan", "3.4-to-3.5.live.txt"), texts[0])
	golden.Check(t, filepath.Join("testdata/plan", "3.4-to-3.5.live.json"), jsons[0])
	pb, inv := loadPair(t, "3.4-to-3.5", "../examples/inventory-v3.yaml")
	p, err := PlanLive(context.Background(), pb, inv, fc, nil, Digests{Playbook: "sha256:pb", Inventory: "sha256:inv"})
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := WritePlanMarkdown(&md, p); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata/plan", "3.4-to-3.5.live.md"), md.Bytes())
}

// run --plan refuses a plan made from other files, and an offline plan.
func TestCheckPlanRefusesChangedFiles(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	pb, inv := loadPair(t, "3.4-to-3.5", "../examples/inventory-v3.yaml")
	p, err := PlanLive(context.Background(), pb, inv, fc, nil, Digests{Playbook: "sha256:pb", Inventory: "sha256:inv"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WritePlanJSON(&b, p); err != nil {
		t.Fatal(err)
	}
	saved, err := ReadPlan(&b)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckPlan(saved, Digests{Playbook: "sha256:pb", Inventory: "sha256:inv"}); err != nil {
		t.Errorf("same files: %v", err)
	}
	for _, c := range []struct {
		now  Digests
		want string
	}{
		{Digests{"sha256:pb2", "sha256:inv"}, "the playbook changed since the plan was made (plan sha256:pb, now sha256:pb2)"},
		{Digests{"sha256:pb", "sha256:inv2"}, "the inventory changed since the plan was made"},
	} {
		err := CheckPlan(saved, c.now)
		if exit.Code(err) != exit.Invalid || !strings.Contains(err.Error(), c.want) || !strings.Contains(exit.Hint(err), "etcdplay plan") {
			t.Errorf("got %v, want exit 3 and %q", err, c.want)
		}
	}
	off, _ := PlanOffline(pb, inv)
	if err := CheckPlan(off, Digests{}); exit.Code(err) != exit.Invalid {
		t.Errorf("offline plan: %v", err)
	}
}

// authCluster is the fake cluster with authentication on.
type authCluster struct{ *fakeCluster }

func (a authCluster) Cluster(ctx context.Context) (*etcdprobe.Cluster, error) {
	c, err := a.fakeCluster.Cluster(ctx)
	if c != nil {
		c.AuthEnabled = true
	}
	return c, err
}

// A live plan evaluates check steps, not only guards: with auth on, the
// 3.4-to-3.5 plan says now that the run would stop at the auth check, and
// which fact decided it; the other checks hold.
func TestPlanLiveEvaluatesChecks(t *testing.T) {
	fc := newFakeCluster("3.4.23", "infra0", "infra1", "infra2")
	pb, inv := loadPair(t, "3.4-to-3.5", "../examples/inventory-v3.yaml")
	p, err := PlanLive(context.Background(), pb, inv, authCluster{fc}, nil, Digests{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range p.Phases[0].Steps {
		if s.Action == "check" {
			got[s.Args["that"]] = s.Check + " " + formatFacts(s.Facts)
		}
	}
	for that, want := range map[string]string{
		"!cluster.authEnabled":      "fails as of plan time: the run would stop here: auth is enabled; a rolling upgrade to 3.5 is not supported with auth on (etcd PR 11943) cluster.authEnabled=true",
		"len(cluster.alarms) == 0":  CheckHolds + " cluster.alarms=[]",
		"cluster.dbSize < 100 * MB": " vars.has_v2_data=false", // guard false: skipped, no outcome
	} {
		if got[that] != want {
			t.Errorf("check %s: %q, want %q", that, got[that], want)
		}
	}
	var text bytes.Buffer
	if err := WritePlanText(&text, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "check: fails as of plan time: the run would stop here: auth is enabled") {
		t.Errorf("plan text does not show the check's outcome:\n%s", text.String())
	}
}
