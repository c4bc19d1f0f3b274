package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

// Options is everything a run (Apply, Resume, Rollback) needs. The runner
// takes interfaces only: the CLI wires the real cluster, hosts, lock and
// sinks; tests wire fakes.
type Options struct {
	Playbook  *schema.Playbook
	Inventory *schema.Inventory
	// PlaybookPath and InventoryPath are the arguments as the operator
	// wrote them: they go into run.json and into the resume and rollback
	// commands a failure prints.
	PlaybookPath, InventoryPath string
	// Digests of the playbook's and inventory's bytes (journal.Digest).
	PlaybookDigest, InventoryDigest string

	Cluster steps.Cluster
	Hosts   steps.Hosts
	Sink    events.Sink // nil: events only reach the report

	// StateDir is the cluster's state folder (journal, run.json, reports).
	StateDir string
	// StateRoot is the --state-dir the operator gave, for printed commands;
	// "" when it is the default.
	StateRoot string

	// Locker takes the cluster's lock; nil runs without one (tests only).
	Locker    Locker
	BreakLock bool
	// Confirm asks the operator (break a lock, confirm steps); nil answers no.
	Confirm func(ctx context.Context, message string) (bool, error)

	// Hard is the context critical steps run under. The ctx given to Apply
	// is the soft one: cancelling it (the first Ctrl-C) lets a critical step
	// finish, then stops. Cancelling Hard (the second Ctrl-C) stops at once.
	// nil: the soft ctx, minus its cancellation.
	Hard context.Context

	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// BackupDir is where backups go; default backups/<cluster>/<run id>.
	BackupDir string
	// GateTimeout bounds the post-member gate (healthy, caught up, on the
	// target version); default 2m. Poll is the gates' probe interval;
	// default 100ms.
	GateTimeout time.Duration
	Poll        time.Duration
	// BackupFile names a backup taken before this run (--backup: its
	// manifest, checked against the cluster); NoBackup (--no-backup,
	// confirmed through Confirm) lets members stop with none. Without
	// either, a run that recorded no verified backup stops no member.
	BackupFile string
	NoBackup   bool
	// AllowQuorumLoss is the operator's opt-in (--allow-quorum-loss) to
	// upgrade a cluster whose voters cannot spare one: a 1- or 2-voter
	// cluster, or one whose other voters are too few. Without it such a
	// run is refused before anything stops (docs/safety.md).
	AllowQuorumLoss bool
	// Force lets resume go on with a playbook or inventory whose digest
	// changed since the run started.
	Force bool
	// RunID names the run; "" makes a new one (resume reuses the journal's).
	RunID string
	// Pause makes the run stop at safe points and Ask the operator
	// (run --pause); Ask nil never pauses.
	Pause PauseAt
	Ask   func(ctx context.Context, at PausePoint) (Answer, error)

	// route is set by Upgrade on each hop's options: which hop this is
	// and every hop of the route (journal records, events, run.json and
	// the report carry it). nil for a run of one playbook.
	route *routeRun

	// journalOpener opens the state folder's journal; nil is journal.Open.
	// Tests put a failing journal here.
	journalOpener func(dir string) (journalWriter, error)
}

func (o *Options) openJournal(dir string) (journalWriter, error) {
	if o.journalOpener != nil {
		return o.journalOpener(dir)
	}
	return journal.Open(dir)
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) gateTimeout() time.Duration {
	if o.GateTimeout > 0 {
		return o.GateTimeout
	}
	return 2 * time.Minute
}

func (o *Options) poll() time.Duration {
	if o.Poll > 0 {
		return o.Poll
	}
	// The post-member gate usually passes on its first or second probe:
	// a second's wait between them was pure runner time
	// (docs/performance.md).
	return 100 * time.Millisecond
}

func (o *Options) check() error {
	switch {
	case o.Playbook == nil || o.Inventory == nil:
		return fmt.Errorf("runner: a playbook and an inventory are required")
	case o.Cluster == nil || o.Hosts == nil:
		return fmt.Errorf("runner: a cluster and hosts are required")
	case o.StateDir == "":
		return fmt.Errorf("runner: a state folder is required")
	}
	return nil
}

// newRunID names a run by its start time, which sorts, plus a few random
// hex digits so two runs in the same second differ.
func newRunID(t time.Time) string {
	return t.UTC().Format("20060102T150405Z") + "-" + randHex(3)
}

// NewRunID names a new run now: `etcdplay restore` needs the id before the
// run starts, for the new cluster token its plan shows.
func NewRunID() string { return newRunID(time.Now()) }
