package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/target"
)

func newRunCmd(opts *options) *cobra.Command {
	f := &runFlags{}
	ff := &fleetFlags{}
	var planFile string
	cmd := &cobra.Command{
		Use:   "run PLAYBOOK -i INVENTORY",
		Short: "Upgrade the cluster: preflight, then one member at a time, then finish",
		Long: `run takes the cluster's lock, checks the live cluster, and runs the
playbook member by member (leader-last: followers in inventory order, the
leader at that moment last). Whatever the playbook says, no member is
stopped unless every other member is healthy, and the next member is not
touched until the previous one is healthy, caught up and on the target
version. Members already on the target are skipped, so running a finished
upgrade again changes nothing.

Progress goes to stderr (-o json: JSON lines on stdout). Every step is
journaled in the state folder (--state-dir, default ./.etcdplay/<cluster>/),
where the report (report.md, report.json) is written at the end. On a
failure the output names the member, the step, what was observed and what
was expected, and prints the commands that resume or roll back.

--pause member stops before each member and before finish, prints the
status table and asks: continue, stop (like Ctrl-C: journaled, exit 130,
resume continues) or roll back the member just upgraded; --pause phase
asks before the members and before finish. Off a terminal it needs --yes.

Ctrl-C lets a critical step (stop, swap, start) finish, journals it and
stops (exit 130, "interrupted at ...; resume with: ..."); a second Ctrl-C
stops at once.

--plan FILE runs only if FILE (from plan -o json) was made from exactly
these playbook and inventory files.` + fleetHelp,
		Args: args(cobra.RangeArgs(0, 1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			files, several, err := expandInventories(f.inventories)
			if err != nil {
				return err
			}
			if several {
				switch {
				case planFile != "":
					return usageErr(errors.New("--plan checks one cluster's plan: give one inventory"), "")
				case len(a) == 0:
					return usageErr(errors.New("run needs a playbook"), "usage: "+cmd.UseLine())
				}
				return runFleet(cmd, opts, f, ff, a[0], files)
			}
			if err := singleOnly(opts); err != nil {
				return err
			}
			f.inventory = strings.Join(files, "")
			var saved *runner.Plan
			if planFile != "" {
				fh, err := os.Open(planFile)
				if err != nil {
					return usageErr(fmt.Errorf("read plan: %w", err), "")
				}
				saved, err = runner.ReadPlan(fh)
				fh.Close()
				if err != nil {
					return err
				}
				if saved.Offline || saved.Digests == nil {
					return runner.CheckPlan(saved, runner.Digests{})
				}
				if len(a) == 0 {
					a = []string{saved.Playbook.File}
					if _, err := os.Stat(a[0]); err != nil {
						// a shipped playbook's plan names it playbooks/NAME.yaml
						a[0] = strings.TrimSuffix(filepath.Base(a[0]), ".yaml")
					}
				}
			}
			if len(a) == 0 {
				return usageErr(errors.New("run needs a playbook"), "usage: "+cmd.UseLine())
			}
			s, err := openSession(cmd, opts, f, a[0])
			if err != nil {
				return err
			}
			defer s.close()
			if saved != nil {
				if err := runner.CheckPlan(saved, runner.Digests{Playbook: s.o.PlaybookDigest, Inventory: s.o.InventoryDigest}); err != nil {
					return err
				}
			}
			res, err := runner.Apply(s.ctx, s.o)
			return s.finishOrRollBack(res, err)
		},
	}
	f.register(cmd)
	f.registerPause(cmd)
	ff.register(cmd)
	cmd.Flags().StringVar(&planFile, "plan", "", "run only if this saved plan (plan -o json) matches the files")
	return cmd
}

// runFlags are the flags run, resume and rollback share.
type runFlags struct {
	// inventories is -i as given; inventory the one file of a
	// single-cluster command (a fleet sets it per cluster).
	inventories inventoryArgs
	inventory   string
	stateDir    string
	breakLock   bool
	yes         bool
	backupDir   string
	acceptNew   bool
	gateTimeout time.Duration
	force       bool
	pause       string
	// allowQuorumLoss is the opt-in of docs/safety.md invariant 1.
	allowQuorumLoss bool
	// backup names a backup taken before the run; noBackup opts out of
	// one (docs/safety.md invariant 4).
	backup   string
	noBackup bool
}

// registerPause adds --pause (run and resume).
func (f *runFlags) registerPause(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.pause, "pause", "", "stop at safe points and ask: member (before each member and before finish) or phase (before the members and before finish)")
}

