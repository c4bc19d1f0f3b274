package steps_test

import (
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

const inventory = `cluster: c
api: v3
service: {start: systemctl start etcd, stop: systemctl stop etcd}
binary: /usr/local/bin/etcd
etcdctl: /usr/local/bin/etcdctl
data_dir: /var/lib/etcd
releases:
  "3.4.23": {remote: /opt/etcd-3.4.23}
  "3.5.31": {remote: /opt/etcd-3.5.31}
  "3.5.35": {upload: ./etcd-3.5.35, sha256: "` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + `"}
members:
  - {name: infra0, host: h0, client: http://h0:2379}
`

// TestPlanText: each action, decoded from its YAML (full or short form),
// renders a stable line with its arguments resolved against the inventory.
func TestPlanText(t *testing.T) {
	inv, err := schema.LoadInventory("inv.yaml", []byte(inventory))
	if err != nil {
		t.Fatal(err)
	}
	member := inv.Resolve(inv.Members[0])
	tests := []struct {
		step string
		want string
		err  string
	}{
		{`health: {}`, "check the cluster is healthy (Status and a read through every member, no active alarm)", ""},
		{`health: {member: self}`, "check infra0 is healthy", ""},
		{`assert-version: {cluster: "3.4", servers: "3.4.*"}`, "assert cluster version is 3.4; every member runs 3.4.*", ""},
		{`assert-version: {min: "3.4.22"}`, "every member runs 3.4.22 or newer (else: every member must run 3.4.22 or newer first", ""},
		{`assert-version: {member: self, server: "3.5.*", storage: "3.6"}`, "infra0 runs 3.5.*; infra0's storage version is 3.6", ""},
		{`check: {that: "cluster.dbSize < 100 * MB", message: big}`, "check cluster.dbSize < 100 * MB (fail: big)", ""},
		{`backup: {from: leader}`, "save a snapshot from the leader to backups/c/", ""},
		{`backup: {from: leader, dir: /srv/snap}`, "to /srv/snap/", ""},
		{`backup: {from: self}`, "on infra0: ETCDCTL_API=2 /usr/local/bin/etcdctl backup --data-dir /var/lib/etcd --backup-dir /var/tmp/etcdplay-backup/infra0", ""},
		{`move-leader: {}`, "if infra0 leads, move leadership to a healthy member, preferably one already upgraded", ""},
		{`move-leader: {prefer: any}`, "move leadership to a healthy member", ""},
		{`ssh-stop: {}`, "on infra0: systemctl stop etcd, then confirm", ""},
		{`ssh-start:`, "on infra0: systemctl start etcd", ""},
		{`swap: {to: "3.5"}`, "install etcd 3.5.35 at /usr/local/bin/etcd from the copy of ./etcd-3.5.35 staged and checked in preflight, sha256 0123456789ab...", ""},
		{`swap: {to: "3.4", min: "3.4.32"}`, "", "the inventory's newest 3.4.x release is 3.4.23, and the guide needs 3.4.32 or newer"},
		{`swap: {to: "3.5", min: "3.5.32"}`, "install etcd 3.5.35 at", ""},
		{`swap: "3.4"`, "install etcd 3.4.23 at /usr/local/bin/etcd from /opt/etcd-3.4.23 on the member (checked in preflight)", ""},
		{`swap: {to: "3.6"}`, "", "the inventory lists no 3.6.x release (releases: 3.4.23, 3.5.31, 3.5.35)"},
		{`wait: {for: healthy}`, "wait until infra0 and the cluster are healthy", ""},
		{`wait: {for: caught-up, timeout: 90s}`, "applied raft index reaches the leader's", ""},
		{`wait: {for: cluster-version, version: "3.5"}`, "wait until the cluster version is 3.5", ""},
		{`wait: 2m`, "wait 2m", ""},
		{`confirm: "no LeaseRevoke?"`, "ask the operator: no LeaseRevoke? (needs a terminal or --yes)", ""},
		{`ssh-run: [etcdutl, check, v2store]`, "on infra0: etcdutl check v2store, expect exit 0", ""},
		{`ssh-run: {command: "echo 'a b'", expect: "^ok", expect_exit: 1}`, "on infra0: echo 'a b', expect exit 1 and output matching /^ok/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			src := "playbook: t\nfrom: \"3.4\"\nto: \"3.5\"\nmembers:\n  steps:\n    - " + tt.step + "\n"
			if strings.HasPrefix(tt.step, "swap: {to: \"3.6\"}") {
				src = "playbook: t\nfrom: \"3.5\"\nto: \"3.6\"\nmembers:\n  steps:\n    - " + tt.step + "\n"
			}
			if strings.HasPrefix(tt.step, "swap: {to: \"3.4\"") {
				src = "playbook: t\nfrom: \"3.5\"\nto: \"3.4\"\nmembers:\n  steps:\n    - " + tt.step + "\n"
			}
			if strings.HasPrefix(tt.step, "swap: {to: \"3.5\", min") {
				src = "playbook: t\nfrom: \"3.4\"\nto: \"3.5\"\nmembers:\n  steps:\n    - " + tt.step + "\n"
			}
			if strings.HasPrefix(tt.step, "swap: \"3.4\"") {
				src = "playbook: t\nfrom: \"3.4\"\nto: \"3.5\"\nmembers:\n  steps:\n    - ssh-stop: {}\nrollback:\n  - " + tt.step + "\n"
			}
			pb, err := schema.LoadPlaybook("t.yaml", []byte(src), steps.Default())
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			st := pb.Members.Steps[0]
			if len(pb.Rollback) > 0 {
				st = pb.Rollback[0]
			}
			c := &steps.PlanContext{Playbook: pb, Inventory: inv, Phase: schema.PhaseMembers, Member: &member}
			p, err := st.Args.(steps.Action).Plan(c)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("want error %q, got %v", tt.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(p.Text, tt.want) {
				t.Errorf("text %q\nwant it to contain %q", p.Text, tt.want)
			}
		})
	}
}

// TestStepBound: each step's bound per attempt is resolved once, when the
// playbook loads: the step's timeout, else the action's own; the plan shows
// it and the runner applies it. A wait's own timeout is the same thing said
// inside the action, so the two cannot both be given.
func TestStepBound(t *testing.T) {
	tests := []struct {
		step string
		want time.Duration
		err  string
	}{
		{"health: {}", 30 * time.Second, ""},
		{"ssh-stop: {}", time.Minute, ""},
		{"swap: {to: \"3.5\"}", 5 * time.Minute, ""},
		{"wait: {for: healthy}", 2 * time.Minute, ""},
		{"wait: {for: healthy}\n      timeout: 10m", 10 * time.Minute, ""},
		{"wait: {for: caught-up, timeout: 90s}", 90 * time.Second, ""},
		{"wait: 2m", 0, ""},
		{"confirm: sure?", 0, ""},
		{"confirm: sure?\n      timeout: 5m", 5 * time.Minute, ""},
		{"ssh-run: [echo, ok]\n      timeout: 20s\n      retries: 2", 20 * time.Second, ""},
		{"wait: 2m\n      timeout: 1m", 0, "a duration is its own bound"},
		{"wait: {for: healthy, timeout: 1m}\n      timeout: 2m", 0, "wait has two timeouts"},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			src := "playbook: t\nfrom: \"3.4\"\nto: \"3.5\"\nmembers:\n  steps:\n    - " + tt.step + "\n"
			pb, err := schema.LoadPlaybook("t.yaml", []byte(src), steps.Default())
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("want error %q, got %v", tt.err, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if got := time.Duration(pb.Members.Steps[0].Bound); got != tt.want {
				t.Errorf("bound %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPlanRefusesWrongAPI(t *testing.T) {
	inv, err := schema.LoadInventory("inv.yaml", []byte(strings.Replace(inventory, "api: v3", "api: v2", 1)))
	if err != nil {
		t.Fatal(err)
	}
	c := &steps.PlanContext{Inventory: inv}
	if _, err := (&steps.Backup{From: "leader"}).Plan(c); err == nil || !strings.Contains(err.Error(), "use from: self") {
		t.Errorf("backup from leader on v2: %v", err)
	}
	if _, err := (&steps.MoveLeader{}).Plan(c); err == nil || !strings.Contains(err.Error(), "needs the v3 API") {
		t.Errorf("move-leader on v2: %v", err)
	}
	m := inv.Resolve(inv.Members[0])
	m.DataDir = ""
	c.Member = &m
	if _, err := (&steps.Backup{From: "self"}).Plan(c); err == nil || !strings.Contains(err.Error(), "needs data_dir") {
		t.Errorf("backup without data_dir: %v", err)
	}
}

// TestPlanWithoutInventory: every action can describe itself with no
// inventory and no member (a playbook reviewed on its own) without panicking.
func TestPlanWithoutInventory(t *testing.T) {
	src := `playbook: t
from: "3.4"
to: "3.5"
preflight:
  - health: {}
  - assert-version: {cluster: "3.4", min: "3.4.1"}
  - check: {that: "true", message: m}
  - backup: {from: leader}
  - confirm: ok?
  - ssh-run: [echo, ok]
members:
  steps:
    - move-leader: {}
    - ssh-stop: {}
    - backup: {from: self}
    - swap: {to: "3.5"}
    - ssh-start: {}
    - wait: {for: caught-up}
    - wait: 1m
`
	pb, err := schema.LoadPlaybook("t.yaml", []byte(src), steps.Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range pb.Phases() {
		for _, s := range ph.Steps {
			p, err := s.Args.(steps.Action).Plan(&steps.PlanContext{Playbook: pb, Phase: ph.Phase})
			if err != nil || p.Text == "" {
				t.Errorf("%s: %q %v", s.Action, p.Text, err)
			}
		}
	}
}
