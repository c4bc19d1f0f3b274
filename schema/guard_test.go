package schema

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func facts() Facts {
	return Facts{
		Cluster: ClusterFacts{Version: "3.4.0", Leader: "infra0", DBSize: 60 * MB, API: "v3", Healthy: true,
			Members: []MemberFacts{{Name: "infra0", Server: "3.4.23"}, {Name: "infra1", Server: "3.4.21"}}},
		Member:   MemberFacts{Name: "infra1", Server: "3.4.23", IsLeader: false},
		Vars:     map[string]any{"has_v2_data": true, "limit": 3},
		Playbook: PlaybookFacts{Name: "etcd 3.4 to 3.5", From: "3.4", To: "3.5"},
	}
}

func TestGuardEval(t *testing.T) {
	tests := []struct {
		src  string
		want bool
	}{
		{`cluster.dbSize > 50 * MB`, true},
		{`cluster.dbSize < 100 * MB && cluster.dbSize < 1 * GB`, true},
		{`semver(member.server) >= semver("3.4.22")`, true},
		{`semver(member.server) < semver("3.4.22")`, false},
		{`semver(member.server) == semver("v3.4.23")`, true},
		{`semver(member.server) != semver("3.4.23")`, false},
		{`semver("3.10.0") > semver("3.9.9")`, true},
		{`semver("3.4.9") <= semver("3.4.10")`, true},
		{`all(cluster.members, {semver(.server) >= semver("3.4.22")})`, false},
		{`len(cluster.alarms) == 0`, true},
		{`!cluster.authEnabled`, true},
		{`vars.has_v2_data && cluster.dbSize > 50 * MB`, true},
		{`vars.limit > 2`, true},
		{`playbook.to == "3.5" && cluster.api == "v3"`, true},
		{`member.isLeader || cluster.leader == "infra0"`, true},
		{`true`, true},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			g, gerr := CompileGuard(tt.src)
			if gerr != nil {
				t.Fatalf("compile: %v", gerr)
			}
			got, err := g.Eval(facts())
			if err != nil {
				t.Fatalf("eval: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGuardEvalErrors(t *testing.T) {
	for _, src := range []string{
		`semver("bad") < semver("1.0.0")`,
		`semver(member.storage) >= semver("3.6.0")`, // zero member: "" is no version
		`vars.missing > 2`,
	} {
		g, gerr := CompileGuard(src)
		if gerr != nil {
			t.Fatalf("%s: compile: %v", src, gerr)
		}
		if _, err := g.Eval(facts()); err == nil {
			t.Errorf("%s: want an eval error, got none", src)
		}
	}
}

// TestGuardEvalNeverCompiles: running a guard must not compile it again.
func TestGuardEvalNeverCompiles(t *testing.T) {
	g, gerr := CompileGuard(`cluster.dbSize > 50 * MB`)
	if gerr != nil {
		t.Fatal(gerr)
	}
	before := compiles.Load()
	for i := 0; i < 100; i++ {
		if _, err := g.Eval(facts()); err != nil {
			t.Fatal(err)
		}
	}
	if n := compiles.Load() - before; n != 0 {
		t.Errorf("Eval compiled %d times", n)
	}
	var nilGuard *Guard
	if _, err := nilGuard.Eval(facts()); err == nil {
		t.Error("a nil guard must be an error")
	}
}

func TestGuardCompileErrors(t *testing.T) {
	tests := []struct {
		src, msg, hint string
	}{
		{`cluster.dbsize > 1`, `cluster has no fact "dbsize"`, `did you mean "dbSize"?`},
		{`member.isleader`, `member has no fact "isleader"`, `did you mean "isLeader"?`},
		{`clustr.healthy`, `unknown name "clustr"`, `did you mean "cluster"?`},
		{`cluster.version`, `must be a boolean`, `compare the value`},
		{`cluster.dbSize >`, `unexpected token EOF`, ``},
		{`   `, `guard is empty`, ``},
	}
	for _, tt := range tests {
		_, gerr := CompileGuard(tt.src)
		if gerr == nil {
			t.Errorf("%q compiled", tt.src)
			continue
		}
		if !strings.Contains(gerr.Msg, tt.msg) || !strings.Contains(gerr.Hint, tt.hint) {
			t.Errorf("%q: got %q (hint %q), want %q (hint %q)", tt.src, gerr.Msg, gerr.Hint, tt.msg, tt.hint)
		}
	}
}

// TestGuardPosition: a compile error points inside the YAML scalar, for
// every scalar style.
func TestGuardPosition(t *testing.T) {
	tests := []struct {
		name, doc string
		want      Pos
	}{
		{"plain", "when: cluster.dbsize > 1\n", Pos{1, 15}},
		{"double quoted", "when: \"cluster.dbsize > 1\"\n", Pos{1, 16}},
		{"double quoted with escapes", "when: \"vars.x == \\\"a\\\" && cluster.dbsize > 1\"\n", Pos{1, 35}},
		{"single quoted with doubled quote", "when: 'vars.x == ''a'' && cluster.dbsize > 1'\n", Pos{1, 35}},
		{"plain over two lines", "when: member.isLeader &&\n  cluster.dbsize > 1\n", Pos{2, 11}},
		{"literal block", "when: |\n  member.isLeader &&\n    cluster.dbsize > 1\n", Pos{3, 13}},
		{"folded block", "when: >\n  member.isLeader &&\n  cluster.dbsize > 1\n", Pos{3, 11}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.doc), &doc); err != nil {
				t.Fatal(err)
			}
			d := newDecoder("t.yaml", []byte(tt.doc), nil)
			if g := d.Guard(doc.Content[0].Content[1], "when"); g != nil {
				t.Fatal("compiled")
			}
			errs := d.Errors()
			if len(errs) != 1 {
				t.Fatalf("got %d errors: %v", len(errs), errs)
			}
			if got := (Pos{errs[0].Line, errs[0].Col}); got != tt.want {
				t.Errorf("at %v, want %v\n%s", got, tt.want, errs.Format())
			}
		})
	}
}
