//go:build bench

package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
)

// A timeline lines up, on one clock, what etcdplay said it did (its
// events) with what the benchmark saw from outside (each member's
// SIGTERM, process gone, process back, /health true): where every
// millisecond of a member's downtime and of the run went. It is written
// for each etcdplay run when -bench.timeline is set.

type mark struct {
	at   time.Duration // since the command started
	what string
}

// timeline renders events and tracks relative to t0, with the gap to the
// previous line, so a slow stretch stands out.
func timeline(t0 time.Time, evs []byte, tracks []*memberTrack, sigterms map[string]time.Time) string {
	var ms []mark
	add := func(at time.Time, what string) {
		if !at.IsZero() {
			ms = append(ms, mark{at.Sub(t0), what})
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(evs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e events.Event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		what := string(e.Kind)
		if e.Phase != "" {
			what += " " + string(e.Phase)
		}
		if e.Member != "" {
			what += " " + e.Member
		}
		if e.Action != "" {
			what += fmt.Sprintf(" #%d %s", e.StepIndex, e.Action)
		}
		if e.Duration > 0 {
			what += fmt.Sprintf(" (took %v)", e.Duration.Round(time.Millisecond))
		}
		if e.Message != "" {
			msg := e.Message
			if len(msg) > 110 {
				msg = msg[:107] + "..."
			}
			what += ": " + msg
		}
		add(e.Time, what)
	}
	for _, tk := range tracks {
		add(sigterms[tk.name], "OUTSIDE "+tk.name+" etcd logs SIGTERM")
		add(tk.gone, "OUTSIDE "+tk.name+" process gone")
		add(tk.back, "OUTSIDE "+tk.name+" process back")
		add(tk.healthy, "OUTSIDE "+tk.name+" /health true")
	}
	slices.SortStableFunc(ms, func(a, b mark) int { return cmp.Compare(a.at, b.at) })
	var b strings.Builder
	var prev time.Duration
	for _, m := range ms {
		fmt.Fprintf(&b, "%8.3fs %+7.0fms  %s\n", m.at.Seconds(), float64((m.at - prev).Milliseconds()), m.what)
		prev = m.at
	}
	return b.String()
}

// writeTimeline keeps one run's timeline in the output folder.
func writeTimeline(name, text string) {
	if *flagOut == "" {
		return
	}
	os.MkdirAll(*flagOut, 0o755)
	os.WriteFile(filepath.Join(*flagOut, "timeline-"+name+".txt"), []byte(text), 0o644)
}
