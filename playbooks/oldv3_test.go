package playbooks_test

import (
	"testing"

	"github.com/etcdplay/etcdplay/schema"
)

// TestOldV3Checks: the guards the 3.0-to-3.4 playbooks add to their guides
// decide as the guides and etcd's code say.
func TestOldV3Checks(t *testing.T) {
	// 3.0 and 3.1 refuse a cluster without v3 keys (etcd issue 9480).
	for _, name := range []string{"3.0-to-3.1", "3.1-to-3.2"} {
		c := checkNamed(t, name, schema.PhasePreflight, "cluster.v3Keys")
		if c.Severity != "fail" {
			t.Errorf("%s: the v3-data check is %s, want fail", name, c.Severity)
		}
		for keys, want := range map[int64]bool{0: false, 1: true, 5000: true} {
			ok, err := c.That.Eval(schema.Facts{Cluster: schema.ClusterFacts{V3Keys: keys}})
			if err != nil || ok != want {
				t.Errorf("%s: v3Keys %d: %v %v, want %v", name, keys, ok, err, want)
			}
		}
	}

	// 3.2 exits on a listen URL whose host is neither an IP nor localhost
	// (release-3.2 embed/config.go checkBindURLs).
	bind := checkNamed(t, "3.1-to-3.2", schema.PhasePreflight, "listen-peer-urls")
	for _, c := range []struct {
		client, peer, unknown string
		want                  bool
	}{
		{"http://10.0.0.1:2379", "http://10.0.0.1:2380", "", true},
		{"http://10.0.0.1:2379,http://127.0.0.1:2379", "https://[::1]:2380", "", true},
		{"http://localhost:2379", "http://0.0.0.0:2380", "", true},
		{"unix://etcd.sock", "", "", true},
		{"", "", "", true}, // 3.2's default is localhost
		{"http://etcd0.example.com:2379", "http://10.0.0.1:2380", "", false},
		{"http://10.0.0.1:2379", "http://10.0.0.1:2380,http://etcd0:2380", "", false},
		{"http://etcd0.example.com:2379", "", "config file unreadable", true}, // the warn check covers it
	} {
		m := schema.MemberFacts{Name: "m", Options: map[string]string{}, OptionsUnknown: c.unknown}
		if c.client != "" {
			m.Options["listen-client-urls"] = c.client
		}
		if c.peer != "" {
			m.Options["listen-peer-urls"] = c.peer
		}
		ok, err := bind.That.Eval(schema.Facts{Cluster: schema.ClusterFacts{Members: []schema.MemberFacts{m}}})
		if err != nil || ok != c.want {
			t.Errorf("client %q peer %q unknown %q: %v %v, want %v", c.client, c.peer, c.unknown, ok, err, c.want)
		}
	}

	// 3.2.31+ first when auth is on.
	floor := checkNamed(t, "3.2-to-3.3", schema.PhasePreflight, `semver("3.2.31")`)
	for _, c := range []struct {
		auth   bool
		server string
		want   bool
	}{{false, "3.2.0", true}, {true, "3.2.30", false}, {true, "3.2.31", true}, {true, "3.2.32", true}} {
		f := schema.Facts{Cluster: schema.ClusterFacts{AuthEnabled: c.auth, Members: []schema.MemberFacts{{Name: "m", Server: c.server}}}}
		if ok, err := floor.That.Eval(f); err != nil || ok != c.want {
			t.Errorf("auth %v on %s: %v %v, want %v", c.auth, c.server, ok, err, c.want)
		}
	}

	// v2 data needs --enable-v2=true on 3.4.
	v2 := checkNamed(t, "3.3-to-3.4", schema.PhasePreflight, `.options["enable-v2"] == "true"})`)
	for opts, want := range map[string]bool{"true": true, "false": false, "": false} {
		m := schema.MemberFacts{Name: "m", Options: map[string]string{}}
		if opts != "" {
			m.Options["enable-v2"] = opts
		}
		if ok, err := v2.That.Eval(schema.Facts{Cluster: schema.ClusterFacts{Members: []schema.MemberFacts{m}}}); err != nil || ok != want {
			t.Errorf("enable-v2=%q: %v %v, want %v", opts, ok, err, want)
		}
	}
}
