package events

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mattn/go-isatty"
	"github.com/muesli/termenv"
	"golang.org/x/sys/unix"

	"github.com/etcdplay/etcdplay/internal/term"
)

// NewLogger builds the one logger main creates and passes down (in a
// context, with log.WithContext, the soft-serve way); components derive
// their own with WithPrefix. Colour follows w: plain text unless w is a
// terminal and NO_COLOR is unset (CLICOLOR_FORCE, the other half of the
// same convention, can force it on).
func NewLogger(w io.Writer, level log.Level) *log.Logger {
	// The logger's renderer is built on a writer that hides the terminal:
	// given the *os.File, lipgloss asks the terminal for its colours
	// (OSC 10/11) at once, and on a pseudo-terminal nobody answers
	// (docker run -t, ssh -t from automation) each question waits 5 s.
	// The profile is set explicitly instead, from the real writer.
	l := log.NewWithOptions(&noTerminal{w}, log.Options{
		Level:           level,
		ReportTimestamp: true,
		TimeFormat:      time.TimeOnly,
	})
	l.SetColorProfile(ColorProfile(w))
	return l
}

// noTerminal is a writer that does not look like a terminal (no Fd), so
// nothing built on it queries one.
type noTerminal struct{ io.Writer }

// TerminalWidth is w's width in columns, or 0 when w is not a terminal.
// It asks the kernel (TIOCGWINSZ), not the terminal.
func TerminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}

// IsTerminal reports whether w is a terminal that can take in-place
// updates (not TERM=dumb).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd()) && os.Getenv("TERM") != "dumb"
}

// ColorProfile is the colour profile output to w should use: termenv.Ascii
// (no escape sequences at all) when w is not a terminal, NO_COLOR is set,
// or a CI variable is (termenv's rule: CI logs stay plain).
// It is the detection lipgloss would do lazily, done once up front so the
// decision is explicit and testable.
func ColorProfile(w io.Writer) termenv.Profile {
	return termenv.NewOutput(w).EnvColorProfile()
}

// Human renders events as progress lines for people:
//
//	INFO infra1: step 3/8 ssh-stop done took=1.2s elapsed=14.1s
//
// Per-member events carry the member as the logger prefix, cluster-wide
// ones the phase; elapsed counts from the member's start (or the run's).
type Human struct {
	log *log.Logger

	mu          sync.Mutex
	runStart    time.Time
	memberStart map[string]time.Time
	loggers     map[string]*log.Logger
}

// NewHuman returns a sink rendering to l. l is usually the logger main
// built, already carrying the command's prefix; Human adds its own after
// it ("run/infra0").
func NewHuman(l *log.Logger) *Human {
	return &Human{log: l, memberStart: map[string]time.Time{}, loggers: map[string]*log.Logger{}}
}

// Emit renders e as one line.
func (h *Human) Emit(e Event) {
	e = Redact(e)
	// Names and errors come from the cluster and the hosts: nothing in
	// them may drive the terminal.
	e.Message, e.StepName, e.Member = term.Printable(e.Message), term.Printable(e.StepName), term.Line(e.Member)
	for k, v := range e.Fields {
		if s, ok := v.(string); ok {
			e.Fields[k] = term.Printable(s)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()

	switch e.Kind {
	case RunStart:
		h.runStart = e.Time
	case MemberStart:
		h.memberStart[e.Member] = e.Time
	}
	l := h.logger(e)
	kv := h.keyvals(e)
	switch e.Kind {
	case RunStart:
		l.Info("run started", append([]any{"run", e.RunID}, kv...)...)
	case PhaseStart:
		l.Info("phase "+string(e.Phase), kv...)
	case MemberStart:
		l.Info(cmp.Or(e.Message, "member started"), kv...)
	case StepStart:
		l.Info(stepLabel(e), kv...)
	case StepDone:
		l.Info(stepLabel(e)+" done", kv...)
	case StepSkipped:
		l.Info(stepLabel(e)+" skipped", kv...)
	case StepFailed:
		l.Error(stepLabel(e)+" failed", kv...)
	case StepInterrupted:
		l.Warn(stepLabel(e)+" interrupted", kv...)
	case MemberDone:
		l.Info(cmp.Or(e.Message, "member done"), kv...)
	case Warn:
		l.Warn(cmp.Or(e.Message, "warning"), kv...)
	case RunDone:
		l.Info(cmp.Or(e.Message, "run done"), kv...)
	case RunFailed:
		l.Error(cmp.Or(e.Message, "run failed"), kv...)
	case Interrupted:
		l.Warn(cmp.Or(e.Message, "interrupted"), kv...)
	default:
		l.Info(cmp.Or(e.Message, string(e.Kind)), kv...)
	}
}

// logger returns the logger for e's member or phase, derived once from
// the base logger so its prefix composes with main's.
func (h *Human) logger(e Event) *log.Logger {
	name := e.Member
	if name == "" {
		name = string(e.Phase)
	}
	if name == "" {
		name = "run"
	}
	if l, ok := h.loggers[name]; ok {
		return l
	}
	prefix := name
	if base := h.log.GetPrefix(); base != "" {
		prefix = base + "/" + name
	}
	l := h.log.WithPrefix(prefix)
	h.loggers[name] = l
	return l
}

// keyvals are the key/value pairs after the message: the error or reason,
// how long the thing took, time since the member (or run) started, then
// the event's own fields in sorted order.
func (h *Human) keyvals(e Event) []any {
	var kv []any
	switch e.Kind {
	case StepFailed, RunFailed:
		if e.Message != "" {
			kv = append(kv, "err", e.Message)
		}
	case StepSkipped:
		if e.Message != "" {
			kv = append(kv, "reason", e.Message)
		}
	case StepStart, StepDone:
		if e.Message != "" {
			kv = append(kv, "msg", e.Message)
		}
	}
	if e.Duration != 0 {
		kv = append(kv, "took", roundDuration(e.Duration))
	}
	if e.Kind != RunStart && e.Kind != MemberStart {
		start := h.runStart
		if s, ok := h.memberStart[e.Member]; ok && e.Member != "" {
			start = s
		}
		if !start.IsZero() && !e.Time.IsZero() {
			kv = append(kv, "elapsed", roundDuration(e.Time.Sub(start)))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		kv = append(kv, k, e.Fields[k])
	}
	return kv
}

// stepLabel is "step 3/8 ssh-stop", or "step 3/8 stop etcd (ssh-stop)"
// when the step has its own name.
func stepLabel(e Event) string {
	pos := fmt.Sprintf("step %d", e.StepIndex)
	if e.Steps > 0 {
		pos = fmt.Sprintf("step %d/%d", e.StepIndex, e.Steps)
	}
	switch {
	case e.StepName != "" && e.Action != "" && e.StepName != e.Action:
		return fmt.Sprintf("%s %s (%s)", pos, e.StepName, e.Action)
	case e.Action != "":
		return pos + " " + e.Action
	case e.StepName != "":
		return pos + " " + e.StepName
	}
	return pos
}

// roundDuration keeps durations readable: milliseconds under a second,
// tenths of a second above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}
