package runner

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/etcdplay/etcdplay/internal/shell"
)

// Result is what a run leaves behind, whatever its outcome: every member's
// state, where the journal and the report are, and the commands that go on.
type Result struct {
	RunID   string
	Cluster string
	// Outcome is succeeded, failed, refused, interrupted or locked.
	Outcome string
	Members []MemberResult
	// Journal and Report are paths in the state folder ("" if not written).
	Journal string
	Report  string
	// Resume and Rollback are the exact commands to continue or to put the
	// failed member back; "" when they do not apply.
	Resume   string
	Rollback string
	// RollbackRequested is the member the operator asked, at a pause, to
	// put back; the caller runs Rollback for it once Apply has returned.
	RollbackRequested string
}

// MemberResult is one member's state at the end of a run.
type MemberResult struct {
	Name string
	// State: upgraded, already on X, "failed at step N (action)",
	// "interrupted after step N (action)", in progress, untouched, rolled back.
	State  string
	Before string // server version when the run first saw it
	After  string // server version at the end ("" when unknown)
}

// Outcomes of a run.
const (
	OutcomeSucceeded   = "succeeded"
	OutcomeFailed      = "failed"
	OutcomeRefused     = "refused"
	OutcomeInterrupted = "interrupted"
	OutcomeLocked      = "locked"
)

// WriteSummary renders a result for people: one line per member, then the
// commands that continue. It is a view, like WritePlanText.
func WriteSummary(w io.Writer, r *Result) error {
	if r == nil {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "run %s on %s: %s\n", r.RunID, r.Cluster, r.Outcome)
	width := 0
	for _, m := range r.Members {
		width = max(width, len(m.Name))
	}
	for _, m := range r.Members {
		ver := m.Before
		if m.After != "" && m.After != m.Before {
			ver = cmp.Or(m.Before, "-") + " -> " + m.After
		}
		fmt.Fprintf(&b, "  %-*s  %-32s %s\n", width, m.Name, m.State, ver)
	}
	if r.Journal != "" {
		fmt.Fprintf(&b, "journal: %s\n", r.Journal)
	}
	if r.Report != "" {
		fmt.Fprintf(&b, "report:  %s\n", r.Report)
	}
	if r.Resume != "" {
		fmt.Fprintf(&b, "to continue: %s\n", r.Resume)
	}
	if r.Rollback != "" {
		fmt.Fprintf(&b, "to roll back: %s\n", r.Rollback)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// commands are the exact resume and rollback command lines for this run.
func (o *Options) commands(failedMember string) (resume, rollback string) {
	base := []string{"-i", o.InventoryPath}
	if o.StateRoot != "" {
		base = append(base, "--state-dir", o.StateRoot)
	}
	resume = shell.Join(append([]string{"etcdplay", "resume"}, base...)...)
	if failedMember != "" {
		argv := append([]string{"etcdplay", "rollback"}, base...)
		argv = append(argv, "--member", failedMember)
		rollback = shell.Join(argv...)
	}
	return resume, rollback
}

// rollbackCommand is `etcdplay rollback` for the whole run: a
// downgrade's rollback cancels it and puts back every member.
func (o *Options) rollbackCommand() string {
	argv := []string{"etcdplay", "rollback", "-i", o.InventoryPath}
	if o.StateRoot != "" {
		argv = append(argv, "--state-dir", o.StateRoot)
	}
	return shell.Join(argv...)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
