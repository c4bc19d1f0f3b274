package steps

import (
	"strings"
	"testing"
)

// newestSnap picks the snapshot with the highest raft index, whatever
// order grep printed the files in, and ignores what is not a snapshot.
func TestNewestSnap(t *testing.T) {
	for _, tc := range []struct {
		out, name string
		safe      bool
	}{
		{"", "", false},
		{"/d/member/snap/0000000000000002-0000000000000010.snap:0\n", "0000000000000002-0000000000000010.snap", false},
		{"/d/member/snap/0000000000000003-000000000000001c.snap:1\n/d/member/snap/0000000000000002-0000000000000010.snap:0\n",
			"0000000000000003-000000000000001c.snap", true},
		// a newer 3.5-era-looking snapshot wins over an older safe one
		{"/d/member/snap/0000000000000003-000000000000001c.snap:1\n/d/member/snap/0000000000000003-0000000000000100.snap:0\n",
			"0000000000000003-0000000000000100.snap", false},
		// received backends and broken files are not snapshots
		{"/d/member/snap/0000000000000100.snap.db:0\n/d/member/snap/0000000000000002-0000000000000010.snap.broken:1\n", "", false},
		{"/a:b/member/snap/0000000000000002-0000000000000010.snap:2\n", "0000000000000002-0000000000000010.snap", true},
	} {
		name, safe := newestSnap(tc.out)
		if name != tc.name || safe != tc.safe {
			t.Errorf("newestSnap(%q) = %q, %v; want %q, %v", tc.out, name, safe, tc.name, tc.safe)
		}
	}
}

// A member passes with no v2 request in its WAL, or with one and a newest
// snapshot that records cluster version 3.6.0; the refusal names each
// other member, what was found and the remedy.
func TestV2WALRefusal(t *testing.T) {
	clean := v2WALOutcome{member: "a"}
	safe := v2WALOutcome{member: "b", walFiles: []string{"0.wal"}, snap: "x.snap", snapSafe: true}
	none := v2WALOutcome{member: "c", dataDir: "/var/lib/etcd", walFiles: []string{"0000000000000000-0000000000000000.wal"}}
	old := v2WALOutcome{member: "d", dataDir: "/d", walFiles: []string{"1.wal"}, snap: "0000000000000002-0000000000000010.snap"}
	if !clean.ok() || !safe.ok() || none.ok() || old.ok() {
		t.Fatalf("ok(): clean %v safe %v none %v old %v", clean.ok(), safe.ok(), none.ok(), old.ok())
	}
	msg := v2WALRefusal([]v2WALOutcome{none, old}).Error()
	for _, want := range []string{
		"member c (/var/lib/etcd): WAL 0000000000000000-0000000000000000.wal holds requests 3.5 wrote and it has no raft snapshot",
		"member d (/d): WAL 1.wal holds requests 3.5 wrote and its newest raft snapshot 0000000000000002-0000000000000010.snap predates the cluster version 3.6.0",
		"--snapshot-count=1",
		"run this playbook again",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("refusal lacks %q:\n%s", want, msg)
		}
	}
}

// The greps are exact argv with no sudoers wildcard character, so
// `etcdplay sudoers` can allow them literally.
func TestV2WALArgvNoWildcards(t *testing.T) {
	for _, argv := range [][]string{v2WALArgv("/usr/bin/grep", "/var/lib/etcd"), snapVersionArgv("/usr/bin/grep", "/var/lib/etcd")} {
		for _, a := range argv {
			if strings.ContainsAny(a, "*?[]\"") {
				t.Errorf("argument %q of %v has a sudoers wildcard or a quote", a, argv)
			}
		}
	}
}
