package events

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/muesli/termenv"

	"github.com/etcdplay/etcdplay/internal/term"
)

// Progress is the default view of a run for people: one line per step,
// a header per phase and per member, warnings and gates, and a last line
// saying how the run ended. The full key=value log is Human (`-v`).
//
//	host1  3.5.35 → 3.6
//	  ✓ ssh-stop 1.2s
//	  ✗ wait: member host1 not healthy after 2m
//
// Live (a terminal that is not TERM=dumb): the running step is one line
// with a spinner and its elapsed time, rewritten in place, which becomes
// its ✓/✗ line when it ends. Otherwise (a pipe, a file, CI): only
// finished lines, written once each, so logs never hold carriage returns.
//
// Progress never asks the terminal anything: colour comes from the
// profile it is given (see OutputProfile), so no OSC colour query can
// stall a run on a pseudo-terminal nobody answers.
type Progress struct {
	w    io.Writer
	live bool
	out  *termenv.Output
	now  func() time.Time

	mu       sync.Mutex
	printed  bool // a line was written: a later failure is not the first thing read
	runStart time.Time
	mode     string
	// the step whose line is live (live mode only)
	running *liveStep
	stop    chan struct{}
	done    chan struct{}
	// down measures each member's downtime, the way the report does
	down map[string]*Downtime
	// server is each member's version as the last event saw it (member
	// start, then the post-member gate), for the member's closing line
	server map[string]string
	target map[string]string
	// note is the last remark an action made while its step ran ("leadership
	// moved"), shown after the step's duration instead of a line of its own
	note map[string]string
	// width is the terminal's width: a live line must not wrap, or
	// rewriting it in place would leave its first rows behind
	width int
}

type liveStep struct {
	label string
	start time.Time
	frame int
}

// ProgressOptions configure a Progress.
type ProgressOptions struct {
	// Live rewrites the running step's line in place (a terminal).
	Live bool
	// Profile is the colour profile; termenv.Ascii means no escape
	// sequences at all. OutputProfile decides it without querying.
	Profile termenv.Profile
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NoTicker leaves the spinner still until Tick is called (tests).
	NoTicker bool
	// Width is the terminal's width in columns; 0 means 80.
	Width int
}

// NewProgress returns a Progress writing to w.
func NewProgress(w io.Writer, o ProgressOptions) *Progress {
	p := &Progress{
		w: w, live: o.Live, now: o.Now,
		// WithProfile and no colour cache: termenv asks the terminal
		// nothing (no OSC 10/11 query), ever.
		out:    termenv.NewOutput(w, termenv.WithProfile(o.Profile)),
		down:   map[string]*Downtime{},
		server: map[string]string{}, target: map[string]string{}, note: map[string]string{},
		width: o.Width,
	}
	if p.width <= 0 {
		p.width = 80
	}
	if p.now == nil {
		p.now = time.Now
	}
	if o.Live && !o.NoTicker {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.tick()
	}
	return p
}

// Close stops the spinner and ends a live line still open. Call it once
// the run is over.
func (p *Progress) Close() {
	if p.stop != nil {
		close(p.stop)
		<-p.done
		p.stop = nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLive()
	p.running = nil
}

func (p *Progress) tick() {
	defer close(p.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.Tick()
		}
	}
}

// Tick advances the spinner and redraws the running step's line.
func (p *Progress) Tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running == nil {
		return
	}
	p.running.frame++
	p.clearLive()
	p.drawLive()
}

