package runner

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/internal/golden"
	"github.com/etcdplay/etcdplay/playbooks"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// loadPair loads a shipped playbook (or a file under testdata/plan) and
// an example inventory.
func loadPair(t *testing.T, name, invFile string) (*schema.Playbook, *schema.Inventory) {
	t.Helper()
	src, path, err := playbooks.Read(name)
	if err != nil {
		path = filepath.Join("testdata/plan", name+".yaml")
		if src, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	pb, err := schema.LoadPlaybook(path, src, steps.Default())
	if err != nil {
		t.Fatal(err)
	}
	isrc, err := os.ReadFile(invFile)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := schema.LoadInventory("examples/"+filepath.Base(invFile), isrc)
	if err != nil {
		t.Fatal(err)
	}
	return pb, inv
}

func render(t *testing.T, p *Plan) (text, js []byte) {
	t.Helper()
	var tb bytes.Buffer
	if err := WritePlanText(&tb, p); err != nil {
		t.Fatal(err)
	}
	var jb bytes.Buffer
	if err := WritePlanJSON(&jb, p); err != nil {
		t.Fatal(err)
	}
	return tb.Bytes(), jb.Bytes()
}

// TestPlanOfflineGolden: the offline plan of every shipped playbook against
// the matching example inventory, as text and as JSON. Each is built and
// rendered twice to prove the output is byte-identical across runs.
func TestPlanOfflineGolden(t *testing.T) {
	cases := []struct{ playbook, inventory string }{
		{"2.0-patch", "../examples/inventory-v2.yaml"},
		{"2.0-to-2.1", "../examples/inventory-v2.yaml"},
		{"2.1-to-2.2", "../examples/inventory-v2.yaml"},
		{"2.2-to-2.3", "../examples/inventory-v2.yaml"},
		{"2.3-to-3.0", "../examples/inventory-v2.3.yaml"},
		{"3.0-to-3.1", "../examples/inventory-v3.0.yaml"},
		{"3.1-to-3.2", "../examples/inventory-v3.0.yaml"},
		{"3.2-to-3.3", "../examples/inventory-v3.0.yaml"},
		{"3.3-to-3.4", "../examples/inventory-v3.0.yaml"},
		{"3.4-to-3.5", "../examples/inventory-v3.yaml"},
		{"3.5-patch", "../examples/inventory-v3.5.yaml"},
		{"3.6-to-3.7", "../examples/inventory-v3.6.yaml"},
		{"3.6-to-3.5", "../examples/inventory-downgrade.yaml"},
		// every kind of bound: a step timeout over wait's default, wait's
		// own, an action's default, retries, and steps without a bound
		{"bounds", "../examples/inventory-v3.yaml"},
	}
	for _, c := range cases {
		t.Run(c.playbook, func(t *testing.T) {
			var texts, jsons [][]byte
			for i := 0; i < 2; i++ {
				pb, inv := loadPair(t, c.playbook, c.inventory)
				p, err := PlanOffline(pb, inv)
				if err != nil {
					t.Fatalf("plan: %v", err)
				}
				tx, js := render(t, p)
				texts, jsons = append(texts, tx), append(jsons, js)
			}
			if !bytes.Equal(texts[0], texts[1]) || !bytes.Equal(jsons[0], jsons[1]) {
				t.Fatal("two plans of the same inputs differ")
			}
			golden.Check(t, filepath.Join("testdata/plan", c.playbook+".txt"), texts[0])
			golden.Check(t, filepath.Join("testdata/plan", c.playbook+".json"), jsons[0])
			pb, inv := loadPair(t, c.playbook, c.inventory)
			p, _ := PlanOffline(pb, inv)
			var md bytes.Buffer
			if err := WritePlanMarkdown(&md, p); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata/plan", c.playbook+".md"), md.Bytes())
		})
	}
}

func TestPlanOfflineProblems(t *testing.T) {
	// A 2.x playbook against a v3 inventory: wrong API, no 2.x releases.
	pb, inv := loadPair(t, "2.0-to-2.1", "../examples/inventory-v3.yaml")
	_, err := PlanOffline(pb, inv)
	var list schema.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want an ErrorList, got %v", err)
	}
	text := list.Format()
	for _, want := range []string{
		"playbooks/2.0-to-2.1.yaml:2:1: playbook upgrades etcd 2.0, which speaks the v2 API, but inventory examples/inventory-v3.yaml says api: v3",
		"swap to 2.1: the inventory lists no 2.1.x release (releases: 3.4.23, 3.5.35)",
		"swap to 2.0: the inventory lists no 2.0.x release",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
}

func TestPlanMembersInInventoryOrder(t *testing.T) {
	pb, inv := loadPair(t, "3.4-to-3.5", "../examples/inventory-v3.yaml")
	p, err := PlanOffline(pb, inv)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Members, ","); got != "infra0,infra1,infra2" {
		t.Errorf("members %s", got)
	}
	for _, ph := range p.Phases {
		for _, s := range append(ph.Steps, flatten(ph.Members)...) {
			if s.When != "" && s.Guard != GuardOffline {
				t.Errorf("guard %q shown as %q", s.When, s.Guard)
			}
		}
	}
}

func flatten(ms []MemberPlan) []StepPlan {
	var out []StepPlan
	for _, m := range ms {
		out = append(out, m.Steps...)
	}
	return out
}
