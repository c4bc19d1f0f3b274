package exit

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Exit codes, one per failure class. Scripts depend on them: never reuse or
// renumber one.
const (
	OK          = 0   // success
	Internal    = 1   // internal error; diff: the playbooks differ
	Usage       = 2   // bad flags or arguments
	Invalid     = 3   // a playbook or inventory does not load or validate
	Unreachable = 4   // cannot reach the cluster (SSH or etcd connection)
	Refused     = 5   // preflight refused: the cluster is not in an accepted state
	StepFailed  = 6   // a step failed: the rollout stopped
	Locked      = 7   // lock held by another run
	Unhealthy   = 8   // status: the cluster is unhealthy
	Interrupted = 130 // SIGINT/SIGTERM, state journaled
)

// Error is an error with the exit code of its class and an optional hint
// that says what to do next.
type Error struct {
	Code int
	Err  error
	Hint string
}

func (e *Error) Error() string {
	if e.Err == nil {
		return "exit " + strconv.Itoa(e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// New wraps err with code and hint. A nil err stays nil.
func New(code int, err error, hint string) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err, Hint: hint}
}

// Code is the exit code for err: 0 for nil, the outermost Error's code, or
// Internal for an error nobody classified.
func Code(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Hinter is an error that knows what the operator should do next, such as
// the transport's host key errors; Hint finds it anywhere in the chain.
type Hinter interface{ Hint() string }

// Hint returns what to do next for err: the first hint found down its
// chain (an Error's Hint or a Hinter's). Where the chain splits (errors.Join:
// several hosts refused at once) each branch's hint is kept, once each, one
// per line, so every host's next step is shown and none twice.
func Hint(err error) string {
	for err != nil {
		if e, ok := err.(*Error); ok && e.Hint != "" {
			return e.Hint
		}
		if h, ok := err.(Hinter); ok {
			if s := h.Hint(); s != "" {
				return s
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			var hints []string
			for _, e := range u.Unwrap() {
				for _, h := range strings.Split(Hint(e), "\n") {
					if h != "" && !slices.Contains(hints, h) {
						hints = append(hints, h)
					}
				}
			}
			return strings.Join(hints, "\n")
		default:
			return ""
		}
	}
	return ""
}

// Format renders err for a person: its message, then each hint on its own
// "hint: " line. Errors keep hints out of their messages (Hinter), so a
// hint shows exactly once.
func Format(err error) string {
	if err == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(err.Error())
	if h := Hint(err); h != "" {
		for _, line := range strings.Split(h, "\n") {
			b.WriteString("\nhint: " + line)
		}
	}
	return b.String()
}
