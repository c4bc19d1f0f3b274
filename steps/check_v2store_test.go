package steps

import (
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/schema"
)

// TestV2StoreFound: etcdutl 3.5.35's three outcomes, as it prints them
// (the WAL one seen on the bed), and anything else is not read as clean.
func TestV2StoreFound(t *testing.T) {
	for _, c := range []struct {
		exit  int
		out   string
		found string
		ok    bool
	}{
		{0, "No custom content found in both v2store and WAL records.\n", v2storeClean, true},
		{1, "Error: detected custom content in v2store\n", v2storeDirty, true},
		{1, "Error: detected custom v2 content in WAL records\n", v2storeDirtyWAL, true},
		{1, "No custom content found in both v2store and WAL records.\n", "", false}, // a clean word with a failing exit
		{1, "Error: open /data/member/wal: permission denied\n", "", false},
		{1, "Error: unknown command \"v2store\" for \"etcdutl check\"\n", "", false},
	} {
		found, ok := v2storeFound(c.exit, c.out)
		if found != c.found || ok != c.ok {
			t.Errorf("exit %d %q: %q %v, want %q %v", c.exit, c.out, found, ok, c.found, c.ok)
		}
	}
	err := v2storeRefusal([]v2storeOutcome{{member: "a", dataDir: "/d", found: v2storeDirty}, {member: "b", dataDir: "/e", found: v2storeDirtyWAL}})
	for _, want := range []string{`member a: etcdutl check v2store --data-dir /d says "detected custom content in v2store": migrate`, "write-only-skip-check", `member b:`, "--snapshot-count=1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
}

// TestV2StoreRelease: the etcdutl is the newest 3.5 release's, 3.5.32 or
// newer, and must be named.
func TestV2StoreRelease(t *testing.T) {
	inv := func(rs ...*schema.Release) *schema.Inventory {
		i := &schema.Inventory{Releases: map[string]*schema.Release{}}
		for _, r := range rs {
			i.Releases[r.Version.String()] = r
		}
		return i
	}
	v := func(p int) schema.Version { return schema.Version{Major: 3, Minor: 5, Patch: p} }
	if _, err := v2storeRelease(inv(&schema.Release{Version: v(21), Etcdutl: "/x"})); err == nil || !strings.Contains(err.Error(), "3.5.32 or newer") {
		t.Errorf("3.5.21: %v", err)
	}
	if _, err := v2storeRelease(inv(&schema.Release{Version: v(35)})); err == nil || !strings.Contains(err.Error(), "names no etcdutl") {
		t.Errorf("no etcdutl: %v", err)
	}
	if r, err := v2storeRelease(inv(&schema.Release{Version: v(21), Etcdutl: "/a"}, &schema.Release{Version: v(35), Etcdutl: "/b"})); err != nil || r.Etcdutl != "/b" {
		t.Errorf("newest: %v %v", r, err)
	}
	m := &schema.MemberConfig{Name: "m"}
	if d, err := DataDirOf(m, map[string]string{"data-dir": "/var/lib/etcd/"}); err != nil || d != "/var/lib/etcd" {
		t.Errorf("data dir from options: %q %v", d, err)
	}
	if _, err := DataDirOf(m, map[string]string{"data-dir": "m.etcd"}); err == nil || !strings.Contains(err.Error(), "relative") {
		t.Errorf("relative data dir: %v", err)
	}
	m.DataDir = "/srv/etcd"
	if d, _ := DataDirOf(m, map[string]string{"data-dir": "m.etcd"}); d != "/srv/etcd" {
		t.Errorf("inventory data_dir: %q", d)
	}
}

// TestV2StoreSudoLine: MemberPrivileged lists the check's exact argv when
// reading the data directory needs sudo and the etcdutl is a path on the
// member, and nothing for an upload (sudo never runs the login user's
// file) or a readable data directory.
func TestV2StoreSudoLine(t *testing.T) {
	yes := true
	m := &schema.MemberConfig{Name: "m", Overrides: schema.Overrides{Binary: "/usr/bin/etcd", DataDir: "/var/lib/etcd", SSH: &schema.SSH{Sudo: &yes},
		Service: &schema.Service{Start: "systemctl start etcd", Stop: "systemctl stop etcd"}}}
	want := "/opt/etcd/3.5.35/etcdutl check v2store --data-dir=/var/lib/etcd"
	has := func(r *schema.Release, f HostFacts) bool {
		inv := &schema.Inventory{Cluster: "c", Releases: map[string]*schema.Release{"3.5.35": r}}
		cmds, err := MemberPrivileged(inv, m, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			if c.String() == want {
				return true
			}
		}
		return false
	}
	v := schema.Version{Major: 3, Minor: 5, Patch: 35}
	remote := &schema.Release{Version: v, Remote: "/opt/etcd/3.5.35/etcd", Etcdutl: "/opt/etcd/3.5.35/etcdutl"}
	if !has(remote, OfflineHostFacts(m)) {
		t.Errorf("no %q for a remote etcdutl and an unreadable data dir", want)
	}
	if has(remote, HostFacts{Programs: map[string]string{}, Files: map[string]FileOwner{}}) {
		t.Error("a check line for a data dir the login user reads")
	}
	if has(&schema.Release{Version: v, Upload: "./etcd", Etcdutl: "./etcdutl"}, OfflineHostFacts(m)) {
		t.Error("a sudo line for an uploaded etcdutl")
	}
}
