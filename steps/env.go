package steps

import (
	"context"
	"io"
	"io/fs"
	"sync"
	"time"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// Preflighter is an optional capability found by type assertion: an action
// that can prove, before any member is stopped, that it will be able to do
// its job for env.Member (swap: the release exists on or uploads to that host
// and prints the target version). The runner calls it for every member's
// steps during preflight. It must change nothing the cluster depends on.
type Preflighter interface {
	Preflight(ctx context.Context, env *Env) error
}

// Cleaner is an optional capability found by type assertion: an action
// whose Preflight leaves something on a host (swap stages the release)
// removes it when the run is refused, so a refused run leaves nothing
// behind. Best effort: it reports nothing.
type Cleaner interface {
	Cleanup(ctx context.Context, env *Env)
}

// Prefetcher is an optional capability found by type assertion: an action
// that runs while its member is down (swap) reads, while the member still
// runs, what it will need then, so that the down window holds only what
// must happen in it (docs/performance.md). The runner calls it beside the
// stop gate, before the member's first critical step, with the Ahead that
// every step of that member's pass shares; Run reads again when it finds
// nothing there. It must change nothing and reports nothing: a failed read
// is left for Run to make, and to fail on.
type Prefetcher interface {
	Prefetch(ctx context.Context, env *Env)
}

// Ahead holds what Prefetchers read for one member's pass. The runner
// makes one per pass, so nothing read before one stop is used after
// another; each entry is taken once, so an attempt after a failed one
// reads afresh.
type Ahead struct{ m sync.Map }

// Put keeps v under key; Take returns it once. Both accept a nil Ahead
// (a step run outside a member's pass, or by a test).
func (a *Ahead) Put(key string, v any) {
	if a != nil {
		a.m.Store(key, v)
	}
}

func (a *Ahead) Take(key string) (any, bool) {
	if a == nil {
		return nil, false
	}
	return a.m.LoadAndDelete(key)
}

// PlanChecker is an optional capability found by type assertion: an
// action whose outcome depends on the facts alone (check), so a live plan
// can say now what the run would find: Holds, or the message the run would
// warn or stop with. Expr is the expression, whose facts the plan shows.
type PlanChecker interface {
	PlanCheck(f schema.Facts) PlanCheck
}

// PlanCheck is a PlanChecker's verdict as of plan time.
type PlanCheck struct {
	Expr  string
	Holds bool
	// Severity is what a failure does at run time: fail (the run stops;
	// in preflight it is refused) or warn.
	Severity string
	Message  string
	Err      error // the expression could not be evaluated
}

// Critical marks actions whose interruption leaves a member in a state that
// must be re-checked before anything else happens (stop, swap, start). The
// runner journals them as critical and, on Ctrl-C, lets them finish.
type Critical interface {
	Critical() bool
}

// Env is everything an action's Run may touch. The runner builds one per
// step; tests build one around the real bed or around fakes.
type Env struct {
	Playbook  *schema.Playbook
	Inventory *schema.Inventory
	Phase     schema.Phase
	// Member is the member the step acts on (per-member phases), with its
	// overrides applied; nil in preflight and finish.
	Member *schema.MemberConfig

	Cluster Cluster
	Hosts   Hosts
	Log     Logger

	// Facts probes the cluster and returns the guard facts as of now, with
	// env.Member as `member`.
	Facts func(ctx context.Context) (schema.Facts, error)
	// Confirm asks the operator; it returns false without asking when no
	// terminal is attached and --yes was not given.
	Confirm func(ctx context.Context, message string) (bool, error)
	// BackupDir is the local folder v3 snapshots are written under
	// (default ./backups/<cluster>/<time>/).
	BackupDir string
	// Record keeps a result for the run report (a member's version before
	// and after).
	Record func(key string, value any)
	// RecordBackup keeps the manifest of a verified backup for the run:
	// the runner writes it to the state folder, where rollback and the
	// report read it back as a BackupManifest. An error (the state folder
	// cannot be written) fails the backup step: a backup the run cannot
	// point at later is no backup to rely on.
	RecordBackup func(BackupManifest) error
	// Now is the clock (tests fix it).
	Now func() time.Time
	// CheckOnly asks a Preflighter to prove without staging: `plan`
	// checks what a run's preflight would, but uploads nothing.
	CheckOnly bool
	// Ahead is what Prefetchers read for this member's pass (nil: none).
	Ahead *Ahead
}

// ClusterStatus is what one probe of the cluster saw. steps speaks the
// probe's data types (etcdprobe) in its interfaces, and the transport's
// (transport/ssh) in Host; the runner names them through steps so that it
// imports neither (docs/architecture.md).
type ClusterStatus = etcdprobe.Cluster

// ConnectionLostError is the transport's "the connection dropped while a
// command ran; it may or may not have run", named here for the runner.
type ConnectionLostError = ssh.ConnectionLostError

// Cluster is the etcd side of a run: *etcdprobe.Prober satisfies it.
type Cluster interface {
	Cluster(ctx context.Context) (*etcdprobe.Cluster, error)
	Member(ctx context.Context, name string) (*etcdprobe.Member, error)
	LeaderCommitted(ctx context.Context) (leader string, index uint64, err error)
	MoveLeader(ctx context.Context, toName string) error
	Snapshot(ctx context.Context, fromName string, w io.Writer) (int64, error)
	Downgrade(ctx context.Context, action etcdprobe.DowngradeAction, target string) (clusterVersion string, err error)
}

// Host is one member's machine: *ssh.Client satisfies it.
type Host interface {
	Run(ctx context.Context, cmd ssh.Command) (ssh.Result, error)
	Upload(ctx context.Context, localPath, remotePath string, mode fs.FileMode) error
}

// Hosts reaches a member's machine by the member's inventory name, one
// connection per host for the whole run.
type Hosts interface {
	Host(ctx context.Context, member string) (Host, error)
}

// Logger is where actions say what they are doing; the runner turns it
// into events. Never pass secrets.
type Logger interface {
	Info(msg string, keyvals ...any)
	Warn(msg string, keyvals ...any)
}
