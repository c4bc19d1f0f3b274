package steps

import "testing"

// TestEveryActionRuns: the runner type-asserts Runnable; an action that
// forgot Run would be accepted by validate and fail only mid-upgrade.
func TestEveryActionRuns(t *testing.T) {
	critical := map[string]bool{"ssh-stop": true, "swap": true, "ssh-start": true}
	for _, k := range Kinds() {
		a := k.New()
		if _, ok := a.(Runnable); !ok {
			t.Errorf("%s has no Run", k.Name)
		}
		c, ok := a.(Critical)
		if got := ok && c.Critical(); got != critical[k.Name] {
			t.Errorf("%s: Critical() = %v, want %v", k.Name, got, critical[k.Name])
		}
	}
	if _, ok := Action(&Swap{}).(Preflighter); !ok {
		t.Error("swap has no Preflight: the skipped-minor check would not run before members stop")
	}
}
