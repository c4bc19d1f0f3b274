package main

import (
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/schema"
)

// A route across the major on a v2 inventory loads every hop: the hops
// from 3.0 on plan against the inventory speaking v3 (runner.HopInventory),
// while a run of one of them alone is still refused for the inventory's
// API.
func TestLoadHopsAcrossTheMajorOnAV2Inventory(t *testing.T) {
	var rel strings.Builder
	for _, v := range []string{"2.3.8", "3.0.17", "3.1.20", "3.2.32", "3.3.27", "3.4.23"} {
		rel.WriteString("  \"" + v + "\": {remote: /opt/etcd-" + v + "}\n")
	}
	src := "cluster: c\napi: v2\nservice: {start: up, stop: down}\nbinary: /bin/etcd\ndata_dir: /var/lib/etcd\nreleases:\n" + rel.String() +
		"members:\n  - {name: a, host: h, client: http://h:2379}\n"
	inv, err := schema.LoadInventory("inv.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"2.3-to-3.0", "3.0-to-3.1", "3.1-to-3.2", "3.2-to-3.3", "3.3-to-3.4"}
	hops, err := loadHops(names, inv)
	if err != nil {
		t.Fatalf("loadHops on a v2 inventory: %v", err)
	}
	if len(hops) != len(names) {
		t.Fatalf("%d hops, want %d", len(hops), len(names))
	}
	if inv.API != "v2" {
		t.Errorf("loading the hops changed the inventory's api to %s", inv.API)
	}
	if _, err := loadHops([]string{"3.0-to-3.1"}, inv); err != nil {
		t.Errorf("a route starting at 3.0 on a v2 inventory: %v", err)
	}
	pb, _, err := loadPlaybookDigest("3.0-to-3.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runner.PlanOffline(pb, inv); err == nil || !strings.Contains(err.Error(), "speaks the v3 API") {
		t.Errorf("run 3.0-to-3.1 alone on a v2 inventory: %v, want refused for the inventory's API", err)
	}
}
