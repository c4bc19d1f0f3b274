package events

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/creack/pty"
)

// childEnv marks the re-executed test binary that renders to its terminal.
const childEnv = "ETCDPLAY_EVENTS_PTY_CHILD"

// TestRendererChild is not a test of its own: TestFirstLineIsNotStalled
// runs the test binary again as this function, with a pseudo-terminal as
// its controlling terminal and stderr, the way `docker run -t` or `ssh -t`
// start etcdplay.
func TestRendererChild(t *testing.T) {
	which := os.Getenv(childEnv)
	if which == "" {
		t.Skip("helper process for TestFirstLineIsNotStalled")
	}
	e := Event{Time: time.Now(), Kind: RunStart, RunID: "r1", Message: "run etcd 3.5 to 3.6"}
	switch which {
	case "human":
		NewHuman(NewLogger(os.Stderr, log.InfoLevel)).Emit(e)
	case "progress":
		p := NewProgress(os.Stderr, ProgressOptions{Live: IsTerminal(os.Stderr), Profile: ColorProfile(os.Stderr)})
		p.Emit(e)
		p.Close()
	}
	os.Exit(0)
}

// TestFirstLineIsNotStalled: on a pseudo-terminal that nobody answers,
// both renderings print their first line at once. Before, the logger asked
// the terminal for its colours (OSC 10 and 11) and waited 5 s for each
// answer: 10 s of silence before every run. The bound is 2 s, five times
// less than the stall and far above what a loaded machine needs to start a
// process and print one line, so the test fails on the bug and never on
// a slow machine.
func TestFirstLineIsNotStalled(t *testing.T) {
	for _, which := range []string{"human", "progress"} {
		for _, noColor := range []string{"", "1"} {
			t.Run(which+"/NO_COLOR="+noColor, func(t *testing.T) {
				cmd := exec.Command(os.Args[0], "-test.run=^TestRendererChild$")
				cmd.Env = append(os.Environ(), childEnv+"="+which, "TERM=xterm-256color", "NO_COLOR="+noColor, "CI=")
				start := time.Now()
				tty, err := pty.Start(cmd) // a new session, the pty its controlling terminal
				if err != nil {
					t.Skipf("no pseudo-terminal: %v", err)
				}
				defer tty.Close()
				lines := make(chan string)
				go func() {
					sc := bufio.NewScanner(tty) // nobody answers what the child asks
					for sc.Scan() {
						lines <- sc.Text()
					}
					close(lines)
				}()
				var seen []string
				deadline := time.After(30 * time.Second)
			wait:
				for {
					select {
					case l, ok := <-lines:
						if !ok {
							t.Fatalf("no line with the event; got %q", seen)
						}
						seen = append(seen, l)
						if strings.Contains(l, "run etcd 3.5 to 3.6") || strings.Contains(l, "run started") {
							break wait
						}
					case <-deadline:
						t.Fatalf("no first line after 30 s; got %q", seen)
					}
				}
				took := time.Since(start)
				t.Logf("first line after %v", took.Round(time.Millisecond))
				if took > 2*time.Second {
					t.Errorf("first line after %v: the renderer waited for a terminal that never answers", took)
				}
				_ = cmd.Wait()
			})
		}
	}
}
