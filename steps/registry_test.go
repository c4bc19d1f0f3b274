package steps

import (
	"sort"
	"testing"
)

func TestRegistryPanicsOnDuplicate(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a duplicate action name must panic")
		}
	}()
	NewRegistry(Kind{"health", func() Action { return &Health{} }}, Kind{"health", func() Action { return &Health{} }})
}

func TestRegistryPanicsOnWrongKind(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a constructor whose Kind() disagrees with its name must panic")
		}
	}()
	NewRegistry(Kind{"wait", func() Action { return &Health{} }})
}

func TestDefaultRegistry(t *testing.T) {
	r := Default()
	want := []string{"assert-version", "backup", "check", "check-v2-wal", "check-v2store", "confirm", "downgrade", "health", "move-leader", "refuse-options", "ssh-run", "ssh-start", "ssh-stop", "swap", "wait"}
	got := r.Kinds()
	if !sort.StringsAreSorted(got) || len(got) != len(want) {
		t.Fatalf("kinds = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("kinds = %v, want %v", got, want)
		}
	}
	for _, k := range got {
		a, ok := r.Action(k)
		if !ok || a.Kind() != k {
			t.Errorf("%s: %v %v", k, a, ok)
		}
		// Fresh arguments every time: steps must not share state.
		b, _ := r.Action(k)
		if k != "ssh-stop" && k != "ssh-start" && a == b {
			t.Errorf("%s: New returned the same value twice", k)
		}
	}
	if _, ok := r.New("nope"); ok {
		t.Error("unknown kind found")
	}
}
