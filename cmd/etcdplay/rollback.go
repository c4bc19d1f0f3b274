package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/runner"
)

func newRollbackCmd(opts *options) *cobra.Command {
	f := &runFlags{}
	var member string
	cmd := &cobra.Command{
		Use:   "rollback -i INVENTORY [--member NAME] [PLAYBOOK]",
		Short: "Put the failed member back on the old binary while the cluster is still mixed",
		Long: `rollback runs the playbook's rollback steps for one member: the member the
last run failed on (from the journal), or --member NAME. It works while
the cluster version is still the old one. Once it has moved, every member
speaks the new version and an old binary refuses to start: rollback
refuses (exit 5) and names the ways back that remain (restore the
snapshot taken in preflight; on 3.6 and later, the downgrade API).

The same lock, journal and safety gates as run apply: every other member
must be healthy before the member is stopped, and it must come back
healthy, caught up and on the old version.

For a downgrade playbook (3.6-to-3.5, 3.7-to-3.6) rollback is the guide's
"cancel the downgrade": etcdctl downgrade cancel once, then every member
not on the newer minor goes back to it (the named or failed member first,
then leader last), until the cluster version is the original one again.
No member needs naming (docs/downgrades.md).`,
		Args: args(cobra.RangeArgs(0, 1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			files, several, err := expandInventories(f.inventories)
			if err != nil {
				return err
			}
			if several {
				return usageErr(errors.New("rollback puts back one member of one cluster: give one inventory"), "")
			}
			f.inventory = strings.Join(files, "")
			pbArg, err := runPlaybookArg(cmd, f, a)
			if err != nil {
				return err
			}
			if m := runMeta(f); len(a) == 0 && m != nil && len(m.Route) > 0 {
				return rollbackInRoute(cmd, opts, f, m, member)
			}
			s, err := openSession(cmd, opts, f, pbArg)
			if err != nil {
				return err
			}
			defer s.close()
			res, err := runner.Rollback(s.ctx, s.o, member)
			return s.finish(res, err)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&member, "member", "", "the member to roll back (default: the one the journal's run failed on)")
	return cmd
}

// rollbackInRoute puts back a member of the hop an `upgrade --to` route
// stopped in, with that hop's playbook and view of the cluster (a v2
// inventory's hops from 3.0 on speak v3: upgrade.go viewHops).
func rollbackInRoute(cmd *cobra.Command, opts *options, f *runFlags, m *runner.Meta, member string) error {
	hops, err := routeHops(f, m)
	if err != nil {
		return err
	}
	s, err := openSession(cmd, opts, f, hops[0].PlaybookPath)
	if err != nil {
		return err
	}
	defer s.close()
	s.viewHops(hops)
	s.useHop(hops, m.Hop)
	res, err := runner.Rollback(s.ctx, s.o, member)
	return s.finish(res, err)
}
