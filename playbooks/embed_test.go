package playbooks_test

import (
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/playbooks"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// TestShipped: every shipped playbook points editors at the schema, loads
// clean, is named after its from and to, names the guide it encodes, and
// says in every step which sentence of the guide the step stands for.
func TestShipped(t *testing.T) {
	names := playbooks.Names()
	if want := "2.0-patch 2.0-to-2.1 2.1-to-2.2 2.2-to-2.3 2.3-to-3.0 3.0-to-3.1 3.1-to-3.2 3.2-to-3.3 3.3-to-3.4 3.4-patch 3.4-to-3.5 3.5-patch 3.5-to-3.4 3.5-to-3.6 3.6-patch 3.6-to-3.5 3.6-to-3.7 3.7-patch 3.7-to-3.6"; strings.Join(names, " ") != want {
		t.Fatalf("shipped %v, want %s", names, want)
	}
	for _, name := range names {
		src, path, err := playbooks.Read(name)
		if err != nil {
			t.Fatal(err)
		}
		if first, _, _ := strings.Cut(string(src), "\n"); first != "# yaml-language-server: $schema=../schema/playbook.schema.json" {
			t.Errorf("%s: first line is %q", path, first)
		}
		pb, err := schema.LoadPlaybook(path, src, steps.Default())
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if got := playbooks.Name(pb.From.String(), pb.To.String()); got != name {
			t.Errorf("%s holds %s", path, got)
		}
		if pb.Guide == "" {
			t.Errorf("%s names no guide", path)
		}
		for _, ph := range pb.Phases() {
			for _, s := range ph.Steps {
				if s.Name == "" {
					t.Errorf("%s:%d: %s step without a name", path, s.Pos.Line, ph.Phase)
				}
			}
		}
		if len(pb.Rollback) == 0 {
			t.Errorf("%s has no rollback", path)
		}
	}
	if _, _, err := playbooks.Read("1.0-to-9.9"); err == nil || !strings.Contains(err.Error(), "shipped: 2.0-patch, 2.0-to-2.1") {
		t.Errorf("unknown name: %v", err)
	}
	if _, p, err := playbooks.Read("3.4-to-3.5.yaml"); err != nil || p != "playbooks/3.4-to-3.5.yaml" {
		t.Errorf("name with .yaml: %v %v", p, err)
	}
}

// TestGuideFacts pins the facts the guides state, so an edit that drops one
// fails here and not on a cluster.
func TestGuideFacts(t *testing.T) {
	has := func(name, text string) {
		t.Helper()
		src, _, _ := playbooks.Read(name)
		if !strings.Contains(string(src), text) {
			t.Errorf("%s lacks %q", name, text)
		}
	}
	has("2.0-to-2.1", `min: "2.0.3"`)
	has("2.0-to-2.1", `when: "cluster.dbSize > 50 * MB"`)
	has("2.0-to-2.1", `wait: {duration: 2m}`)
	has("2.0-to-2.1", `that: "cluster.dbSize <= 100 * MB"`)
	has("2.0-to-2.1", `backup: {from: self}`)
	has("2.1-to-2.2", `that: "cluster.dbSize <= 100 * MB"`)
	has("2.1-to-2.2", `backup: {from: self}`)
	has("2.0-patch", `min: "2.0.3"`)
	has("2.0-patch", `backup: {from: self}`)
	has("2.0-patch", `swap: {to: "2.0"}`)
	has("2.2-to-2.3", `when: "cluster.dbSize > 50 * MB"`)
	has("2.2-to-2.3", `wait: {duration: 2m}`)
	has("2.2-to-2.3", `that: "cluster.dbSize < 100 * MB"`)
	has("2.2-to-2.3", `backup: {from: each}`)
	has("2.2-to-2.3", `backup: {from: self}`)
	has("2.3-to-3.0", `when: "cluster.dbSize > 50 * MB"`)
	has("2.3-to-3.0", `that: "cluster.dbSize < 100 * MB"`)
	has("2.3-to-3.0", `backup: {from: each}`)
	has("2.3-to-3.0", `backup: {from: self}`)
	has("2.3-to-3.0", `"listen-client-urls" in .options && "listen-peer-urls" in .options`)
	has("2.3-to-3.0", `that: "cluster.v3Healthy"`)
	has("2.3-to-3.0", `that: "cluster.v3Keys > 0"`)
	has("3.4-to-3.5", `that: "!cluster.authEnabled"`)
	has("3.4-to-3.5", `that: "len(cluster.alarms) == 0"`)
	has("3.4-to-3.5", `backup: {from: leader}`)
	has("3.4-to-3.5", `order: leader-last`)
	has("3.4-to-3.5", `when: "vars.has_v2_data && cluster.dbSize > 50 * MB"`)
	has("3.5-to-3.6", `min: "3.5.32"`)
	has("3.5-to-3.6", `check-v2store: {}`)
	has("3.5-to-3.6", `backup: {from: leader}`)
	has("3.5-to-3.6", `assert-version: {storage: "3.6"}`)
	has("3.5-to-3.6", `removed: [enable-v2=true, experimental-enable-v2v3, proxy=on, proxy=readonly, "proxy-*"]`)
	has("3.4-to-3.5", `values: [logger=capnslog]`)
	has("3.6-to-3.7", `min: "3.6.11"`)
	has("3.6-to-3.7", `assert-version: {storage: "3.7"}`)
	has("3.6-to-3.7", `backup: {from: leader}`)
	has("3.6-to-3.7", `experimental-initial-corrupt-check: feature-gates=InitialCorruptCheck={value}`)
	has("3.6-to-3.7", `- "experimental-*"`)
	for _, minor := range []string{"3.4", "3.5", "3.6", "3.7"} {
		has(minor+"-patch", `swap: {to: "`+minor+`"}`)
		has(minor+"-patch", `backup: {from: leader}`)
		has(minor+"-patch", `assert-version: {cluster: "`+minor+`", servers: "`+minor+`.*"}`)
	}
	src, _, _ := playbooks.Read("2.1-to-2.2")
	if strings.Contains(string(src), "50 * MB") {
		t.Error("2.1-to-2.2 has a 50MB rule, which its guide does not")
	}
}