func (f *runFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.VarP(&f.inventories, "inventory", "i", "inventory file (required)")
	fl.StringVar(&f.stateDir, "state-dir", journal.DefaultRoot, "folder of the state folders (journal, report): <state-dir>/<cluster>/")
	fl.BoolVar(&f.breakLock, "break-lock", false, "break another run's lock after asking (only when that run is dead)")
	fl.BoolVarP(&f.yes, "yes", "y", false, "answer yes to every question (confirm steps, --break-lock)")
	fl.StringVar(&f.backupDir, "backup-dir", "", "local folder for snapshots (default backups/<cluster>/<run id>)")
	fl.BoolVar(&f.acceptNew, "accept-new-host-keys", false, "record the SSH host key of a host known_hosts does not list (a changed key is still refused)")
	fl.StringVar(&f.backup, "backup", "", "a backup taken before this run (the manifest*.json beside its snapshot), checked against the cluster, when the playbook takes none")
	fl.BoolVar(&f.noBackup, "no-backup", false, "let members stop with no backup of this run (asks, or --yes)")
	fl.BoolVar(&f.allowQuorumLoss, "allow-quorum-loss", false, "upgrade a cluster whose voters cannot spare one (1 or 2 voters): it takes no writes while each member is stopped")
	fl.DurationVar(&f.gateTimeout, "gate-timeout", 2*time.Minute, "how long a member may take to be healthy, caught up and on the target after its steps")
}

// session is the wiring of one run, resume or rollback: the loaded files,
// the real cluster and hosts, sinks, lock, signals.
type session struct {
	o        runner.Options
	ctx      context.Context
	stderr   io.Writer
	json     *events.JSON
	progress *events.Progress
	cleanup  []func()
	// tgt is the inventory's target (a route's hops may view it over v3).
	tgt *target.Target
}

func (s *session) close() {
	for i := len(s.cleanup) - 1; i >= 0; i-- {
		s.cleanup[i]()
	}
}

// openSession loads the playbook and inventory (exit 3 on any problem,
// every problem listed), opens the target, and wires the runner.
func openSession(cmd *cobra.Command, opts *options, f *runFlags, playbookArg string) (*session, error) {
	return openSessionWith(cmd.Context(), cmd, opts, f, playbookArg, nil)
}

// openSessionWith is openSession with the events going to sink (one
// cluster of a fleet) instead of a view of its own; nil: the view -o and
// -v ask for.
func openSessionWith(ctx context.Context, cmd *cobra.Command, opts *options, f *runFlags, playbookArg string, sink events.Sink) (*session, error) {
	if f.inventory == "" {
		return nil, usageErr(errors.New(cmd.Name()+" needs an inventory"), "add -i INVENTORY")
	}
	pauseAt, err := runner.ParsePauseAt(f.pause)
	if err != nil {
		return nil, usageErr(err, "")
	}
	if err := checkPauseInput(pauseAt, f.yes, cmd.InOrStdin()); err != nil {
		return nil, err
	}
	stderr := cmd.ErrOrStderr()
	pb, pbDigest, perr := loadPlaybookDigest(playbookArg)
	inv, invDigest, ierr := loadInventoryDigest(f.inventory)
	for _, err := range []error{perr, ierr} {
		if exit.Code(err) == exit.Usage {
			return nil, err
		}
	}
	if err := errors.Join(perr, ierr); err != nil {
		return nil, invalid(stderr, joinLists(perr, ierr))
	}
	if _, err := runner.PlanOffline(pb, inv); err != nil {
		return nil, invalid(stderr, err)
	}
	s, tgt, err := wireSession(ctx, cmd, opts, f, inv, sink)
	if err != nil {
		return nil, err
	}
	s.o.Playbook, s.o.PlaybookPath, s.o.PlaybookDigest = pb, playbookArg, pbDigest
	s.o.InventoryDigest = invDigest
	if pauseAt != runner.PauseNever {
		hosts := map[string]string{}
		for _, m := range inv.Members {
			hosts[m.Name] = m.Host
		}
		s.o.Pause = pauseAt
		s.o.Ask = (&pauseAsker{cluster: tgt, hosts: hosts, in: cmd.InOrStdin(), out: stderr, yes: f.yes}).Ask
	}
	return s, nil
}

