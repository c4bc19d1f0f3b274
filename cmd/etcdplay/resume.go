package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
)

func newResumeCmd(opts *options) *cobra.Command {
	f := &runFlags{}
	ff := &fleetFlags{}
	cmd := &cobra.Command{
		Use:   "resume -i INVENTORY [PLAYBOOK]",
		Short: "Continue a run that stopped, after re-checking the cluster",
		Long: `resume continues the last run journaled in the state folder, with the
same run id. PLAYBOOK defaults to the one the run started with (run.json).
A run of etcdplay upgrade --to is continued as a route: the hop it stopped
in is resumed, then the hops after it run.
The playbook and inventory must be the files the run started with (their
digests are in the journal) unless --force.

Before anything runs, the cluster is probed again and reconciled with the
journal: a member found on the target version is verified and never
stopped again; a member left stopped or on the old version runs its steps
again from the first, behind the same safety gates. Preflight is not
repeated once the run reached the members.

The report (report.md, report.json in the state folder) stays one per run
id: each resume rewrites it from the whole run's events, so every member
shows the version the run first found it on, the state it ended in, and
the time the run stood stopped counts as the operator's, not the
runner's.` + fleetHelp,
		Args: args(cobra.RangeArgs(0, 1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			files, several, err := expandInventories(f.inventories)
			if err != nil {
				return err
			}
			if several {
				return runFleet(cmd, opts, f, ff, strings.Join(a, ""), files)
			}
			if err := singleOnly(opts); err != nil {
				return err
			}
			f.inventory = strings.Join(files, "")
			if len(a) == 0 {
				if done, err := resumeRestore(cmd, opts, f); done {
					return err
				}
			}
			pbArg, err := runPlaybookArg(cmd, f, a)
			if err != nil {
				return err
			}
			if m := runMeta(f); len(a) == 0 && m != nil && len(m.Route) > 0 {
				return resumeRoute(cmd, opts, f, m)
			}
			s, err := openSession(cmd, opts, f, pbArg)
			if err != nil {
				return err
			}
			defer s.close()
			res, err := runner.Resume(s.ctx, s.o)
			if errors.Is(err, runner.ErrNothingToResume) {
				fmt.Fprintf(cmd.ErrOrStderr(), "run %s finished: nothing to resume\n", res.RunID)
				return nil
			}
			return s.finishOrRollBack(res, err)
		},
	}
	f.register(cmd)
	f.registerPause(cmd)
	ff.register(cmd)
	cmd.Flags().BoolVar(&f.force, "force", false, "resume even though the playbook or inventory changed since the run started")
	return cmd
}

// runPlaybookArg is PLAYBOOK when given, else the playbook the journaled
// run started with (run.json in the state folder).
func runPlaybookArg(cmd *cobra.Command, f *runFlags, a []string) (string, error) {
	if len(a) == 1 {
		return a[0], nil
	}
	if f.inventory == "" {
		return "", usageErr(errors.New(cmd.Name()+" needs an inventory"), "add -i INVENTORY")
	}
	inv, _, err := loadInventoryDigest(f.inventory)
	if err != nil {
		var list schema.ErrorList
		if errors.As(err, &list) {
			return "", exit.New(exit.Invalid, errors.New(list.Format()), "")
		}
		return "", err
	}
	dir, err := journal.StateDir(f.stateDir, inv.Cluster)
	if err != nil {
		return "", exit.New(exit.Invalid, err, "")
	}
	m, err := runner.ReadMeta(dir)
	if err != nil {
		why := "no run started there"
		if !errors.Is(err, fs.ErrNotExist) {
			why = err.Error()
		}
		if cmd.Name() == "rollback" {
			return "", usageErr(fmt.Errorf("no run to roll back in %s: %s", dir, why),
				"rollback puts back a member of a run this state folder holds (check --state-dir); to put a member back anyway, name it and the playbook: etcdplay rollback -i INV --member NAME PLAYBOOK")
		}
		return "", usageErr(fmt.Errorf("no run to continue in %s: %s", dir, why),
			"check --state-dir, or start one: etcdplay run PLAYBOOK -i INV")
	}
	if m.Restore != nil {
		return "", usageErr(fmt.Errorf("the last run in %s is restore %s, not a playbook run: there is no member to %s", dir, m.RunID, cmd.Name()),
			"etcdplay resume -i INV finishes a restore that stopped; an upgrade starts with etcdplay run PLAYBOOK -i INV")
	}
	return m.PlaybookPath, nil
}

// runMeta is run.json of the inventory's state folder, nil when there is
// none (runPlaybookArg has said why).
func runMeta(f *runFlags) *runner.Meta {
	inv, _, err := loadInventoryDigest(f.inventory)
	if err != nil {
		return nil
	}
	dir, err := journal.StateDir(f.stateDir, inv.Cluster)
	if err != nil {
		return nil
	}
	m, _ := runner.ReadMeta(dir)
	return m
}

// resumeRoute continues an `upgrade --to` route: every hop's playbook as
// run.json lists it, each the same file it was (unless --force).
func resumeRoute(cmd *cobra.Command, opts *options, f *runFlags, m *runner.Meta) error {
	hops, err := routeHops(f, m)
	if err != nil {
		return err
	}
	// The session opens on the route's first hop, which speaks the
	// inventory's API; each hop then runs with its own playbook and view.
	s, err := openSession(cmd, opts, f, hops[0].PlaybookPath)
	if err != nil {
		return err
	}
	defer s.close()
	s.viewHops(hops)
	res, err := runner.ResumeUpgrade(s.ctx, s.o, hops, m.Target)
	if errors.Is(err, runner.ErrNothingToResume) {
		fmt.Fprintf(cmd.ErrOrStderr(), "run %s finished every hop: nothing to resume\n", res.RunID)
		return nil
	}
	return s.finishRoute(f, hops, res, err)
}

// resumeRestore continues a restore when run.json describes one (done is
// false otherwise, and resume goes on with the playbook run).
func resumeRestore(cmd *cobra.Command, opts *options, f *runFlags) (done bool, err error) {
	if f.inventory == "" {
		return false, nil
	}
	inv, invDigest, err := loadInventoryDigest(f.inventory)
	if err != nil {
		return false, nil // the playbook path reports it
	}
	dir, err := journal.StateDir(f.stateDir, inv.Cluster)
	if err != nil {
		return false, nil
	}
	m, err := runner.ReadMeta(dir)
	if err != nil || m.Restore == nil {
		return false, nil
	}
	s, tgt, err := wireSession(cmd.Context(), cmd, opts, f, inv, nil)
	if err != nil {
		return true, err
	}
	defer s.close()
	s.o.InventoryDigest, s.o.Locker = invDigest, tgt.HostLocker()
	res, err := runner.ResumeRestore(s.ctx, s.o, m.Restore)
	if errors.Is(err, runner.ErrNothingToResume) {
		fmt.Fprintf(cmd.ErrOrStderr(), "restore %s finished: nothing to resume\n", res.RunID)
		return true, nil
	}
	return true, s.finish(res, err)
}

// routeHops loads the hops of the route run.json (m) lists, each the same
// file it was when the route started (unless --force).
func routeHops(f *runFlags, m *runner.Meta) ([]runner.Hop, error) {
	inv, _, err := loadInventoryDigest(f.inventory)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, h := range m.Route {
		names = append(names, h.PlaybookPath)
	}
	hops, err := loadHops(names, inv)
	if err != nil {
		return nil, err
	}
	for i, h := range hops {
		if h.PlaybookDigest != m.Route[i].PlaybookDigest && !f.force {
			return nil, exit.New(exit.Invalid, fmt.Errorf("hop %d's playbook %s changed since run %s started (%s, now %s)", i+1, h.PlaybookPath, m.RunID, m.Route[i].PlaybookDigest, h.PlaybookDigest),
				"resume with the etcdplay that started the upgrade, or add --force if the change is deliberate")
		}
	}
	return hops, nil
}
