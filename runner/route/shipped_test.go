package route

import "testing"

// The floors are the playbooks' own: 3.5-to-3.6 asserts 3.5.32 in its
// preflight, and the catalogue reads it from there.
func TestShippedFloorsComeFromThePlaybooks(t *testing.T) {
	cat, err := Shipped()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Entry{}
	for _, e := range cat {
		byName[e.Name] = e
	}
	e, ok := byName["3.5-to-3.6"]
	if !ok {
		t.Fatalf("no 3.5-to-3.6 in %v", cat.names())
	}
	if e.Floor != version("3.5.32") || e.Kind() != KindMinor {
		t.Errorf("3.5-to-3.6: floor %s kind %s, want 3.5.32 minor", e.Floor, e.Kind())
	}
	if e := byName["3.4-to-3.5"]; e.Name == "" || e.From != minor("3.4") || e.To != minor("3.5") {
		t.Errorf("3.4-to-3.5 entry %+v", e)
	}
}
