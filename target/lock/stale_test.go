package lock

import (
	"os"
	"os/exec"
	"testing"
)

func TestHolderDeadHere(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Skip(err)
	}
	for _, tc := range []struct {
		name string
		h    *Holder
		want bool
	}{
		{"holder unknown", nil, false},
		{"alive here (this test)", &Holder{Host: host, PID: os.Getpid()}, false},
		{"dead here", &Holder{Host: host, PID: dead.Process.Pid}, true},
		{"another host", &Holder{Host: host + "-elsewhere", PID: dead.Process.Pid}, false},
	} {
		if got := (&HeldError{Holder: tc.h}).HolderDeadHere(); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
