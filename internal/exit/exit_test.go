package exit

import (
	"errors"
	"fmt"
	"testing"
)

func TestCodeAndHint(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name string
		err  error
		code int
		hint string
	}{
		{"nil", nil, OK, ""},
		{"plain error is internal", base, Internal, ""},
		{"classified", New(Invalid, base, "fix the file"), Invalid, "fix the file"},
		{"wrapped keeps code", fmt.Errorf("load: %w", New(Locked, base, "")), Locked, ""},
		{"inner hint found", New(Refused, New(Usage, base, "inner"), ""), Refused, "inner"},
		{"interrupted", &Error{Code: Interrupted}, Interrupted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Code(tt.err); got != tt.code {
				t.Errorf("Code = %d, want %d", got, tt.code)
			}
			if got := Hint(tt.err); got != tt.hint {
				t.Errorf("Hint = %q, want %q", got, tt.hint)
			}
		})
	}
	if New(Invalid, nil, "x") != nil {
		t.Error("New with nil error must stay nil")
	}
	if got := (&Error{Code: 130}).Error(); got != "exit 130" {
		t.Errorf("Error() = %q", got)
	}
}

type hinted struct{}

func (hinted) Error() string { return "host key for h:22 is not known" }
func (hinted) Hint() string  { return "check it with ssh-keyscan" }

func TestHintFindsHinterInChain(t *testing.T) {
	err := fmt.Errorf("dial infra0: %w", hinted{})
	if got := Hint(err); got != "check it with ssh-keyscan" {
		t.Errorf("Hint = %q, want the transport error's own hint", got)
	}
	if got := Hint(New(Unreachable, err, "")); got != "check it with ssh-keyscan" {
		t.Errorf("Hint through an Error without hint = %q", got)
	}
	if got := Hint(New(Unreachable, err, "outer")); got != "outer" {
		t.Errorf("outer hint should win, got %q", got)
	}
}
