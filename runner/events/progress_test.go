package events

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/muesli/termenv"

	"github.com/etcdplay/etcdplay/internal/golden"
	"github.com/etcdplay/etcdplay/schema"
)

// sampleRun is a run as the runner emits it: preflight, a member that is
// upgraded (with a gate, a skipped guard and a warning), a member whose
// wait fails, then the run's end. ticks says how many spinner frames pass
// while a step runs, for the live rendering.
func sampleRun() []Event {
	var evs []Event
	at := 0.0
	add := func(dt float64, e Event) {
		at += dt
		e.Time = t0.Add(time.Duration(at * float64(time.Second)))
		e.RunID = "20261121T061200Z-abc123"
		evs = append(evs, e)
	}
	step := func(ph schema.Phase, member string, idx, n int, action, name string, took float64, end Kind, msg string) {
		add(0, Event{Kind: StepStart, Phase: ph, Member: member, StepIndex: idx, Steps: n, Action: action, StepName: name})
		e := Event{Kind: end, Phase: ph, Member: member, StepIndex: idx, Steps: n, Action: action, StepName: name, Message: msg}
		if end != StepSkipped {
			e.Duration = time.Duration(took * float64(time.Second))
		}
		add(took, e)
	}
	add(0, Event{Kind: RunStart, Message: "run etcd 3.5 to 3.6", Fields: map[string]any{"cluster": "prod-etcd", "playbook": "etcd 3.5 to 3.6", "mode": "run"}})
	add(0, Event{Kind: PhaseStart, Phase: schema.PhasePreflight, Steps: 3})
	step(schema.PhasePreflight, "", 1, 3, "health", "health", 0.012, StepDone, "")
	step(schema.PhasePreflight, "", 2, 3, "assert-version", "assert-version", 0.004, StepDone, "")
	step(schema.PhasePreflight, "", 3, 3, "backup", "backup", 0.31, StepDone, "")
	add(0, Event{Kind: PhaseStart, Phase: schema.PhaseMembers, Message: "order leader-last: 2 to upgrade"})
	add(0, Event{Kind: MemberStart, Phase: schema.PhaseMembers, Member: "infra1", Steps: 6, Message: "upgrading infra1 (3.5.35)",
		Fields: map[string]any{"server": "3.5.35", "target": "3.6", "leader": false}})
	add(0, Event{Kind: Gate, Phase: schema.PhaseMembers, Member: "infra1", Message: "safety gate: the 2 other members are healthy, infra1 may stop"})
	add(0, Event{Kind: StepStart, Phase: schema.PhaseMembers, Member: "infra1", StepIndex: 1, Steps: 6, Action: "ssh-stop", StepName: "ssh-stop"})
	add(0.6, Event{Kind: Info, Phase: schema.PhaseMembers, Member: "infra1", StepIndex: 1, Message: "member stopped", Fields: map[string]any{"pid": 4242}})
	add(0.6, Event{Kind: StepDone, Phase: schema.PhaseMembers, Member: "infra1", StepIndex: 1, Steps: 6, Action: "ssh-stop", StepName: "ssh-stop", Duration: 1200 * time.Millisecond})
	step(schema.PhaseMembers, "infra1", 2, 6, "swap", "Restart with the same configuration but the 3.6 binary (3.6 rejects --enable-v2 and --proxy flags)", 0.42, StepDone, "")
	step(schema.PhaseMembers, "infra1", 3, 6, "ssh-start", "ssh-start", 0.05, StepDone, "")
	add(0, Event{Kind: Warn, Phase: schema.PhaseMembers, Member: "infra1", StepIndex: 4, Message: "attempt 1 of 2 failed, retrying: connection refused"})
	step(schema.PhaseMembers, "infra1", 4, 6, "wait", "wait", 2.3, StepDone, "")
	step(schema.PhaseMembers, "infra1", 5, 6, "wait", "settle", 0, StepSkipped, "guard false: cluster.dbSize > 50 * MB (cluster.dbSize=1048576)")
	step(schema.PhaseMembers, "infra1", 6, 6, "assert-version", "assert-version", 0.003, StepDone, "")
	add(0.5, Event{Kind: Gate, Phase: schema.PhaseMembers, Member: "infra1", Message: "safety gate: healthy, on 3.6.16, applied index 120 >= leader's 118",
		Fields: map[string]any{"server": "3.6.16"}})
	add(0, Event{Kind: MemberDone, Phase: schema.PhaseMembers, Member: "infra1", Message: "upgraded"})
	add(0, Event{Kind: MemberStart, Phase: schema.PhaseMembers, Member: "infra2", Steps: 6, Message: "upgrading infra2 (3.5.35, leader)",
		Fields: map[string]any{"server": "3.5.35", "target": "3.6", "leader": true}})
	step(schema.PhaseMembers, "infra2", 1, 6, "ssh-stop", "ssh-stop", 0.9, StepDone, "")
	step(schema.PhaseMembers, "infra2", 2, 6, "swap", "put etcd 3.6 in place", 0.4, StepDone, "")
	step(schema.PhaseMembers, "infra2", 3, 6, "ssh-start", "ssh-start", 0.05, StepDone, "")
	step(schema.PhaseMembers, "infra2", 4, 6, "wait", "wait", 120, StepFailed, "member infra2 not healthy after 2m0s: connection refused")
	add(0, Event{Kind: RunFailed, Message: "member infra2, members step 4/6 wait: not healthy", Duration: 127 * time.Second})
	return evs
}

