package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/target"
)

func newPlanCmd(opts *options) *cobra.Command {
	var inventory string
	var offline, allowQuorumLoss bool
	cmd := &cobra.Command{
		Use:   "plan PLAYBOOK -i INVENTORY [--offline]",
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
expressions.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if inventory == "" {
				return usageErr(errors.New("plan needs an inventory"), "add -i INVENTORY")
			}
			stderr := cmd.ErrOrStderr()
			pb, pbDigest, perr := loadPlaybookDigest(a[0])
			inv, invDigest, ierr := loadInventoryDigest(inventory)
			if exit.Code(perr) == exit.Usage {
				return perr
			}
			if exit.Code(ierr) == exit.Usage {
				return ierr
			}
			if err := errors.Join(perr, ierr); err != nil {
				return invalid(stderr, joinLists(perr, ierr))
			}
			p, err := runner.PlanOffline(pb, inv)
			if err != nil {
				return invalid(stderr, err)
			}
			var readyErr error
			if !offline {
				tgt, err := target.Open(cmd.Context(), inv, target.Options{V2DataSize: true})
				if err != nil {
					return exit.New(exit.Invalid, err, "plan --offline needs no connection")
				}
				defer tgt.Close()
				p, err = runner.PlanLive(cmd.Context(), pb, inv, tgt, tgt, runner.Digests{Playbook: pbDigest, Inventory: invDigest})
				if err != nil {
					return err
				}
				p.Ready, readyErr = runner.ProveReady(cmd.Context(), pb, inv, tgt, tgt, todo(p))
			}
			p.AllowQuorumLoss = allowQuorumLoss
			out := cmd.OutOrStdout()
			var werr error
			switch opts.output {
			case "json":
				werr = runner.WritePlanJSON(out, p)
			case "markdown":
				werr = runner.WritePlanMarkdown(out, p)
			default:
				werr = runner.WritePlanText(out, p)
			}
			return errors.Join(readyErr, werr)
		},
	}
	cmd.Flags().StringVarP(&inventory, "inventory", "i", "", "inventory file (required)")
	cmd.Flags().BoolVar(&offline, "offline", false, "plan without contacting the cluster")
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
