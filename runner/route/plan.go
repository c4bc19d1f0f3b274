package route

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/schema"
)

// Member is one member's live server version as etcd reports it ("3.5.21";
// "" when it did not answer).
type Member struct {
	Name   string `json:"name"`
	Server string `json:"server"`
}

// Live is what the route starts from: every member's server version and
// the cluster version (etcd's lowest common version, "3.5.0").
type Live struct {
	Members []Member `json:"members"`
	Cluster string   `json:"cluster_version"`
}

// Target is --to: a minor (the newest release the inventory lists on it)
// or an exact release.
type Target struct {
	Minor schema.Minor
	Exact schema.Version // zero for a minor
}

func (t Target) String() string {
	if !t.Exact.IsZero() {
		return t.Exact.String()
	}
	return t.Minor.String()
}

// ParseTarget reads --to: "3.7" or "3.7.1".
func ParseTarget(s string) (Target, error) {
	if v, err := schema.ParseVersion(s); err == nil {
		return Target{Minor: v.MinorLine(), Exact: v}, nil
	}
	if m, err := schema.ParseMinor(s); err == nil {
		return Target{Minor: m}, nil
	}
	return Target{}, fmt.Errorf("--to %q is neither a minor (3.7: the newest 3.7 release the inventory lists) nor an exact release (3.7.1)", s)
}

// Hop is one playbook run of the route.
type Hop struct {
	Playbook string       `json:"playbook"` // the shipped name
	Kind     string       `json:"kind"`     // patch or minor
	From     schema.Minor `json:"from"`
	To       schema.Minor `json:"to"`
	// Release is the exact release the hop installs: the inventory's
	// newest on To (what swap puts in place).
	Release schema.Version `json:"release"`
	Why     string         `json:"why"`
}

// Route is the whole path from the live versions to the target.
type Route struct {
	Cluster string         `json:"cluster"` // the inventory's name, set by the caller
	Live    Live           `json:"live"`
	From    schema.Version `json:"from"` // the lowest member's release
	Target  string         `json:"target"`
	To      schema.Version `json:"to"` // the release every member ends on
	Hops    []Hop          `json:"hops"`
	// Releases are the releases the inventory must list, in hop order.
	Releases []schema.Version `json:"releases"`
}

// Playbooks are the hops' playbook names, in order.
func (r *Route) Playbooks() []string {
	var out []string
	for _, h := range r.Hops {
		out = append(out, h.Playbook)
	}
	return out
}

// Plan computes the route from live to target over the catalogue, using
// the inventory's releases. A route that would go down, skip a minor no
// playbook covers, or need a release the inventory does not list is
// refused with every missing release named (exit 3 for the inventory,
// 5 for the rest; 4 when a member does not answer).
func Plan(cat Catalogue, live Live, releases []schema.Version, to Target) (*Route, error) {
	lowest, highest, err := spread(live.Members)
	if err != nil {
		return nil, err
	}
	r := &Route{Live: live, From: lowest, Target: to.String()}
	cur := lowest.MinorLine()
	// A hop left half-done (members on two minors, or all on the new one
	// with the cluster version not yet risen) is finished by its own
	// playbook first, which skips the members already on its target.
	inProgress := highest.MinorLine() != cur
	if cv, err := parseReported(live.Cluster); err == nil && minorLess(cv.MinorLine(), cur) {
		cur, inProgress = cv.MinorLine(), true
	}

	if minorLess(to.Minor, highest.MinorLine()) || (!to.Exact.IsZero() && to.Exact.Less(highest)) {
		return nil, downgrade(cat, highest, to)
	}
	newest := func(m schema.Minor) (schema.Version, bool) {
		var best schema.Version
		for _, v := range releases {
			if v.MinorLine() == m && best.Less(v) {
				best = v
			}
		}
		return best, !best.IsZero()
	}
	var missing []string
	final, ok := newest(to.Minor)
	switch {
	case !to.Exact.IsZero() && !slices.Contains(releases, to.Exact):
		missing = append(missing, fmt.Sprintf("%s (the target)", to.Exact))
	case !to.Exact.IsZero() && final != to.Exact:
		return nil, exit.New(exit.Refused,
			fmt.Errorf("--to %s: the inventory also lists %s, and a playbook's swap installs the newest release of its minor", to.Exact, final),
			fmt.Sprintf("upgrade to %s (--to %s), or remove %s from the inventory's releases", final, final, final))
	case !ok:
		missing = append(missing, fmt.Sprintf("a %s release (the target: its newest listed release is installed)", to.Minor))
	}
	r.To = cmpOr(to.Exact, final)
	if ok && to.Exact.IsZero() && final.Less(highest) && lowest.Less(final) {
		// A patch hop installs the newest listed release on every member,
		// and would take the one already above it down.
		missing = append(missing, fmt.Sprintf("a %s release, %s or newer (a member runs %s; the newest listed is %s)", to.Minor, highest, highest, final))
	}

	// need is what every member must run once minor m is done: the floor
	// of the next playbook on the way, or the target on the last minor.
	need := func(m schema.Minor) (schema.Version, string) {
		if m == to.Minor {
			return r.To, "the target"
		}
		if e, ok := cat.Next(m); ok && !e.Floor.IsZero() {
			return e.Floor, fmt.Sprintf("%s asserts every member runs %s or newer", e.Name, e.Floor)
		}
		return schema.Version{}, ""
	}

	if v, why := need(cur); !inProgress && !v.IsZero() && lowest.Less(v) {
		e, ok := cat.patch(cur)
		if !ok {
			return nil, exit.New(exit.Refused,
				fmt.Errorf("every member must run %s or newer first (%s; lowest now %s), and no patch playbook for %s ships", v, why, lowest, cur),
				fmt.Sprintf("patch-upgrade every member to %s or newer by hand, then run again (shipped: %s)", v, strings.Join(cat.names(), ", ")))
		}
		rel, ok := newest(cur)
		switch {
		case !ok || rel.Less(v):
			missing = append(missing, fmt.Sprintf("a %s release, %s or newer (%s)", cur, v, why))
		default:
			r.Hops = append(r.Hops, Hop{Playbook: e.Name, Kind: KindPatch, From: cur, To: cur, Release: rel,
				Why: fmt.Sprintf("%s: every member to %s (lowest now %s)", why, rel, lowest)})
		}
	}
	for m := cur; minorLess(m, to.Minor); {
		e, ok := cat.Next(m)
		if !ok {
			return nil, exit.New(exit.Refused,
				fmt.Errorf("no shipped playbook upgrades %s one minor up, and etcd supports one minor at a time: %s to %s cannot skip it", m, cur, to.Minor),
				"shipped: "+strings.Join(cat.names(), ", "))
		}
		if minorLess(to.Minor, e.To) {
			return nil, exit.New(exit.Refused, fmt.Errorf("%s goes from %s to %s: no etcd release line %s lies on the way", e.Name, e.From, e.To, to.Minor), "")
		}
		rel, ok := newest(e.To)
		v, why := need(e.To)
		switch {
		case !ok && e.To == to.Minor:
			// named once, as the target
		case !ok:
			missing = append(missing, fmt.Sprintf("a %s release%s", e.To, orNewer(v, why)))
		case rel.Less(v):
			missing = append(missing, fmt.Sprintf("a %s release%s: the newest listed is %s", e.To, orNewer(v, why), rel))
		default:
			r.Hops = append(r.Hops, Hop{Playbook: e.Name, Kind: KindMinor, From: e.From, To: e.To, Release: rel,
				Why: fmt.Sprintf("%s to %s, installing %s", e.From, e.To, rel)})
		}
		m = e.To
	}
	if len(missing) > 0 {
		return nil, exit.New(exit.Invalid,
			fmt.Errorf("the route from %s to %s needs releases the inventory does not list: %s", lowest, to, strings.Join(missing, "; ")),
			"add each under the inventory's releases: (\"X.Y.Z\": {remote: PATH} or {upload: FILE, sha256: HEX}), then plan again: etcdplay plan --to "+to.String()+" -i INV")
	}
	for _, h := range r.Hops {
		r.Releases = append(r.Releases, h.Release)
	}
	return r, nil
}

