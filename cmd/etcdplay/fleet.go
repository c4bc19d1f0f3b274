package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/log"
	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/fleet"
	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/schema"
)

// inventoryArgs is -i: one inventory file as before, or several (-i a.yaml
// -i b.yaml), or a folder of them: a fleet (package fleet). Its type name
// stays "string" so the single-inventory help reads as it always did.
type inventoryArgs []string

func (v *inventoryArgs) Set(s string) error { *v = append(*v, s); return nil }
func (v *inventoryArgs) String() string     { return strings.Join(*v, ",") }
func (v *inventoryArgs) Type() string       { return "string" }

// fleetHelp is the part of run's and resume's help about fleets.
const fleetHelp = `

Fleets: -i may be given several times, or name a folder of inventories
(its *.yaml and *.yml files). Each cluster then runs under its own lock,
journal and report, up to --parallel at a time; a failure stops only its
own cluster, unless --fail-fast: then the others stop at their next safe
point (between members, resumable) and no other starts. A cluster whose
lock another run holds, or that is already on the target (run), or has
nothing to continue (resume), is skipped with its reason: two operators or
CI jobs can work through the same fleet at once. Progress is one line per
cluster (-v and -o json keep each cluster's detail, with its name); a
summary ends the run on stdout (a table; -o markdown; -o json: its last
line, kind "fleet-summary"). --backup-dir DIR gives each cluster
DIR/<cluster>. Exit status: 0 when every cluster succeeded
or was skipped; 130 when interrupted; otherwise the code of the first
cluster, in the fleet's order, that failed.`

// fleetFlags are run's and resume's fleet options.
type fleetFlags struct {
	parallel int
	failFast bool
}

func (f *fleetFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&f.parallel, "parallel", 1, "with several inventories: how many clusters run at once")
	cmd.Flags().BoolVar(&f.failFast, "fail-fast", false, "with several inventories: once one cluster fails, stop the others between members and start no more")
}

// expandInventories turns -i into files; several says whether they make
// a fleet. With one file, the command behaves exactly as it always has.
func expandInventories(args inventoryArgs) (files []string, several bool, err error) {
	files, several, err = fleet.Inventories(args)
	if err != nil {
		return nil, false, usageErr(err, "")
	}
	return files, several, nil
}

// fleetInventory is one loaded inventory of a fleet.
type fleetInventory struct {
	file string
	inv  *schema.Inventory
}

