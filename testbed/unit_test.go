package testbed

import (
	"net"
	"strings"
	"testing"
)

func TestVersionsFile(t *testing.T) {
	vs := Versions()
	if len(vs) < 10 {
		t.Fatalf("versions.txt lists %d versions", len(vs))
	}
	for _, role := range []string{"2.0", "2.1", "2.2", "2.3", "3.0", "3.1", "3.2", "3.3", "3.4", "3.5", "3.5-below-floor", "3.6", "3.6-below-floor", "3.7"} {
		v, err := Resolve(role)
		if err != nil {
			t.Errorf("role %s: %v", role, err)
			continue
		}
		if !strings.HasPrefix(v, strings.TrimSuffix(role, "-below-floor")+".") {
			t.Errorf("role %s resolves to %s", role, v)
		}
		if again, err := Resolve(v); err != nil || again != v {
			t.Errorf("Resolve(%s) = %s, %v", v, again, err)
		}
	}
	if _, err := Resolve("9.9"); err == nil {
		t.Error("Resolve(9.9) did not fail")
	}
	if v, _ := Resolve("2.3"); apiOf(v) != "v2" {
		t.Errorf("2.3 API %s", apiOf(v))
	}
	if v, _ := Resolve("3.0"); apiOf(v) != "v3" || hasEtcdutl(v) {
		t.Errorf("3.0: API %s, etcdutl %v", apiOf(v), hasEtcdutl(v))
	}
	if v, _ := Resolve("3.4"); apiOf(v) != "v3" || hasEtcdutl(v) {
		t.Errorf("3.4: API %s, etcdutl %v", apiOf(v), hasEtcdutl(v))
	}
}

func TestParseVersionsRejects(t *testing.T) {
	for _, bad := range []string{"", "3.5.1 v4 x", "3.5.1 v3 a\n3.5.2 v3 a", "3.5.1"} {
		if _, err := parseVersions(bad); err == nil {
			t.Errorf("parseVersions(%q) accepted", bad)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for body, want := range map[string]VersionInfo{
		`{"releaseVersion":"2.0.8","internalVersion":"2"}`:                {Server: "2.0.8"},
		`{"etcdserver":"2.3.8","etcdcluster":"2.3.0"}`:                    {Server: "2.3.8", Cluster: "2.3.0"},
		`{"etcdserver":"2.1.1","etcdcluster":"not_decided"}`:              {Server: "2.1.1", Cluster: "not_decided"},
		`{"etcdserver":"3.6.16","etcdcluster":"3.6.0","storage":"3.6.0"}`: {Server: "3.6.16", Cluster: "3.6.0", Storage: "3.6.0"},
		"etcd 2.0.0\n": {Server: "2.0.0"},
	} {
		got, err := parseVersion([]byte(body))
		if err != nil || got != want {
			t.Errorf("parseVersion(%s) = %+v, %v; want %+v", body, got, err, want)
		}
	}
	if _, err := parseVersion([]byte(`{"x":1}`)); err == nil {
		t.Error("a /version without a server version was accepted")
	}
}

func TestCheckValue(t *testing.T) {
	v := keyValue("bed-x", "/k1", 1)
	if err := checkValue("/k1", v); err != nil {
		t.Fatal(err)
	}
	if err := checkValue("/k2", v); err == nil {
		t.Error("a value moved to another key passed")
	}
	if err := checkValue("/k1", v[:len(v)-3]+"zzz"); err == nil {
		t.Error("a corrupted checksum passed")
	}
	if err := checkValue("/k1", strings.Replace(v, "bed-x", "bed-y", 1)); err == nil {
		t.Error("a changed body passed")
	}
}

func TestListeningFindsASocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.99:0")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Listening([]string{"127.0.0.99"})
	if err != nil || len(got) != 1 || got[0] != l.Addr().String() {
		t.Fatalf("Listening = %v, %v; want [%s]", got, err, l.Addr())
	}
	l.Close()
	if got, _ := Listening([]string{"127.0.0.99"}); len(got) != 0 {
		t.Fatalf("still listed after close: %v", got)
	}
}

// TestSettled pins what a settled member reports: the moments a fresh
// cluster passes through (cluster version 3.0.0 or not_decided, a 3.6
// follower's unset storage version) are not settled.
func TestSettled(t *testing.T) {
	hosts := func(vs ...string) []*Host {
		var hs []*Host
		for _, v := range vs {
			hs = append(hs, &Host{version: v})
		}
		return hs
	}
	for _, tc := range []struct {
		versions []string
		want     string
	}{
		{[]string{"3.6.16", "3.6.16"}, "3.6.0"},
		{[]string{"3.6.16", "3.5.35", "3.6.16"}, "3.5.0"},
		{[]string{"2.3.8"}, "2.3.0"},
		{[]string{"2.0.8", "2.1.1"}, ""},
	} {
		if got := settledClusterVersion(hosts(tc.versions...)); got != tc.want {
			t.Errorf("settledClusterVersion(%v) = %q, want %q", tc.versions, got, tc.want)
		}
	}
	for _, tc := range []struct {
		installed, cluster string
		v                  VersionInfo
		settled            bool
	}{
		{"3.6.16", "3.6.0", VersionInfo{"3.6.16", "3.6.0", "3.6.0"}, true},
		{"3.6.16", "3.6.0", VersionInfo{"3.6.16", "3.6.0", ""}, false},
		{"3.6.16", "3.6.0", VersionInfo{"3.6.16", "3.0.0", "3.6.0"}, false},
		{"3.6.16", "3.5.0", VersionInfo{"3.6.16", "3.5.0", "3.5.0"}, true},
		{"3.5.35", "3.5.0", VersionInfo{"3.5.35", "3.5.0", ""}, true},
		{"3.5.35", "3.5.0", VersionInfo{"3.5.34", "3.5.0", ""}, false},
		{"2.3.8", "2.3.0", VersionInfo{"2.3.8", "not_decided", ""}, false},
		{"2.0.8", "", VersionInfo{"2.0.8", "", ""}, true},
	} {
		why := settled(tc.installed, tc.cluster, tc.v)
		if (why == "") != tc.settled {
			t.Errorf("settled(%s, %s, %+v) = %q, want settled %v", tc.installed, tc.cluster, tc.v, why, tc.settled)
		}
	}
}
