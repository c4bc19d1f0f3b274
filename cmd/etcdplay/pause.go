package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/etcdplay/etcdplay/internal/term"
	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/steps"
)

// pauseAsker is run --pause's side of a pause: it prints where the run
// stands (the status table, as `etcdplay status` shows it) and asks the
// operator what next. With --yes it prints the same and goes on.
type pauseAsker struct {
	cluster steps.Cluster
	hosts   map[string]string
	in      io.Reader
	out     io.Writer
	yes     bool
	lines   *bufio.Reader
}

// checkPauseInput refuses --pause when nobody can answer: stdin is not a
// terminal and --yes was not given.
func checkPauseInput(at runner.PauseAt, yes bool, in io.Reader) error {
	if at == runner.PauseNever || yes || isTerminalReader(in) {
		return nil
	}
	return usageErr(fmt.Errorf("--pause %s asks the operator at each pause, but stdin is not a terminal", at),
		"run it from a terminal, or add --yes to print each pause and go on")
}

func isTerminalReader(in io.Reader) bool {
	f, ok := in.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// Ask shows the pause and reads the answer. Ctrl-C while it waits cancels
// ctx: the run ends as interrupted at the pause.
func (p *pauseAsker) Ask(ctx context.Context, pt runner.PausePoint) (runner.Answer, error) {
	done := "no member upgraded by this run yet"
	if len(pt.Upgraded) > 0 {
		done = "upgraded by this run: " + strings.Join(pt.Upgraded, ", ")
	}
	// pt.Next holds a version the cluster reported: no control bytes
	fmt.Fprintf(p.out, "\n── paused before %s (%s) ──\n", term.Line(pt.Next), term.Line(done))
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	c, err := p.cluster.Cluster(pctx)
	cancel()
	if c != nil {
		_ = writeStatusTable(p.out, c, p.hosts)
	} else {
		fmt.Fprintf(p.out, "(status unavailable: %v)\n", err)
	}
	if p.yes {
		fmt.Fprintln(p.out, "continuing (--yes)")
		return runner.Continue, nil
	}
	choices := "continue, stop (resume later)"
	keys := "c/s"
	if pt.Rollback != "" {
		choices += ", or roll " + term.Line(pt.Rollback) + " back"
		keys = "c/s/r"
	}
	if p.lines == nil {
		p.lines = bufio.NewReader(p.in)
	}
	for {
		fmt.Fprintf(p.out, "%s? [%s] ", choices, keys)
		line, err := readLine(ctx, p.lines)
		if err != nil {
			if ctx.Err() != nil {
				fmt.Fprintln(p.out)
				return runner.Stop, ctx.Err()
			}
			// stdin closed: nobody can say continue, so stop (resumable)
			fmt.Fprintln(p.out, "stop (no more input)")
			return runner.Stop, nil
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "c", "continue", "y", "yes":
			return runner.Continue, nil
		case "s", "stop", "n", "no", "q", "quit":
			return runner.Stop, nil
		case "r", "rollback", "roll back":
			if pt.Rollback != "" {
				return runner.RollBack, nil
			}
		}
		fmt.Fprintf(p.out, "answer %s\n", strings.ReplaceAll(keys, "/", ", "))
	}
}

// readLine reads one line, giving up when ctx ends (the reading goroutine
// stays blocked on the terminal until the process exits; it reads nothing
// anyone else needs).
func readLine(ctx context.Context, r *bufio.Reader) (string, error) {
	type result struct {
		s   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := r.ReadString('\n')
		if err != nil && s != "" {
			err = nil
		}
		ch <- result{s, err}
	}()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case res := <-ch:
		if res.err != nil {
			return "", errors.Join(res.err, io.EOF)
		}
		return res.s, nil
	}
}
