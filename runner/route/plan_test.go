package route

import (
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/schema"
)

// fake is a catalogue shaped like the shipped one: patch playbooks for
// 3.5 and 3.6, the minors from 3.4 to 3.7 with the 3.6 and 3.7 floors,
// the 2.3 to 3.0 crossing, and one downgrade.
var fake = Catalogue{
	{Name: "2.3-to-3.0", From: minor("2.3"), To: minor("3.0")},
	{Name: "3.0-to-3.1", From: minor("3.0"), To: minor("3.1")},
	{Name: "3.4-to-3.5", From: minor("3.4"), To: minor("3.5")},
	{Name: "3.5-patch", From: minor("3.5"), To: minor("3.5")},
	{Name: "3.5-to-3.6", From: minor("3.5"), To: minor("3.6"), Floor: version("3.5.32")},
	{Name: "3.6-patch", From: minor("3.6"), To: minor("3.6")},
	{Name: "3.6-to-3.7", From: minor("3.6"), To: minor("3.7"), Floor: version("3.6.11")},
	{Name: "3.6-to-3.5", From: minor("3.6"), To: minor("3.5")},
}

func minor(s string) schema.Minor {
	m, err := schema.ParseMinor(s)
	if err != nil {
		panic(err)
	}
	return m
}

func version(s string) schema.Version {
	v, err := schema.ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

func versions(ss ...string) []schema.Version {
	var out []schema.Version
	for _, s := range ss {
		out = append(out, version(s))
	}
	return out
}

func live(cluster string, servers ...string) Live {
	l := Live{Cluster: cluster}
	for i, s := range servers {
		l.Members = append(l.Members, Member{Name: "infra" + string(rune('0'+i)), Server: s})
	}
	return l
}

func target(t *testing.T, s string) Target {
	t.Helper()
	to, err := ParseTarget(s)
	if err != nil {
		t.Fatal(err)
	}
	return to
}

// hops renders a route as "playbook=release" words.
func hops(r *Route) string {
	var out []string
	for _, h := range r.Hops {
		out = append(out, h.Playbook+"="+h.Release.String())
	}
	return strings.Join(out, " ")
}

func TestPlanRoutes(t *testing.T) {
	all := versions("3.5.21", "3.5.33", "3.6.5", "3.6.14", "3.7.0", "3.7.1")
	tests := []struct {
		name     string
		live     Live
		releases []schema.Version
		to       string
		want     string
	}{
		{"below the 3.6 floor: patch first", live("3.5.0", "3.5.21", "3.5.21", "3.5.21"), all, "3.6",
			"3.5-patch=3.5.33 3.5-to-3.6=3.6.14"},
		{"3.5 below the floor to 3.7: patch, 3.5 to 3.6, 3.6 to 3.7", live("3.5.0", "3.5.21", "3.5.21", "3.5.21"), all, "3.7",
			"3.5-patch=3.5.33 3.5-to-3.6=3.6.14 3.6-to-3.7=3.7.1"},
		{"exact target", live("3.5.0", "3.5.33", "3.5.33", "3.5.33"), versions("3.5.33", "3.6.14", "3.7.0"), "3.7.0",
			"3.5-to-3.6=3.6.14 3.6-to-3.7=3.7.0"},
		{"one member below the floor is enough for the patch hop", live("3.5.0", "3.5.33", "3.5.21", "3.5.33"), all, "3.6",
			"3.5-patch=3.5.33 3.5-to-3.6=3.6.14"},
		{"at the floor: no patch", live("3.5.0", "3.5.32", "3.5.32", "3.5.32"), all, "3.6",
			"3.5-to-3.6=3.6.14"},
		{"on the target minor below the newest: a patch", live("3.6.0", "3.6.5", "3.6.5", "3.6.5"), all, "3.6",
			"3.6-patch=3.6.14"},
		{"already there: no hop", live("3.6.0", "3.6.14", "3.6.14", "3.6.14"), all, "3.6", ""},
		{"above the newest listed: no hop", live("3.6.0", "3.6.16", "3.6.16", "3.6.16"), all, "3.6", ""},
		{"a hop left half-done is finished first, no patch", live("3.5.0", "3.5.33", "3.6.14", "3.5.33"), all, "3.7",
			"3.5-to-3.6=3.6.14 3.6-to-3.7=3.7.1"},
		{"members on 3.6, cluster version still 3.5", live("3.5.0", "3.6.14", "3.6.14", "3.6.14"), all, "3.6",
			"3.5-to-3.6=3.6.14"},
		{"across the major", live("2.3.0", "2.3.8", "2.3.8", "2.3.8"), versions("2.3.8", "3.0.17", "3.1.20"), "3.1",
			"2.3-to-3.0=3.0.17 3.0-to-3.1=3.1.20"},
		{"reported with a v and a suffix", live("3.5.0", "v3.5.33", "3.5.33-rc.0", "3.5.33"), all, "3.6",
			"3.5-to-3.6=3.6.14"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Plan(fake, tt.live, tt.releases, target(t, tt.to))
			if err != nil {
				t.Fatalf("Plan: %v (hint: %s)", err, exit.Hint(err))
			}
			if got := hops(r); got != tt.want {
				t.Errorf("hops = %q, want %q", got, tt.want)
			}
			for i, h := range r.Hops {
				if r.Releases[i] != h.Release {
					t.Errorf("Releases[%d] = %s, hop installs %s", i, r.Releases[i], h.Release)
				}
			}
		})
	}
}

