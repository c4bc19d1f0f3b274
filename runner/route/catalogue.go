package route

import (
	"slices"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// Entry is one playbook of the catalogue.
type Entry struct {
	Name string // the shipped name, "3.5-to-3.6"
	From schema.Minor
	To   schema.Minor
	// Floor is the oldest release every member must run before this
	// playbook starts: the highest `assert-version: {min: ...}` of its
	// preflight; zero when it asserts none.
	Floor schema.Version
}

// Kind says what a playbook does to the minor line.
func (e Entry) Kind() string {
	switch {
	case e.From == e.To:
		return KindPatch
	case minorLess(e.To, e.From):
		return KindDowngrade
	}
	return KindMinor
}

// Kinds of hop (and of catalogue entry).
const (
	KindPatch     = "patch"     // same minor, a newer release
	KindMinor     = "minor"     // one minor up (2.3 to 3.0 across the major)
	KindDowngrade = "downgrade" // one minor down; never part of a route
)

// Catalogue is every playbook a route may use.
type Catalogue []Entry

// EntryOf reads a playbook's catalogue entry: its from, to, and the floor
// its preflight asserts.
func EntryOf(name string, pb *schema.Playbook) Entry {
	e := Entry{Name: name, From: pb.From, To: pb.To}
	for _, s := range pb.Preflight {
		if a, ok := s.Args.(*steps.AssertVersion); ok && e.Floor.Less(a.Min) {
			e.Floor = a.Min
		}
	}
	return e
}

// patch is the patch playbook of minor m, if one ships.
func (c Catalogue) patch(m schema.Minor) (Entry, bool) {
	for _, e := range c {
		if e.From == m && e.To == m {
			return e, true
		}
	}
	return Entry{}, false
}

// Next is the playbook that upgrades minor m one minor up, if one ships
// (never a patch or a downgrade playbook).
func (c Catalogue) Next(m schema.Minor) (Entry, bool) {
	for _, e := range c {
		if e.From == m && e.Kind() == KindMinor {
			return e, true
		}
	}
	return Entry{}, false
}

// downgrades are the names of the downgrade playbooks, for the refusal of
// a route that goes down.
func (c Catalogue) downgrades() []string {
	var out []string
	for _, e := range c {
		if e.Kind() == KindDowngrade {
			out = append(out, e.Name)
		}
	}
	return out
}

// names are every playbook's name, for a refusal that lists what ships.
func (c Catalogue) names() []string {
	var out []string
	for _, e := range c {
		out = append(out, e.Name)
	}
	slices.Sort(out)
	return out
}

func minorLess(a, b schema.Minor) bool {
	if a.Major != b.Major {
		return a.Major < b.Major
	}
	return a.Minor < b.Minor
}
