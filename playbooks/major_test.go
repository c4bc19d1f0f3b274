package playbooks_test

import (
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/playbooks"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// checkNamed loads a shipped playbook and returns the check step of
// phase whose expression contains expr.
func checkNamed(t *testing.T, name string, phase schema.Phase, expr string) *steps.Check {
	t.Helper()
	src, path, err := playbooks.Read(name)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := schema.LoadPlaybook(path, src, steps.Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range pb.Phases() {
		if ph.Phase != phase {
			continue
		}
		for _, s := range ph.Steps {
			if c, ok := s.Args.(*steps.Check); ok && strings.Contains(c.That.String(), expr) {
				return c
			}
		}
	}
	t.Fatalf("%s has no %s check on %q", name, phase, expr)
	return nil
}

// Test2_3To3_0Checks: the guards 2.3-to-3.0 adds to its guide decide as
// the guide and etcd's code say. The finish refuses a 3.0 cluster whose
// v3 store holds no key but etcdplay's lock (cluster.v3Keys 0, also
// while no member serves v3), and passes once it holds one; the preflight warns about a
// member that leaves its listen URLs to 2.x's defaults (4001 and 7001,
// gone in 3.0), not about one whose options could not be read.
func Test2_3To3_0Checks(t *testing.T) {
	v3data := checkNamed(t, "2.3-to-3.0", schema.PhaseFinish, "cluster.v3Keys")
	if v3data.Severity != "fail" {
		t.Errorf("the v3-data check is %s, want fail", v3data.Severity)
	}
	for keys, want := range map[int64]bool{0: false, 1: true, 9000: true} {
		ok, err := v3data.That.Eval(schema.Facts{Cluster: schema.ClusterFacts{V3Keys: keys}})
		if err != nil || ok != want {
			t.Errorf("v3Keys %d: %v %v, want %v", keys, ok, err, want)
		}
	}

	ports := checkNamed(t, "2.3-to-3.0", schema.PhasePreflight, "listen-client-urls")
	member := func(unknown string, opts ...string) schema.MemberFacts {
		m := schema.MemberFacts{Name: "m", Options: map[string]string{}, OptionsUnknown: unknown}
		for _, o := range opts {
			m.Options[o] = "http://10.0.0.1:2379"
		}
		return m
	}
	for _, c := range []struct {
		name string
		m    schema.MemberFacts
		want bool
	}{
		{"both listen URLs set", member("", "listen-client-urls", "listen-peer-urls"), true},
		{"client URLs left to the defaults", member("", "listen-peer-urls"), false},
		{"peer URLs left to the defaults", member("", "listen-client-urls"), false},
		{"nothing set", member(""), false},
		{"options not read", member("options not read"), true},
	} {
		f := schema.Facts{Cluster: schema.ClusterFacts{Members: []schema.MemberFacts{member("", "listen-client-urls", "listen-peer-urls"), c.m}}}
		ok, err := ports.That.Eval(f)
		if err != nil || ok != c.want {
			t.Errorf("%s: %v %v, want %v", c.name, ok, err, c.want)
		}
	}
}
