package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/runner/route"
	"github.com/etcdplay/etcdplay/target"
)

func newPlanCmd(opts *options) *cobra.Command {
	var inventories inventoryArgs
	var to string
	var offline, allowQuorumLoss bool
	cmd := &cobra.Command{
		Use:   "plan (PLAYBOOK | --to VERSION) -i INVENTORY [--offline]",
		Short: "Show the exact steps, member order and guards; change nothing",
		Long: `plan resolves a playbook against an inventory and prints what a run
would do: phases, members in order, each step with its resolved arguments
and its guard. PLAYBOOK is a path or a shipped name such as 3.4-to-3.5.

By default the cluster is probed (read-only): members are listed in the
order a run would take (leader-last: followers in inventory order, then
the current leader; members already on the target are skipped), each
guard is evaluated with the facts of now and shows the facts it read, so
is each check step (holds, or what the run would warn or stop with), and
the plan records the digests of the playbook and inventory, so that
` + "`run --plan plan.json`" + ` refuses to run if either file has changed since.

A live plan also proves, for every member still to upgrade and before
anything changes, what the run will need (in parallel, per host): SSH login
through every jump host with strict host keys; with ssh.sudo, each exact
sudo command (sudo -n -l, which runs nothing); the binary path exists and
prints the version its member reports; every release file is readable,
matches its sha256 and prints its version; the staging folder is writable
with room for the release (uploads are checked locally, not sent: run's
preflight stages them). A host that is not ready is printed as NOT READY
with the fix, and plan exits 4 (SSH) or 5 (refused), naming the first cause
in its first line.

With --offline nothing is contacted: members are listed in inventory order
(leader-last is applied at run time) and guards and checks are shown as
expressions.

With --to VERSION instead of a playbook, plan shows the route
` + "`etcdplay upgrade --to VERSION`" + ` would take from the live versions: each hop
(a patch up to the floor the next playbook asserts, then each minor), the
exact release each installs, and the releases the inventory must list;
a route that cannot be taken is refused the way upgrade refuses it.
Plan a hop's steps with ` + "`etcdplay plan HOP -i INV`" + `.`,
		Args: args(cobra.RangeArgs(0, 1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			files, several, err := expandInventories(inventories)
			if err != nil {
				return err
			}
			switch {
			case to != "" && len(a) > 0:
				return usageErr(errors.New("plan takes a PLAYBOOK or --to VERSION, not both"), "")
			case to != "" && offline:
				return usageErr(errors.New("plan --to starts from the live versions, so it cannot be --offline"), "")
			case to != "" && several:
				return usageErr(errors.New("plan --to plans one cluster's route: give one inventory"), "")
			case to != "":
				return planTo(cmd, opts, strings.Join(files, ""), to)
			case len(a) == 0:
				return usageErr(errors.New("plan needs a PLAYBOOK or --to VERSION"), "usage: "+cmd.UseLine())
			}
			if !several {
				return planOne(cmd, opts, a[0], strings.Join(files, ""), offline, allowQuorumLoss)
			}
			// A fleet: every inventory is checked before any plan is
			// printed, then each cluster's plan in turn (-o json: one
			// array), and the first failure's code is the exit code.
			if _, err := loadFleet(cmd, files); err != nil {
				return err
			}
			var plans []*runner.Plan
			var errs []error
			for i, file := range files {
				if opts.output != "json" && i > 0 {
					fmt.Fprintln(cmd.OutOrStdout())
				}
				p, err := planFor(cmd, a[0], file, offline)
				if p != nil {
					p.AllowQuorumLoss = allowQuorumLoss
					plans = append(plans, p)
					if opts.output != "json" {
						if opts.output == "markdown" {
							fmt.Fprintf(cmd.OutOrStdout(), "## Cluster %s (%s)\n\n", p.Cluster, file)
						} else {
							fmt.Fprintf(cmd.OutOrStdout(), "== cluster %s (%s) ==\n", p.Cluster, file)
						}
						if werr := writePlan(cmd, opts, p); werr != nil {
							return werr
						}
					}
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", file, err))
				}
			}
			if opts.output == "json" {
				if err := writeJSON(cmd.OutOrStdout(), plans); err != nil {
					return err
				}
			}
			if len(errs) > 0 {
				return &exit.Error{Code: exit.Code(errs[0]), Err: errors.Join(errs...)}
			}
			return nil
		},
	}
	cmd.Flags().VarP(&inventories, "inventory", "i", "inventory file (required; several, or a folder, plan each cluster in turn)")
	cmd.Flags().BoolVar(&offline, "offline", false, "plan without contacting the cluster")
	cmd.Flags().StringVar(&to, "to", "", "show the route to this version (a minor such as 3.7, or an exact release) instead of one playbook's plan")
	cmd.Flags().BoolVar(&allowQuorumLoss, "allow-quorum-loss", false, "review a run given --allow-quorum-loss (1- or 2-voter clusters)")
	return cmd
}

// todo are the members a run would upgrade: those the live probe did not
// find on the target already.
func todo(p *runner.Plan) []string {
	if p.Live == nil {
		return p.Members
	}
	var out []string
	for _, m := range p.Live.Members {
		if m.Done == "" {
			out = append(out, m.Name)
		}
	}
	return out
}

// planOne is plan for one inventory, exactly as it always was.
func planOne(cmd *cobra.Command, opts *options, playbook, inventory string, offline, allowQuorumLoss bool) error {
	if inventory == "" {
		return usageErr(errors.New("plan needs an inventory"), "add -i INVENTORY")
	}
	p, err := planFor(cmd, playbook, inventory, offline)
	if p == nil {
		return err
	}
	p.AllowQuorumLoss = allowQuorumLoss
	return errors.Join(err, writePlan(cmd, opts, p))
}

// planFor loads and plans one inventory. A plan whose hosts are not all
// ready comes back with the readiness error: it is still printed.
func planFor(cmd *cobra.Command, playbook, inventory string, offline bool) (*runner.Plan, error) {
	stderr := cmd.ErrOrStderr()
	pb, pbDigest, perr := loadPlaybookDigest(playbook)
	inv, invDigest, ierr := loadInventoryDigest(inventory)
	if exit.Code(perr) == exit.Usage {
		return nil, perr
	}
	if exit.Code(ierr) == exit.Usage {
		return nil, ierr
	}
	if err := errors.Join(perr, ierr); err != nil {
		return nil, invalid(stderr, joinLists(perr, ierr))
	}
	p, err := runner.PlanOffline(pb, inv)
	if err != nil {
		return nil, invalid(stderr, err)
	}
	if offline {
		return p, nil
	}
	tgt, err := target.Open(cmd.Context(), inv, target.Options{V2DataSize: true})
	if err != nil {
		return nil, exit.New(exit.Invalid, err, "plan --offline needs no connection")
	}
	defer tgt.Close()
	p, err = runner.PlanLive(cmd.Context(), pb, inv, tgt, tgt, runner.Digests{Playbook: pbDigest, Inventory: invDigest})
	if err != nil {
		return nil, err
	}
	var readyErr error
	p.Ready, readyErr = runner.ProveReady(cmd.Context(), pb, inv, tgt, tgt, todo(p))
	return p, readyErr
}

func writePlan(cmd *cobra.Command, opts *options, p *runner.Plan) error {
	out := cmd.OutOrStdout()
	switch opts.output {
	case "json":
		return runner.WritePlanJSON(out, p)
	case "markdown":
		return runner.WritePlanMarkdown(out, p)
	}
	return runner.WritePlanText(out, p)
}

// planTo prints the route `upgrade --to` would take.
func planTo(cmd *cobra.Command, opts *options, inventory, to string) error {
	rt, _, err := planRoute(cmd.Context(), inventory, to)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	switch opts.output {
	case "json":
		return route.WriteJSON(out, rt)
	case "markdown":
		return route.WriteMarkdown(out, rt)
	}
	return route.WriteText(out, rt)
}
