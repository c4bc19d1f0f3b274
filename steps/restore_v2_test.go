package steps

import (
	"slices"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/schema"
)

// A one-off start runs the member's own etcd command line: its ETCD_*
// variables through env, the binary, its flags; the options that would
// bootstrap a new cluster are left out, for the restore to set.
func TestOneOffArgv(t *testing.T) {
	o := MemberOptions{PID: 7,
		Options: map[string]string{"name": "infra0", "data-dir": "/var/lib/etcd", "initial-cluster": "infra0=http://h1:2380",
			"initial-cluster-state": "new", "initial-cluster-token": "t", "listen-client-urls": "http://h1:2379", "snapshot-count": "5000"},
		Sources: map[string]string{"name": SourceFlag, "data-dir": SourceFlag, "initial-cluster": SourceFlag,
			"initial-cluster-state": SourceEnv, "initial-cluster-token": SourceFlag, "listen-client-urls": SourceFlag, "snapshot-count": SourceEnv}}
	got := oneOffArgv("/usr/bin/etcd", o)
	want := []string{"env", "ETCD_SNAPSHOT_COUNT=5000", "/usr/bin/etcd", "--data-dir=/var/lib/etcd", "--listen-client-urls=http://h1:2379", "--name=infra0"}
	if !slices.Equal(got, want) {
		t.Errorf("one-off argv\n got %q\nwant %q", got, want)
	}
	rm := RestoreMember{OneOff: got}
	if s := rm.seedOneOff(); s[len(s)-1] != "--force-new-cluster" || len(rm.OneOff) != len(want) {
		t.Errorf("seed one-off %q (and the plan's argv must stay as it was: %q)", s, rm.OneOff)
	}
	j := rm.joinOneOff("infra0=http://h1:2380,infra1=http://h2:2380")
	if !slices.Equal(j[len(want):], []string{"--initial-cluster=infra0=http://h1:2380,infra1=http://h2:2380", "--initial-cluster-state=existing"}) {
		t.Errorf("join one-off %q", j)
	}
}

// The v2 restore runs in the admin guide's order: every member stopped
// and its binary put back, the seed's data restored and the others' set
// aside, the seed started with --force-new-cluster and then by its
// service, each other member joined and then started by its service, one
// at a time, and the final wait.
func TestRestorePlaybookV2Order(t *testing.T) {
	p := &RestorePlan{API: "v2", Cluster: "c", Version: "2.1.1", Seed: "b",
		Members: []RestoreMember{{Name: "b", OneOff: []string{"env", "etcd"}}, {Name: "a", OneOff: []string{"env", "etcd"}}, {Name: "c", OneOff: []string{"env", "etcd"}}}}
	inv := &schema.Inventory{Cluster: "c", Members: []*schema.Member{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	pb := RestorePlaybook(p, inv)
	var got []string
	for _, s := range append(pb.Preflight, pb.Finish...) {
		n := ""
		if a, ok := s.Args.(interface{ RestoreMemberName() string }); ok {
			n = a.RestoreMemberName()
		}
		got = append(got, strings.TrimSuffix(s.Action+" "+n, " "))
	}
	want := []string{"restore-check", "restore-stage b",
		"ssh-stop b", "ssh-stop a", "ssh-stop c", "restore-binary b", "restore-binary a", "restore-binary c",
		"restore-data b", "restore-aside a", "restore-aside c", "restore-force-new b", "ssh-start b",
		"restore-join a", "ssh-start a", "restore-join c", "ssh-start c", "restore-wait"}
	if !slices.Equal(got, want) {
		t.Errorf("steps\n got %q\nwant %q", got, want)
	}
}