// wireSession opens the target and wires the runner's options for inv:
// sinks (sink, or the view -o and -v ask for when nil), state folder,
// lock, confirmation, signals. The caller adds the playbook.
func wireSession(ctx context.Context, cmd *cobra.Command, opts *options, f *runFlags, inv *schema.Inventory, sink events.Sink) (*session, *target.Target, error) {
	stderr := cmd.ErrOrStderr()
	dir, err := journal.StateDir(f.stateDir, inv.Cluster)
	if err != nil {
		return nil, nil, exit.New(exit.Invalid, err, "")
	}
	tgt, err := target.Open(ctx, inv, target.Options{AcceptNewHostKeys: f.acceptNew, V2DataSize: true})
	if err != nil {
		return nil, nil, exit.New(exit.Invalid, err, "")
	}
	s := &session{stderr: stderr, tgt: tgt}
	s.cleanup = append(s.cleanup, func() { tgt.Close() })

	switch {
	case sink != nil:
	case opts.output == "json":
		s.json = events.NewJSON(cmd.OutOrStdout())
		sink = s.json
	case opts.verbose:
		sink = events.NewHuman(events.NewLogger(stderr, log.InfoLevel).WithPrefix(cmd.Name()))
	default:
		s.progress = events.NewProgress(stderr, events.ProgressOptions{
			Live: events.IsTerminal(stderr), Profile: events.ColorProfile(stderr), Width: events.TerminalWidth(stderr)})
		sink = s.progress
		s.cleanup = append(s.cleanup, s.progress.Close)
	}
	root := ""
	if f.stateDir != journal.DefaultRoot {
		root = f.stateDir
	}
	s.o = runner.Options{
		Inventory: inv, InventoryPath: f.inventory,
		Cluster: tgt, Hosts: tgt, Sink: sink,
		StateDir: dir, StateRoot: root,
		BreakLock: f.breakLock, Confirm: confirmer(f.yes, cmd.InOrStdin(), stderr),
		BackupDir: f.backupDir, GateTimeout: f.gateTimeout, Force: f.force,
		AllowQuorumLoss: f.allowQuorumLoss,
		BackupFile:      f.backup, NoBackup: f.noBackup,
		Locker: tgt.Locker(),
	}
	s.ctx, s.o.Hard = twoStageInterrupt(ctx)
	return s, tgt, nil
}

// finish prints the summary (people read it on stderr in both modes) and
// passes the error on for its exit code.
func (s *session) finish(res *runner.Result, err error) error {
	if s.progress != nil {
		s.progress.Close() // end the live line before the summary
	}
	if s.progress == nil && err != nil && res != nil && res.Outcome == runner.OutcomeRefused {
		// -o json: events go to stdout, so stderr's first line is the
		// cause (x509, a refused key, a missing sudo rule), as in text mode.
		first, _, _ := strings.Cut(err.Error(), "\n")
		fmt.Fprintln(s.stderr, "refused: "+first)
	}
	if res != nil && res.Outcome != runner.OutcomeLocked {
		_ = runner.WriteSummary(s.stderr, res)
	}
	if s.json != nil && s.json.Err() != nil && err == nil {
		return exit.New(exit.Internal, fmt.Errorf("writing events: %w", s.json.Err()), "")
	}
	return err
}

// finishOrRollBack is finish, unless the operator answered "rollback" at
// a pause: then the stopped run's summary is printed and the member is put
// back, as `etcdplay rollback --member M` would, under a fresh lock.
func (s *session) finishOrRollBack(res *runner.Result, err error) error {
	if res == nil || res.RollbackRequested == "" {
		return s.finish(res, err)
	}
	if res.Outcome != runner.OutcomeLocked {
		_ = runner.WriteSummary(s.stderr, res)
	}
	fmt.Fprintf(s.stderr, "\nrolling %s back, as the operator answered\n", res.RollbackRequested)
	s.o.Pause, s.o.Ask = runner.PauseNever, nil
	res, err = runner.Rollback(s.ctx, s.o, res.RollbackRequested)
	return s.finish(res, err)
}

// twoStageInterrupt: ctx is cancelled by the first SIGINT/SIGTERM (main's
// signal.NotifyContext): the soft stop. The returned hard context is
// cancelled by the next one.
func twoStageInterrupt(ctx context.Context) (context.Context, context.Context) {
	hard, cancel := context.WithCancel(context.Background())
	go func() {
		<-ctx.Done()
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(ch)
		<-ch
		cancel()
	}()
	return ctx, hard
}

// confirmer asks on the terminal; without one it answers no unless --yes.
func confirmer(yes bool, in io.Reader, out io.Writer) func(context.Context, string) (bool, error) {
	return func(ctx context.Context, msg string) (bool, error) {
		if yes {
			return true, nil
		}
		fh, ok := in.(*os.File)
		if !ok || !isatty.IsTerminal(fh.Fd()) {
			return false, nil
		}
		fmt.Fprintf(out, "%s [y/N] ", msg)
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && line == "" {
			return false, nil
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "y", "yes":
			return true, nil
		}
		return false, nil
	}
}

func loadPlaybookDigest(arg string) (*schema.Playbook, string, error) {
	src, name, err := readSource(arg)
	if err != nil {
		return nil, "", err
	}
	pb, err := schema.LoadPlaybook(name, src, steps.Default())
	return pb, journal.Digest(src), err
}

func loadInventoryDigest(arg string) (*schema.Inventory, string, error) {
	src, err := os.ReadFile(arg)
	if err != nil {
		return nil, "", usageErr(fmt.Errorf("read inventory %s: %w", arg, errors.Unwrap(err)), "")
	}
	inv, err := schema.LoadInventory(arg, src)
	return inv, journal.Digest(src), err
}
