package main

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/fleet"
	"github.com/etcdplay/etcdplay/playbooks"
	"github.com/etcdplay/etcdplay/runner"
)

// examplePaths is examples/README.md's table: the example inventory for
// each shipped playbook.
var examplePaths = map[string]string{
	"2.0-patch":  "inventory-v2.yaml",
	"2.0-to-2.1": "inventory-v2.yaml",
	"2.1-to-2.2": "inventory-v2.yaml",
	"2.2-to-2.3": "inventory-v2.yaml",
	"2.3-to-3.0": "inventory-v2.3.yaml",
	"3.0-to-3.1": "inventory-v3.0.yaml",
	"3.1-to-3.2": "inventory-v3.0.yaml",
	"3.2-to-3.3": "inventory-v3.0.yaml",
	"3.3-to-3.4": "inventory-v3.0.yaml",
	"3.4-patch":  "inventory-v3.yaml",
	"3.4-to-3.5": "inventory-v3.yaml",
	"3.5-patch":  "inventory-v3.5.yaml",
	"3.5-to-3.6": "inventory-v3.5.yaml",
	"3.6-patch":  "inventory-v3.6.yaml",
	"3.6-to-3.7": "inventory-v3.6.yaml",
	"3.7-patch":  "inventory-v3.6.yaml",
	"3.6-to-3.5": "inventory-downgrade.yaml",
	"3.5-to-3.4": "inventory-downgrade.yaml",
	"3.7-to-3.6": "inventory-downgrade.yaml",
}

// TestExamplesCoverEveryShippedPath: every shipped playbook has an example
// inventory it plans against offline, and every example inventory loads
// cleanly and serves some playbook.
func TestExamplesCoverEveryShippedPath(t *testing.T) {
	for _, name := range playbooks.Names() {
		inv, ok := examplePaths[name]
		if !ok {
			t.Errorf("shipped playbook %s has no example inventory (examples/README.md, examplePaths)", name)
			continue
		}
		pb, err := loadPlaybook(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		i, err := loadInventory(filepath.Join("../../examples", inv))
		if err != nil {
			t.Errorf("%s: %v", inv, err)
			continue
		}
		if _, err := runner.PlanOffline(pb, i); err != nil {
			t.Errorf("plan %s -i examples/%s --offline: %v", name, inv, err)
		}
	}
	files, _ := filepath.Glob("../../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example inventories found")
	}
	used := map[string]bool{}
	for _, inv := range examplePaths {
		used[inv] = true
	}
	for _, f := range files {
		if !used[filepath.Base(f)] {
			t.Errorf("%s serves no shipped playbook: add it to examplePaths and examples/README.md", f)
		}
	}
	readme, err := os.ReadFile("../../examples/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range slices.Sorted(maps.Keys(used)) {
		if !strings.Contains(string(readme), "("+inv+")") {
			t.Errorf("examples/README.md does not link %s", inv)
		}
	}
}

// TestExampleFleet: examples/fleet is a folder of inventories that `run
// 3.5-to-3.6 -i examples/fleet` takes as a fleet: at least two clusters,
// each loading cleanly with its own name and planning offline.
func TestExampleFleet(t *testing.T) {
	files, several, err := fleet.Inventories([]string{"../../examples/fleet"})
	if err != nil || !several || len(files) < 2 {
		t.Fatalf("examples/fleet: %v, %v, %v; want a fleet of two clusters or more", files, several, err)
	}
	pb, err := loadPlaybook("3.5-to-3.6")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, f := range files {
		inv, err := loadInventory(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if prev, ok := names[inv.Cluster]; ok {
			t.Errorf("%s and %s both name cluster %s", prev, f, inv.Cluster)
		}
		names[inv.Cluster] = f
		if _, err := runner.PlanOffline(pb, inv); err != nil {
			t.Errorf("plan 3.5-to-3.6 -i %s --offline: %v", f, err)
		}
	}
	readme, err := os.ReadFile("../../examples/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "(fleet/)") {
		t.Errorf("examples/README.md does not link fleet/")
	}
}
