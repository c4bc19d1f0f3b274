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

// TestFormatShowsEachHintOnce: several refusals at once (errors.Join, as
// when several hosts refuse) show each distinct hint once, one per line.
func TestFormatShowsEachHintOnce(t *testing.T) {
	a := New(Unreachable, errors.New("h0 refused"), "run ssh-keyscan h0")
	b := New(Unreachable, errors.New("h1 refused"), "run ssh-keyscan h1")
	err := fmt.Errorf("nothing was run: %w", errors.Join(a, b, a))
	want := "nothing was run: h0 refused\nh1 refused\nh0 refused\nhint: run ssh-keyscan h0\nhint: run ssh-keyscan h1"
	if got := Format(err); got != want {
		t.Errorf("Format =\n%s\nwant\n%s", got, want)
	}
	if got := Format(errors.New("plain")); got != "plain" {
		t.Errorf("Format without hint = %q", got)
	}
}
