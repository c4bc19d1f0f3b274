package fleet

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/etcdplay/etcdplay/internal/term"
	"github.com/etcdplay/etcdplay/runner/events"
)

// Progress is the fleet's default view: one line per cluster. Live (a
// terminal), the lines are a block rewritten in place, each saying what
// its cluster is doing now (member, step, elapsed) or how it ended. Not
// live (a pipe, a file, CI), each cluster's milestones are plain lines
// prefixed by the cluster's name: start, each member's start and end,
// failures and warnings, and how it ended. The per-step detail is -v's
// (each cluster's log prefixed by its name) or -o json's (a "cluster"
// field on every event).
type Progress struct {
	w     io.Writer
	live  bool
	width int
	now   func() time.Time

	mu     sync.Mutex
	order  []string
	lines  map[string]*line
	drawn  int // lines of the block on screen (live)
	frame  int
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

type line struct {
	state   string // waiting, running, done
	since   time.Time
	phase   string
	member  string
	version string // "3.5.17 → 3.6"
	step    string
	members int // members done
	end     string
}

// ProgressOptions configure a Progress.
type ProgressOptions struct {
	// Live rewrites the block in place (a terminal that is not TERM=dumb).
	Live bool
	// Width is the terminal's width; 0 means 80.
	Width int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NoTicker leaves the spinner still (tests).
	NoTicker bool
}

// NewProgress returns the view of the clusters, in the fleet's order.
func NewProgress(w io.Writer, clusters []string, o ProgressOptions) *Progress {
	p := &Progress{w: w, live: o.Live, width: cmp.Or(o.Width, 80), now: o.Now,
		order: append([]string(nil), clusters...), lines: map[string]*line{}}
	if p.now == nil {
		p.now = time.Now
	}
	for _, c := range clusters {
		p.lines[c] = &line{state: "waiting"}
	}
	if p.live {
		p.draw()
		if !o.NoTicker {
			p.stop, p.done = make(chan struct{}), make(chan struct{})
			go p.tick()
		}
	}
	return p
}

func (p *Progress) tick() {
	defer close(p.done)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.frame++
			p.draw()
			p.mu.Unlock()
		}
	}
}

// Close stops the spinner and leaves the block as it last was.
func (p *Progress) Close() {
	if p.stop != nil {
		close(p.stop)
		<-p.done
		p.stop = nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live && !p.closed {
		p.draw()
	}
	p.closed = true
}

// Sink is the cluster's event sink.
func (p *Progress) Sink(cluster string) events.Sink { return clusterSink{p, cluster} }

type clusterSink struct {
	p       *Progress
	cluster string
}

func (s clusterSink) Emit(e events.Event) { s.p.emit(s.cluster, events.Redact(e)) }

// Started marks the cluster running (View).
func (p *Progress) Started(cluster string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.line(cluster)
	l.state, l.since = "running", p.now()
	p.plain(cluster, "started")
	p.draw()
}

// Finished shows how the cluster ended (View).
func (p *Progress) Finished(o Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.line(o.Cluster)
	l.state = "done"
	mark := map[Status]string{Succeeded: "✓", Skipped: "–", Failed: "✗", Interrupted: "■", Stopped: "■", NotStarted: "·"}[o.Status]
	l.end = mark + " " + string(o.Status)
	if d := membersDone(o); d != "-" {
		l.end += " " + d
	}
	if o.Took > 0 {
		l.end += " " + short(o.Took)
	}
	if o.Status != Succeeded && o.Reason != "" {
		l.end += ": " + clip(o.Reason, reasonWidth)
	}
	p.plain(o.Cluster, l.end)
	p.draw()
}

func (p *Progress) line(cluster string) *line {
	l, ok := p.lines[cluster]
	if !ok {
		l = &line{state: "waiting"}
		p.lines[cluster] = l
		p.order = append(p.order, cluster)
	}
	return l
}

func (p *Progress) emit(cluster string, e events.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.line(cluster)
	msg, _, _ := strings.Cut(e.Message, "\n")
	switch e.Kind {
	case events.PhaseStart:
		l.phase, l.member, l.version, l.step = string(e.Phase), "", "", ""
	case events.MemberStart:
		l.member, l.step, l.phase = e.Member, "", string(e.Phase)
		l.version = ""
		if from, _ := e.Fields["server"].(string); from != "" {
			to, _ := e.Fields["target"].(string)
			l.version = from + " → " + to
		}
		p.plain(cluster, strings.TrimSpace(e.Member+" "+l.version))
	case events.StepStart:
		l.step = fmt.Sprintf("%s (%d/%d)", e.StepName, e.StepIndex, e.Steps)
		if l.member == "" || e.Member == "" {
			l.phase, l.member, l.version = string(e.Phase), "", ""
		}
	case events.StepFailed:
		p.plain(cluster, "✗ "+strings.TrimSpace(e.Member+" "+e.StepName)+": "+clip(msg, reasonWidth))
	case events.MemberDone:
		l.members++
		p.plain(cluster, e.Member+" "+cmp.Or(msg, "done"))
		l.member, l.step, l.version = "", "", ""
	case events.Warn:
		p.plain(cluster, "! "+msg)
	default:
		return
	}
	p.draw()
}

// plain writes a milestone line when the view is not live.
func (p *Progress) plain(cluster, text string) {
	if !p.live {
		fmt.Fprintf(p.w, "%s: %s\n", cluster, text)
	}
}

// draw rewrites the block in place (live only).
func (p *Progress) draw() {
	if !p.live || p.closed {
		return
	}
	name := 0
	for _, c := range p.order {
		name = max(name, len(c))
	}
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	for _, c := range p.order {
		b.WriteString("\r\x1b[2K" + clip(fmt.Sprintf("%-*s  %s", name, c, p.text(p.lines[c])), p.width-1) + "\n")
	}
	p.drawn = len(p.order)
	io.WriteString(p.w, b.String())
}

func (p *Progress) text(l *line) string {
	switch l.state {
	case "waiting":
		return "· waiting"
	case "done":
		return l.end
	}
	var parts []string
	if l.member != "" {
		parts = append(parts, strings.TrimSpace(l.member+" "+l.version))
	} else if l.phase != "" {
		parts = append(parts, l.phase)
	}
	if l.step != "" {
		parts = append(parts, l.step)
	}
	s := term.Spinner(p.frame) + " " + cmp.Or(strings.Join(parts, " · "), "starting")
	if l.members > 0 {
		s += fmt.Sprintf(" · %d done", l.members)
	}
	return s + " " + short(p.now().Sub(l.since))
}

// clip cuts s to n runes: a live line must not wrap, or rewriting the
// block would leave rows behind.
func clip(s string, n int) string {
	r := []rune(s)
	if n <= 1 || len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func short(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// WithCluster returns a sink that adds the cluster's name to every event's
// fields ("cluster"), so one JSON stream can carry a whole fleet.
func WithCluster(s events.Sink, cluster string) events.Sink {
	return withCluster{s, cluster}
}

type withCluster struct {
	s       events.Sink
	cluster string
}

func (w withCluster) Emit(e events.Event) {
	f := make(map[string]any, len(e.Fields)+1)
	for k, v := range e.Fields {
		f[k] = v
	}
	f["cluster"] = w.cluster
	e.Fields = f
	w.s.Emit(e)
}
