package sandbox

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mattn/go-isatty"

	"github.com/etcdplay/etcdplay/internal/term"
	"github.com/etcdplay/etcdplay/runner/events"
)

// Progress shows long steps (building etcd takes a minute) as they go: on
// a terminal, a spinner with the elapsed time on one line that becomes a
// finished line with its duration; elsewhere (CI, a pipe) just the
// finished lines, through the same charmbracelet/log logger as a run's
// progress, without colour when NO_COLOR is set or w is not a terminal.
type Progress struct {
	w    io.Writer
	log  *log.Logger
	tty  bool
	mu   sync.Mutex
	quit chan struct{}
	done chan struct{}
}

// NewProgress renders to w (the command's stderr).
func NewProgress(w io.Writer) *Progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd()) && os.Getenv("TERM") != "dumb"
	}
	return &Progress{w: w, log: events.NewLogger(w, log.InfoLevel).WithPrefix("sandbox"), tty: tty}
}

// Logf prints one line.
func (p *Progress) Logf(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log.Info(fmt.Sprintf(format, args...))
}

// Warnf prints one warning line.
func (p *Progress) Warnf(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log.Warn(fmt.Sprintf(format, args...))
}

// Step starts a step; the returned func ends it with its outcome and
// duration. One step at a time.
func (p *Progress) Step(what string) func(err error) {
	if p == nil {
		return func(error) {}
	}
	began := time.Now()
	if p.tty {
		p.quit, p.done = make(chan struct{}), make(chan struct{})
		go p.spin(what, began, p.quit, p.done)
	} else {
		// No spinner: say what is starting, or a minute-long build reads
		// as a hang.
		p.mu.Lock()
		p.log.Info(what + " ...")
		p.mu.Unlock()
	}
	return func(err error) {
		if p.tty {
			close(p.quit)
			<-p.done
		}
		took := time.Since(began).Round(100 * time.Millisecond)
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			p.log.Error(what+" failed", "took", took, "err", err)
			return
		}
		p.log.Info(what, "took", took)
	}
}

func (p *Progress) spin(what string, began time.Time, quit, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		p.mu.Lock()
		fmt.Fprintf(p.w, "\r\x1b[K%s %s %s", term.Spinner(i), what, time.Since(began).Truncate(time.Second))
		p.mu.Unlock()
		select {
		case <-quit:
			p.mu.Lock()
			fmt.Fprint(p.w, "\r\x1b[K")
			p.mu.Unlock()
			return
		case <-t.C:
		}
	}
}
