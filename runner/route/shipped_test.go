package route

import "testing"

// The floors are the playbooks' own: 3.5-to-3.6 asserts 3.5.32 in its
// preflight, and the catalogue reads it from there.
func TestShippedFloorsComeFromThePlaybooks(t *testing.T) {
	cat, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	e := cat.find("3.5-to-3.6")
	if e.Name == "" {
		t.Fatalf("no 3.5-to-3.6 in %v", cat.names())
	}
	if e.Floor != version("3.5.32") || e.Kind() != KindMinor {
		t.Errorf("3.5-to-3.6: floor %s kind %s, want 3.5.32 minor", e.Floor, e.Kind())
	}
	if e := cat.find("3.4-to-3.5"); e.Name == "" || e.From != minor("3.4") || e.To != minor("3.5") {
		t.Errorf("3.4-to-3.5 entry %+v", e)
	}
}

// The route over the real catalogue: from 3.5 below its floor to 3.7 in
// one command, patch first, each hop on the inventory's newest release.
func TestShippedRouteFrom35BelowTheFloorTo37(t *testing.T) {
	cat, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Plan(cat, live("3.5.0", "3.5.21", "3.5.21", "3.5.21"), versions("3.5.21", "3.5.35", "3.6.16", "3.7.1"), Target{Minor: minor("3.7")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hops(r), "3.5-patch=3.5.35 3.5-to-3.6=3.6.16 3.6-to-3.7=3.7.1"; got != want {
		t.Errorf("route %q, want %q", got, want)
	}
	if e := cat.find("3.6-to-3.7"); e.Floor != version("3.6.11") {
		t.Errorf("3.6-to-3.7 floor %s, want 3.6.11 (its assert-version min)", e.Floor)
	}
}

func (c Catalogue) find(name string) Entry {
	for _, e := range c {
		if e.Name == name {
			return e
		}
	}
	return Entry{}
}