// interruptedRun ends with the operator's Ctrl-C during a stop.
func interruptedRun() []Event {
	evs := sampleRun()[:4]
	end := evs[len(evs)-1].Time
	return append(evs,
		Event{Time: end, Kind: StepStart, Phase: schema.PhasePreflight, StepIndex: 2, Steps: 3, Action: "assert-version", StepName: "assert-version"},
		Event{Time: end.Add(time.Second), Kind: StepInterrupted, Phase: schema.PhasePreflight, StepIndex: 2, Steps: 3, Action: "assert-version", StepName: "assert-version", Duration: time.Second},
		Event{Time: end.Add(time.Second), Kind: Interrupted, Message: "interrupted at preflight step 2/3 (assert-version); resume with: etcdplay resume -i prod.yaml", Duration: time.Second},
	)
}

// render plays evs into a Progress; in live mode the spinner turns three
// times while each step runs, and the clock follows the events.
func render(evs []Event, live bool, profile termenv.Profile) string {
	var buf bytes.Buffer
	now := t0
	p := NewProgress(&buf, ProgressOptions{Live: live, Profile: profile, NoTicker: true, Now: func() time.Time { return now }})
	for _, e := range evs {
		if live && e.Kind != StepStart {
			for i := 0; i < 3 && now.Before(e.Time); i++ {
				now = now.Add(e.Time.Sub(now) / 2)
				p.Tick()
			}
		}
		now = e.Time
		p.Emit(e)
	}
	p.Close()
	return buf.String()
}

// visible makes a live rendering's control bytes readable in a golden file.
func visible(s string) string {
	return strings.NewReplacer("\r", "<CR>", "\x1b[2K", "<CLEAR>", "\x1b", "<ESC>").Replace(s)
}

func TestProgressPlainGolden(t *testing.T) {
	got := render(sampleRun(), false, termenv.Ascii) + "----\n" + render(interruptedRun(), false, termenv.Ascii)
	if strings.ContainsAny(got, "\r\x1b") {
		t.Errorf("plain rendering holds control bytes: %q", got)
	}
	golden.Check(t, "testdata/progress-plain.golden", []byte(got))
}

func TestProgressLiveGolden(t *testing.T) {
	got := render(sampleRun(), true, termenv.ANSI)
	if !strings.Contains(got, "\r\x1b[2K") {
		t.Fatalf("live rendering never rewrote a line: %q", got)
	}
	golden.Check(t, "testdata/progress-live.golden", []byte(visible(got)))
}

// The -v rendering (Human) of the same run, so a change to either view
// shows up in review.
func TestHumanGolden(t *testing.T) {
	var buf bytes.Buffer
	h := NewHuman(quietLogger(&buf).WithPrefix("run"))
	for _, e := range sampleRun() {
		h.Emit(e)
	}
	golden.Check(t, "testdata/human.golden", buf.Bytes())
}

// Every finished step is exactly one line, and the member line carries
// the version change and the downtime from stop to healthy again.
func TestProgressOneLinePerStep(t *testing.T) {
	out := render(sampleRun(), false, termenv.Ascii)
	for _, want := range []string{
		"  ✓ ssh-stop 1.2s · member stopped\n",
		"  ✓ Restart with the same configuration but the 3.6 binary (3.6… 420ms\n",
		"  – settle skipped: guard false",
		"  ✗ wait: member infra2 not healthy after 2m0s",
		"infra1  3.5.35 → 3.6\n",
		"infra2  3.5.35 → 3.6 (leader)\n",
		"  ✓ infra1 upgraded (3.6.16), down 4s\n", // stop 1.2 + swap .42 + start .05 + wait 2.3
		"  ! attempt 1 of 2 failed",
		"  · safety gate: the 2 other members are healthy",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "ssh-stop"); n != 2 {
		t.Errorf("ssh-stop appears %d times, want once per member:\n%s", n, out)
	}
}

var _ = log.InfoLevel

// Text from the cluster cannot drive the terminal or break a line: a
// member name or error holding escape sequences and newlines is shown
// with '?' in their place, also in the live, coloured rendering.
func TestProgressPrintsNoForeignControlBytes(t *testing.T) {
	evil := "x\x1b]0;owned\x07\nsecond line"
	evs := []Event{
		{Time: t0, Kind: MemberStart, Member: "m\x1b[2J", Message: evil, Fields: map[string]any{"server": evil, "target": "3.6"}},
		{Time: t0, Kind: StepStart, Member: "m", StepIndex: 1, Action: "wait", StepName: evil},
		{Time: t0, Kind: StepFailed, Member: "m", StepIndex: 1, Action: "wait", StepName: evil, Message: evil},
	}
	for _, live := range []bool{false, true} {
		out := render(evs, live, termenv.Ascii)
		if strings.Contains(out, "]0;owned\x07") || strings.Contains(out, "\x1b]") || strings.Contains(out, "\x1b[2J") || strings.Contains(out, "\nsecond line") {
			t.Errorf("live=%v: foreign control bytes reached the terminal: %q", live, out)
		}
		if !strings.Contains(out, "x?]0;owned??second line") {
			t.Errorf("live=%v: the text is not shown with '?': %q", live, out)
		}
	}
}