// Emit renders one event.
func (p *Progress) Emit(e Event) {
	e = oneLine(Redact(e))
	if e.Time.IsZero() {
		e.Time = p.now()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.track(e)
	switch e.Kind {
	case RunStart:
		p.runStart = e.Time
		p.mode, _ = e.Fields["mode"].(string)
		line := cmp.Or(e.Message, "run")
		if c, ok := e.Fields["cluster"].(string); ok && c != "" {
			line += " on " + c
		}
		p.println(p.bold(line) + p.faint(" (run "+e.RunID+")"))
	case PhaseStart:
		line := string(e.Phase)
		if e.Message != "" {
			line += ": " + e.Message
		}
		p.println(p.bold(line))
	case MemberStart:
		p.println(p.memberHeader(e))
	case StepStart:
		if p.live {
			p.clearLive()
			p.running = &liveStep{label: stepTitle(e), start: e.Time}
			p.drawLive()
		}
	case StepDone:
		line := "  " + p.green("✓") + " " + stepTitle(e) + " " + p.faint(shortDuration(e.Duration))
		if note := cmp.Or(e.Message, p.note[stepKey(e)]); note != "" {
			line += p.faint(" · " + note)
		}
		delete(p.note, stepKey(e))
		p.finishStep(line)
	case StepSkipped:
		p.finishStep("  " + p.faint("– "+stepTitle(e)+" skipped: "+e.Message))
	case StepFailed:
		p.finishStep("  " + p.red("✗") + " " + stepTitle(e) + ": " + e.Message)
	case StepInterrupted:
		p.finishStep("  " + p.yellow("■") + " " + stepTitle(e) + " " + p.faint("interrupted after "+shortDuration(e.Duration)))
	case MemberDone:
		p.println(p.memberFooter(e))
	case Warn:
		p.println(p.indent(e) + p.yellow("! "+cmp.Or(e.Message, "warning")))
	case Info:
		if e.StepIndex > 0 {
			// an action's remark: it goes on its step's line, with the
			// file it wrote, if any (where the snapshot is)
			note := e.Message
			if f, ok := e.Fields["file"].(string); ok && f != "" {
				note += ": " + f
			}
			p.note[stepKey(e)] = note
			break
		}
		p.println(p.indent(e) + p.faint("· "+e.Message))
	case Gate, Reconcile:
		p.println(p.indent(e) + p.faint("· "+e.Message))
	case Pause:
		p.println(p.indent(e) + p.yellow("‖ "+e.Message))
	case Record:
		// for the report, not for people watching
	case RunDone:
		p.println(p.green("✓") + " " + cmp.Or(e.Message, "run done") + p.faint(" in "+shortDuration(e.Duration)))
	case RunFailed:
		if !p.printed && e.Message != "" {
			// Refused before anything ran: the cause is the first thing
			// the operator reads (x509, a refused key, a missing sudo rule).
			p.println(p.red("✗") + " " + firstLine(e.Message))
			break
		}
		p.println(p.red("✗") + " " + cmp.Or(p.mode, "run") + " failed after " + shortDuration(e.Duration))
	case Interrupted:
		// where and what next follow in the summary and the final error
		p.println(p.yellow("■") + " " + cmp.Or(p.mode, "run") + " stopped after " + shortDuration(e.Duration))
	default:
		if e.Message != "" {
			p.println(p.indent(e) + e.Message)
		}
	}
}

// oneLine makes e's text safe for one terminal line: names, errors and
// fields come from the cluster and the hosts, and nothing in them may
// drive the terminal or break the one-line-per-step layout.
func oneLine(e Event) Event {
	e.Message, e.StepName, e.Member, e.RunID = term.Line(e.Message), term.Line(e.StepName), term.Line(e.Member), term.Line(e.RunID)
	if len(e.Fields) > 0 {
		f := make(map[string]any, len(e.Fields))
		for k, v := range e.Fields {
			if s, ok := v.(string); ok {
				v = term.Line(s)
			}
			f[k] = v
		}
		e.Fields = f
	}
	return e
}

// track keeps what the member lines need: versions and downtime.
func (p *Progress) track(e Event) {
	if s, ok := e.Fields["server"].(string); ok && e.Member != "" && s != "" {
		p.server[e.Member] = s
	}
	if s, ok := e.Fields["target"].(string); ok && e.Member != "" {
		p.target[e.Member] = s
	}
	if e.Member == "" {
		return
	}
	if e.Kind == MemberStart || p.down[e.Member] == nil {
		p.down[e.Member] = &Downtime{}
	}
	p.down[e.Member].See(e)
}

// memberHeader is "host1  3.5.35 → 3.6 (leader)", or the runner's own
// sentence when the event carries no versions.
func (p *Progress) memberHeader(e Event) string {
	from, to := p.server[e.Member], p.target[e.Member]
	if from == "" && to == "" {
		return p.bold(e.Member) + "  " + strings.TrimPrefix(e.Message, "upgrading "+e.Member+" ")
	}
	line := p.bold(e.Member) + "  " + cmp.Or(from, "-") + " → " + cmp.Or(to, "-")
	if leader, _ := e.Fields["leader"].(bool); leader {
		line += p.faint(" (leader)")
	}
	return line
}

// memberFooter is "  host1 upgraded: 3.5.35 → 3.6.16, down 2.3s".
func (p *Progress) memberFooter(e Event) string {
	state := cmp.Or(e.Message, "done")
	line := "  " + p.green("✓") + " " + e.Member + " " + state
	if s := p.server[e.Member]; s != "" && !strings.Contains(state, s) {
		line += " (" + s + ")"
	}
	if d := p.down[e.Member]; d != nil && d.Took() > 0 {
		line += p.faint(", down " + shortDuration(d.Took()))
	}
	return line
}

func (p *Progress) indent(e Event) string {
	if e.Member != "" || (e.Phase != "" && e.Kind != Interrupted) {
		return "  "
	}
	return ""
}

// finishStep replaces the live line, if any, with the step's final line.
func (p *Progress) finishStep(line string) {
	p.clearLive()
	p.running = nil
	fmt.Fprintln(p.w, line)
}

// println writes a whole line, keeping a live step line below it.
func (p *Progress) println(line string) {
	p.printed = true
	p.clearLive()
	fmt.Fprintln(p.w, line)
	if p.running != nil {
		p.drawLive()
	}
}

func (p *Progress) drawLive() {
	if !p.live || p.running == nil {
		return
	}
	s := p.running
	took := shortDuration(p.now().Sub(s.start))
	// "  ⠋ " + label + " " + took, kept one column short of the width
	label := truncate(s.label, p.width-len(took)-6)
	fmt.Fprintf(p.w, "  %s %s %s", p.cyan(term.Spinner(s.frame)), label, p.faint(took))
}

// clearLive erases the live line so the next write starts at column 0.
func (p *Progress) clearLive() {
	if p.live && p.running != nil {
		fmt.Fprint(p.w, "\r\x1b[2K")
	}
}

// titleMax bounds a step's title: shipped playbooks name steps with the
// guide's sentence, which the plan and the report show whole.
const titleMax = 60

// stepTitle is the step's name: its `name:` when it has one, else its
// action; cut to titleMax.
func stepTitle(e Event) string {
	switch {
	case e.StepName != "":
		return truncate(e.StepName, titleMax)
	case e.Action != "":
		return e.Action
	}
	return fmt.Sprintf("step %d", e.StepIndex)
}

func stepKey(e Event) string {
	return fmt.Sprintf("%s\x00%s\x00%d", e.Phase, e.Member, e.StepIndex)
}

// truncate cuts s to n runes, ending in "…" when it was longer.
func truncate(s string, n int) string {
	r := []rune(s)
	if n < 1 {
		n = 1
	}
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// shortDuration is "12ms", "1.2s", "2m3s".
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func (p *Progress) style(s string, f func(termenv.Style) termenv.Style) string {
	return f(p.out.String(s)).String()
}
func (p *Progress) bold(s string) string {
	return p.style(s, termenv.Style.Bold)
}
func (p *Progress) faint(s string) string {
	return p.style(s, termenv.Style.Faint)
}
func (p *Progress) green(s string) string {
	return p.style(s, func(t termenv.Style) termenv.Style { return t.Foreground(p.out.Color("2")) })
}
func (p *Progress) red(s string) string {
	return p.style(s, func(t termenv.Style) termenv.Style { return t.Foreground(p.out.Color("1")) })
}
func (p *Progress) yellow(s string) string {
	return p.style(s, func(t termenv.Style) termenv.Style { return t.Foreground(p.out.Color("3")) })
}
func (p *Progress) cyan(s string) string {
	return p.style(s, func(t termenv.Style) termenv.Style { return t.Foreground(p.out.Color("6")) })
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