// loadFleet loads every inventory before anything runs: any problem in
// any of them is exit 3 with every problem listed, and nothing is
// touched. Two inventories naming one cluster would share its lock and
// state folder, so that is refused too.
func loadFleet(cmd *cobra.Command, files []string) ([]fleetInventory, error) {
	var out []fleetInventory
	var errs []error
	byName := map[string]string{}
	for _, f := range files {
		inv, _, err := loadInventoryDigest(f)
		if exit.Code(err) == exit.Usage {
			return nil, err
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, ok := byName[inv.Cluster]; ok {
			return nil, exit.New(exit.Invalid, fmt.Errorf("%s and %s both describe cluster %q: they would share one lock and one state folder", prev, f, inv.Cluster),
				"give each cluster one inventory")
		}
		byName[inv.Cluster] = f
		out = append(out, fleetInventory{file: f, inv: inv})
	}
	if len(errs) > 0 {
		return nil, invalid(cmd.ErrOrStderr(), joinLists(errs...))
	}
	return out, nil
}

// fleetSinks are the views of a fleet's run: one line per cluster by
// default, each cluster's own log with -v, one JSON stream with -o json.
type fleetSinks struct {
	progress *fleet.Progress
	json     *events.JSON
	sink     func(cluster string) events.Sink
}

func newFleetSinks(cmd *cobra.Command, opts *options, invs []fleetInventory) *fleetSinks {
	stderr := cmd.ErrOrStderr()
	var names []string
	for _, fi := range invs {
		names = append(names, fi.inv.Cluster)
	}
	v := &fleetSinks{}
	switch {
	case opts.output == "json":
		v.json = events.NewJSON(cmd.OutOrStdout())
		v.sink = func(c string) events.Sink { return fleet.WithCluster(v.json, c) }
	case opts.verbose:
		l := events.NewLogger(stderr, log.InfoLevel)
		v.sink = func(c string) events.Sink { return events.NewHuman(l.WithPrefix(cmd.Name() + " " + c)) }
	default:
		v.progress = fleet.NewProgress(stderr, names, fleet.ProgressOptions{
			Live: events.IsTerminal(stderr), Width: events.TerminalWidth(stderr)})
		v.sink = v.progress.Sink
	}
	return v
}

// runFleet runs (or resumes) every inventory's cluster and ends with the
// fleet's summary; its error carries the fleet's exit code.
func runFleet(cmd *cobra.Command, opts *options, f *runFlags, ff *fleetFlags, playbookArg string, files []string) error {
	resume := cmd.Name() == "resume"
	switch {
	case f.pause != "":
		return usageErr(errors.New("--pause asks about one cluster at a time: give one inventory"), "")
	case ff.parallel < 1:
		return usageErr(fmt.Errorf("--parallel %d: want 1 or more", ff.parallel), "")
	}
	invs, err := loadFleet(cmd, files)
	if err != nil {
		return err
	}
	var pb *schema.Playbook
	if playbookArg != "" {
		var perr error
		if pb, _, perr = loadPlaybookDigest(playbookArg); perr != nil {
			if exit.Code(perr) == exit.Usage {
				return perr
			}
			return invalid(cmd.ErrOrStderr(), joinLists(perr))
		}
	}
	views := newFleetSinks(cmd, opts, invs)
	var tasks []fleet.Task
	for _, fi := range invs {
		tasks = append(tasks, fleet.Task{Cluster: fi.inv.Cluster, Inventory: fi.file,
			Run: func(ctx context.Context, c fleet.Control) fleet.Outcome {
				one := *f
				one.inventory = fi.file
				if one.backupDir != "" {
					// one folder per cluster: snapshots keep their names
					one.backupDir = filepath.Join(one.backupDir, fi.inv.Cluster)
				}
				return runCluster(ctx, cmd, opts, &one, ff, pb, playbookArg, resume, views.sink(fi.inv.Cluster), c)
			}})
	}
	var view fleet.View
	if views.progress != nil {
		view = views.progress
	}
	outs := fleet.Run(cmd.Context(), tasks, fleet.Options{Parallel: ff.parallel, FailFast: ff.failFast, View: view})
	if views.progress != nil {
		views.progress.Close()
	}
	out := cmd.OutOrStdout()
	var werr error
	switch opts.output {
	case "json":
		werr = fleet.WriteJSON(out, outs, time.Now())
	case "markdown":
		werr = fleet.WriteMarkdown(out, outs)
	default:
		werr = fleet.WriteTable(out, outs)
	}
	if views.json != nil && views.json.Err() != nil {
		werr = errors.Join(werr, views.json.Err())
	}
	if ferr := fleet.Err(outs); ferr != nil {
		return ferr
	}
	if werr != nil {
		return exit.New(exit.Internal, fmt.Errorf("writing the summary: %w", werr), "")
	}
	return nil
}

// runCluster is one cluster's turn in a fleet: run (or resume) it as the
// single-inventory command would, with the fleet's sink, and judge how it
// ended.
func runCluster(ctx context.Context, cmd *cobra.Command, opts *options, f *runFlags, ff *fleetFlags,
	pb *schema.Playbook, playbookArg string, resume bool, sink events.Sink, c fleet.Control) fleet.Outcome {
	// route: the cluster's run is an `upgrade --to` route, continued as one.
	var route []runner.Hop
	var routeTarget string
	if resume && playbookArg == "" {
		arg, err := runPlaybookArg(cmd, f, nil)
		if err != nil {
			if exit.Code(err) == exit.Usage {
				// no run.json: this machine never ran this cluster
				return fleet.Outcome{Status: fleet.Skipped, Reason: "no run to continue in " + stateDirOf(f, cmd)}
			}
			return fleet.Failure(err)
		}
		playbookArg = arg
		if pb, _, err = loadPlaybookDigest(arg); err != nil {
			return fleet.Failure(err)
		}
		if m := runMeta(f); m != nil && len(m.Route) > 0 {
			if route, err = routeHops(f, m); err != nil {
				return fleet.Failure(err)
			}
			routeTarget = m.Target
		}
	}
	s, err := openSessionWith(cmd.Context(), cmd, opts, f, playbookArg, sink)
	if err != nil {
		return fleet.Failure(err)
	}
	defer s.close()
	onTarget := func() (string, bool) {
		if resume {
			return "", false
		}
		st, _ := s.o.Cluster.Cluster(ctx)
		return fleet.OnTarget(st, pb.To)
	}
	if why, ok := onTarget(); ok {
		return fleet.Outcome{Status: fleet.Skipped, Reason: why}
	}
	if ff.failFast {
		// Every member boundary is a safe point where the fleet may say stop.
		s.o.Pause, s.o.Ask = runner.PauseMember, c.Ask
	}
	var res *runner.Result
	switch {
	case resume && route != nil:
		res, err = runner.ResumeUpgrade(s.ctx, s.o, route, routeTarget)
	case resume:
		res, err = runner.Resume(s.ctx, s.o)
	default:
		res, err = runner.Apply(s.ctx, s.o)
	}
	out := fleet.FromRun(res, err)
	if out.Status == fleet.Failed && exit.Code(err) == exit.Refused {
		// Another run may have finished this cluster between the look
		// above and the lock: its preflight then refuses a cluster that
		// is already where this run was taking it.
		if why, ok := onTarget(); ok {
			return fleet.Outcome{Status: fleet.Skipped, Reason: why + ", upgraded by another run"}
		}
	}
	return out
}

func stateDirOf(f *runFlags, cmd *cobra.Command) string {
	inv, err := loadInventory(f.inventory)
	if err != nil {
		return f.stateDir
	}
	return filepath.Join(f.stateDir, inv.Cluster)
}