func TestPlanRefuses(t *testing.T) {
	tests := []struct {
		name     string
		cat      Catalogue
		live     Live
		releases []schema.Version
		to       string
		code     int
		says     []string
	}{
		{"no release at the floor", fake, live("3.5.0", "3.5.21", "3.5.21", "3.5.21"), versions("3.5.30", "3.6.14"), "3.6",
			exit.Invalid, []string{"a 3.5 release, 3.5.32 or newer", "3.5-to-3.6 asserts every member runs 3.5.32"}},
		{"every missing release named at once", fake, live("3.5.0", "3.5.21", "3.5.21", "3.5.21"), versions("3.5.21"), "3.7",
			exit.Invalid, []string{"a 3.5 release, 3.5.32 or newer", "a 3.6 release, 3.6.11 or newer", "a 3.7 release (the target"}},
		{"the intermediate release under the next floor", fake, live("3.5.0", "3.5.33", "3.5.33", "3.5.33"), versions("3.6.5", "3.7.1"), "3.7",
			exit.Invalid, []string{"a 3.6 release, 3.6.11 or newer", "the newest listed is 3.6.5"}},
		{"exact target not listed", fake, live("3.6.0", "3.6.14", "3.6.14", "3.6.14"), versions("3.7.0"), "3.7.1",
			exit.Invalid, []string{"3.7.1 (the target)"}},
		{"exact target older than the newest listed", fake, live("3.6.0", "3.6.14", "3.6.14", "3.6.14"), versions("3.7.0", "3.7.1"), "3.7.0",
			exit.Refused, []string{"also lists 3.7.1"}},
		{"a skipped minor", fake, live("3.3.0", "3.3.27", "3.3.27", "3.3.27"), versions("3.4.45", "3.5.33"), "3.5",
			exit.Refused, []string{"no shipped playbook upgrades 3.3 one minor up", "cannot skip it"}},
		{"down a minor", fake, live("3.6.0", "3.6.14", "3.6.14", "3.6.14"), versions("3.5.33"), "3.5",
			exit.Refused, []string{"that is a downgrade"}},
		{"down a patch", fake, live("3.6.0", "3.6.14", "3.6.14", "3.6.14"), versions("3.6.5"), "3.6.5",
			exit.Refused, []string{"patch downgrade"}},
		{"no patch playbook", fake[:3], live("3.5.0", "3.5.21", "3.5.21", "3.5.21"), versions("3.5.33", "3.6.14"), "3.6",
			exit.Refused, []string{"no shipped playbook upgrades 3.5"}},
		{"below the floor, no patch playbook", Catalogue{fake[4]}, live("3.5.0", "3.5.21", "3.5.21", "3.5.21"), versions("3.5.33", "3.6.14"), "3.6",
			exit.Refused, []string{"no patch playbook for 3.5 ships"}},
		{"a member above the newest listed release", fake, live("3.6.0", "3.6.5", "3.6.16", "3.6.5"), versions("3.6.14"), "3.6",
			exit.Invalid, []string{"a 3.6 release, 3.6.16 or newer (a member runs 3.6.16; the newest listed is 3.6.14)"}},
		{"a member down", fake, live("3.5.0", "3.5.33", "", "3.5.33"), versions("3.6.14"), "3.6",
			exit.Unreachable, []string{"no server version from infra1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Plan(tt.cat, tt.live, tt.releases, target(t, tt.to))
			if err == nil {
				t.Fatalf("Plan = %q, want a refusal", hops(r))
			}
			if exit.Code(err) != tt.code {
				t.Errorf("exit %d, want %d: %v", exit.Code(err), tt.code, err)
			}
			msg := err.Error() + " | " + exit.Hint(err)
			for _, s := range tt.says {
				if !strings.Contains(msg, s) {
					t.Errorf("refusal does not say %q:\n%s", s, msg)
				}
			}
		})
	}
}

func TestDowngradeNamesThePlaybooks(t *testing.T) {
	_, err := Plan(fake, live("3.6.0", "3.6.14", "3.6.14", "3.6.14"), versions("3.5.33"), target(t, "3.5"))
	if h := exit.Hint(err); !strings.Contains(h, "etcdplay run 3.6-to-3.5 -i INV") {
		t.Errorf("hint %q does not name the downgrade playbook", h)
	}
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]Target{
		"3.7":   {Minor: minor("3.7")},
		"3.7.1": {Minor: minor("3.7"), Exact: version("3.7.1")},
	} {
		if got, err := ParseTarget(in); err != nil || got != want {
			t.Errorf("ParseTarget(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "3", "v3.7", "3.7.x", "latest"} {
		if _, err := ParseTarget(in); err == nil {
			t.Errorf("ParseTarget(%q) took it", in)
		}
	}
}
