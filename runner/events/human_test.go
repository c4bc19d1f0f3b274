package events

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/etcdplay/etcdplay/schema"
)

// quietLogger is a logger with no timestamp, so lines are comparable.
func quietLogger(buf *bytes.Buffer) *log.Logger {
	l := NewLogger(buf, log.InfoLevel)
	l.SetReportTimestamp(false)
	return l
}

func TestHumanShowsPerMemberProgress(t *testing.T) {
	var buf bytes.Buffer
	h := NewHuman(quietLogger(&buf).WithPrefix("etcdplay"))
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	for _, e := range []Event{
		{Time: at(0), Kind: RunStart, RunID: "r1"},
		{Time: at(0), Kind: PhaseStart, Phase: schema.PhaseMembers},
		{Time: at(1), Kind: MemberStart, Phase: schema.PhaseMembers, Member: "infra1", Message: "upgrading 1/3"},
		{Time: at(1), Kind: StepStart, Phase: schema.PhaseMembers, Member: "infra1", StepIndex: 2, Steps: 8, Action: "ssh-stop", StepName: "ssh-stop"},
		{Time: at(2.25), Kind: StepDone, Phase: schema.PhaseMembers, Member: "infra1", StepIndex: 2, Steps: 8, Action: "ssh-stop", StepName: "ssh-stop", Duration: 1250 * time.Millisecond},
		{Time: at(2.25), Kind: StepSkipped, Phase: schema.PhaseMembers, Member: "infra1", StepIndex: 7, Steps: 8, Action: "wait", StepName: "settle", Message: "guard false"},
		{Time: at(3), Kind: StepFailed, Phase: schema.PhaseMembers, Member: "infra1", StepIndex: 8, Steps: 8, Action: "assert-version", Message: "server is 3.4.23", Fields: map[string]any{"want": "3.5.*"}},
		{Time: at(4), Kind: RunFailed, Message: "step failed", Duration: 4 * time.Second},
	} {
		h.Emit(e)
	}
	want := `INFO etcdplay/run: run started run=r1
INFO etcdplay/members: phase members elapsed=0s
INFO etcdplay/infra1: upgrading 1/3
INFO etcdplay/infra1: step 2/8 ssh-stop elapsed=0s
INFO etcdplay/infra1: step 2/8 ssh-stop done took=1.3s elapsed=1.3s
INFO etcdplay/infra1: step 7/8 settle (wait) skipped reason="guard false" elapsed=1.3s
ERRO etcdplay/infra1: step 8/8 assert-version failed err="server is 3.4.23" elapsed=2s want=3.5.*
ERRO etcdplay/run: step failed err="step failed" took=4s elapsed=4s
`
	if got := buf.String(); got != want {
		t.Errorf("human output:\n%s\nwant:\n%s", got, want)
	}
}

// A writer that is not a terminal gets no colour at all.
func TestHumanNoColourWhenNotATerminal(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm-256color")
	var buf bytes.Buffer
	NewHuman(NewLogger(&buf, log.InfoLevel)).Emit(Event{Time: t0, Kind: StepFailed, Member: "m", StepIndex: 1, Action: "x", Message: "boom"})
	if buf.Len() == 0 || bytes.ContainsRune(buf.Bytes(), 0x1b) {
		t.Errorf("want plain text, got %q", buf.String())
	}
}

// On a real terminal, colour is on unless NO_COLOR is set. The positive case
// proves the test can see colour at all.
func TestHumanColourFollowsNoColorOnATerminal(t *testing.T) {
	for _, tc := range []struct {
		noColor string
		wantESC bool
	}{{"", true}, {"1", false}} {
		t.Run("NO_COLOR="+tc.noColor, func(t *testing.T) {
			t.Setenv("NO_COLOR", tc.noColor)
			t.Setenv("TERM", "xterm-256color")
			t.Setenv("CLICOLOR_FORCE", "")
			t.Setenv("CI", "") // termenv takes any CI variable to mean "no terminal"
			out := writeToTerminal(t, func(tty *ttyFile) {
				NewHuman(NewLogger(tty, log.InfoLevel)).Emit(Event{Time: t0, Kind: StepFailed, Member: "m", StepIndex: 1, Action: "x", Message: "boom"})
			})
			if !strings.Contains(out, "boom") {
				t.Fatalf("terminal got %q", out)
			}
			if got := strings.ContainsRune(out, 0x1b); got != tc.wantESC {
				t.Errorf("escape bytes present = %v, want %v: %q", got, tc.wantESC, out)
			}
		})
	}
}

// A member name or message from the cluster cannot drive the terminal.
func TestHumanFiltersControlCharacters(t *testing.T) {
	var b bytes.Buffer
	h := NewHuman(NewLogger(&b, log.DebugLevel))
	h.Emit(Event{Kind: Warn, Member: "evil\x1b]0;owned\x07", Message: "saw \x1b[2J from the host", Fields: map[string]any{"out": "\x1b[31mred"}})
	if strings.ContainsAny(b.String(), "\x1b\x07") {
		t.Errorf("control characters reached the output: %q", b.String())
	}
}