func orNewer(v schema.Version, why string) string {
	if v.IsZero() {
		return ""
	}
	return fmt.Sprintf(", %s or newer (%s)", v, why)
}

func cmpOr(a, b schema.Version) schema.Version {
	if a.IsZero() {
		return b
	}
	return a
}

// spread is the lowest and highest server version; a member that does not
// answer leaves the route unknown.
func spread(ms []Member) (lo, hi schema.Version, err error) {
	if len(ms) == 0 {
		return lo, hi, errors.New("route: no members")
	}
	var down []string
	for _, m := range ms {
		v, perr := parseReported(m.Server)
		if perr != nil {
			down = append(down, m.Name)
			continue
		}
		if lo.IsZero() || v.Less(lo) {
			lo = v
		}
		if hi.Less(v) {
			hi = v
		}
	}
	if len(down) > 0 {
		return lo, hi, exit.New(exit.Unreachable,
			fmt.Errorf("no server version from %s: the route starts from every member's version", strings.Join(down, ", ")),
			"bring every member up and healthy (etcdplay status -i INV), or finish a stopped run with etcdplay resume -i INV")
	}
	return lo, hi, nil
}

// parseReported reads a version as etcd reports it ("3.5.21", "v2.3.8",
// "3.6.0-alpha.0" as 3.6.0).
func parseReported(s string) (schema.Version, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		s = s[:i]
	}
	return schema.ParseVersion(s)
}

// downgrade refuses a route that goes down, naming the playbooks that do.
func downgrade(cat Catalogue, highest schema.Version, to Target) error {
	hint := "a downgrade goes one minor at a time through its own playbook"
	if highest.MinorLine() == to.Minor {
		return exit.New(exit.Refused, fmt.Errorf("--to %s is below %s, which a member runs: that is a patch downgrade, which no playbook does", to, highest),
			"a patch playbook only goes up; to reach an older patch, restore a backup taken on it")
	}
	for _, e := range cat {
		if e.Kind() == KindDowngrade && e.From == highest.MinorLine() {
			return exit.New(exit.Refused, fmt.Errorf("--to %s is below %s, which a member runs: that is a downgrade, not an upgrade", to, highest),
				fmt.Sprintf("%s: etcdplay run %s -i INV (one minor at a time)", hint, e.Name))
		}
	}
	if d := cat.downgrades(); len(d) > 0 {
		hint += " (shipped: " + strings.Join(d, ", ") + ")"
	}
	return exit.New(exit.Refused, fmt.Errorf("--to %s is below %s, which a member runs: that is a downgrade, not an upgrade", to, highest), hint)
}
