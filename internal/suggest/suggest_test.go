package suggest

import "testing"

func TestClosest(t *testing.T) {
	cmds := []string{"list", "validate", "status", "plan", "run", "resume", "rollback", "diff"}
	for in, want := range map[string]string{
		"stauts": "status", "statuss": "status", "STATUS": "status", "rollbak": "rollback",
		"frobnicate": "", "x": "", "resum": "resume",
	} {
		if got := Closest(in, cmds); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Closest("data_dir", []string{"data-dir"}); got != "data-dir" {
		t.Errorf("_ and - are the same: %q", got)
	}
}
