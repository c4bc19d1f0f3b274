package steps

import (
	"reflect"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/schema"
)

// A member is found in the snapshot's membership by its client URL first:
// an inventory whose names cross etcd's still restores each host as the
// member that answered there. One the snapshot does not know is refused,
// listing what it knows.
func TestMatchSnapshotMember(t *testing.T) {
	ms := []etcdprobe.SnapshotMember{
		{Name: "infra0", ClientURLs: []string{"https://10.0.0.11:2379"}, PeerURLs: []string{"https://10.0.0.11:2380"}},
		{Name: "infra1", ClientURLs: []string{"https://10.0.0.12:2379"}, PeerURLs: []string{"https://10.0.0.12:2380"}},
	}
	got, err := matchSnapshotMember(ms, schema.MemberConfig{Name: "infra0", Client: "https://10.0.0.12:2379"})
	if err != nil || got.Name != "infra1" {
		t.Errorf("crossed names: got %q, %v; want infra1 (by client URL)", got.Name, err)
	}
	got, err = matchSnapshotMember(ms, schema.MemberConfig{Name: "infra0", Client: "https://lb:2379"})
	if err != nil || got.Name != "infra0" {
		t.Errorf("by name: got %q, %v; want infra0", got.Name, err)
	}
	_, err = matchSnapshotMember(ms, schema.MemberConfig{Name: "infra9", Client: "https://10.0.0.19:2379"})
	if err == nil || !strings.Contains(err.Error(), "infra9") || !strings.Contains(err.Error(), "infra1 https://10.0.0.12:2379") {
		t.Errorf("unknown member: %v", err)
	}
}

// Each member's restore command carries its own name and peer URLs, the
// whole initial cluster and the new token, into its staging folder; the
// privileged commands are exactly set aside, put in place, chown (the
// last only when there is an owner to give it to, i.e. under sudo).
func TestRestoreCommands(t *testing.T) {
	p := &RestorePlan{Token: "prod-restore-1", InitialCluster: "a=https://h1:2380,b=https://h2:2380"}
	m := &RestoreMember{Name: "infra1", EtcdName: "b", PeerURLs: []string{"https://h2:2380"}, DataDir: "/var/lib/etcd",
		Aside: "/var/lib/etcd" + asideSuffix, Snapshot: "/home/l/stage/restore/snapshot.db", Output: "/home/l/stage/restore/infra1/data",
		Owner: "etcd", Group: "etcd"}
	got := snapshotRestoreArgv(p, m, "/opt/etcd/etcdutl")
	want := []string{"/opt/etcd/etcdutl", "snapshot", "restore", "/home/l/stage/restore/snapshot.db", "--name", "b",
		"--initial-cluster", "a=https://h1:2380,b=https://h2:2380", "--initial-cluster-token", "prod-restore-1",
		"--initial-advertise-peer-urls", "https://h2:2380", "--data-dir", "/home/l/stage/restore/infra1/data"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("restore argv:\n got %q\nwant %q", got, want)
	}
	f := HostFacts{Programs: map[string]string{"mv": "/usr/bin/mv", "chown": "/usr/bin/chown"}}
	var lines []string
	for _, c := range restorePrivileged(f, m) {
		lines = append(lines, c.String())
	}
	wantLines := []string{
		"/usr/bin/mv -f -- /var/lib/etcd /var/lib/etcd.etcdplay-aside",
		"/usr/bin/mv -f -- /home/l/stage/restore/infra1/data /var/lib/etcd",
		"/usr/bin/chown -R etcd:etcd -- /var/lib/etcd",
	}
	if !reflect.DeepEqual(lines, wantLines) {
		t.Errorf("privileged:\n got %q\nwant %q", lines, wantLines)
	}
	lost := *m
	lost.Aside, lost.Owner, lost.Group = "", "", ""
	if got := restorePrivileged(f, &lost); len(got) != 1 || !strings.Contains(got[0].String(), "/var/lib/etcd") {
		t.Errorf("a member with no data dir left and no sudo: %v, want only the rename into place", got)
	}
}

// The restore is: preflight (check, stage on every host), then every
// member stopped before any binary or data changes, and every member
// restored before any starts; per-member steps name their member.
func TestRestorePlaybookOrder(t *testing.T) {
	inv := &schema.Inventory{Cluster: "prod", Members: []*schema.Member{{Name: "a"}, {Name: "b"}}}
	pb := RestorePlaybook(&RestorePlan{Cluster: "prod", Version: "3.5.35", Backup: BackupManifest{File: "/b/snapshot.db"}}, inv)
	var pre, rest []string
	for _, s := range pb.Preflight {
		pre = append(pre, s.Action+":"+s.Args.(interface{ RestoreMemberName() string }).RestoreMemberName())
	}
	for _, s := range pb.Finish {
		rest = append(rest, s.Action+":"+s.Args.(interface{ RestoreMemberName() string }).RestoreMemberName())
	}
	if want := []string{"restore-check:", "restore-stage:a", "restore-stage:b"}; !reflect.DeepEqual(pre, want) {
		t.Errorf("preflight %v, want %v", pre, want)
	}
	want := []string{"ssh-stop:a", "ssh-stop:b", "restore-binary:a", "restore-binary:b", "restore-data:a", "restore-data:b",
		"ssh-start:a", "ssh-start:b", "restore-wait:"}
	if !reflect.DeepEqual(rest, want) {
		t.Errorf("restore %v, want %v", rest, want)
	}
	for _, s := range append(pb.Preflight, pb.Finish...) {
		if s.Bound <= 0 {
			t.Errorf("%s has no bound", s.Action)
		}
	}
}
