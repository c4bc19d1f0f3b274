package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/runner/route"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/target"
)

func newUpgradeCmd(opts *options) *cobra.Command {
	f := &runFlags{}
	var to string
	cmd := &cobra.Command{
		Use:   "upgrade --to VERSION -i INVENTORY",
		Short: "Upgrade the cluster to a version, through every playbook on the way",
		Long: `upgrade reads every member's server version and the cluster version,
plans the route to VERSION over the shipped playbooks and runs it: first a
patch hop when a member is below the floor the next playbook asserts (the
floor is the playbook's own assert-version min, e.g. 3.5.32 before
3.5-to-3.6), then each minor in turn. VERSION is a minor (3.7: the newest
3.7 release the inventory lists) or an exact release (3.7.1). Each hop
installs the newest release the inventory lists on its minor; the route
shows which (plan --to shows it without running).

Each hop is a whole run of its playbook: its preflight with a verified
backup, the members one at a time behind the same safety gates, its
finish. All hops share one run id, one journal, one lock and one report,
so after a failure or a crash ` + "`etcdplay resume -i INV`" + ` finishes the hop it
stopped in and runs the rest.

Refused before anything changes: a route that goes down (a downgrade: the
downgrade playbooks run one minor at a time with etcdplay run), that
skips a minor no shipped playbook covers, or that needs a release the
inventory does not list (every missing release is named).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			files, several, err := expandInventories(f.inventories)
			if err != nil {
				return err
			}
			if several {
				return usageErr(errors.New("upgrade --to plans one cluster's route: give one inventory"), "run it once per cluster")
			}
			f.inventory = strings.Join(files, "")
			rt, hops, err := planRoute(cmd.Context(), f.inventory, to)
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			if err := route.WriteText(stderr, rt); err != nil {
				return err
			}
			if len(hops) == 0 {
				return nil
			}
			fmt.Fprintln(stderr)
			s, err := openSession(cmd, opts, f, hops[0].PlaybookPath)
			if err != nil {
				return err
			}
			defer s.close()
			s.viewHops(hops)
			res, err := runner.Upgrade(s.ctx, s.o, hops, to)
			return s.finishRoute(f, hops, res, err)
		},
	}
	f.register(cmd)
	f.registerPause(cmd)
	cmd.Flags().StringVar(&to, "to", "", "the version to reach: a minor (3.7: the newest 3.7 release the inventory lists) or an exact release (3.7.1)")
	return cmd
}

// planRoute probes the cluster the inventory describes and plans the
// route to `to` over the shipped playbooks, loading each hop's playbook.
// Planning changes nothing.
func planRoute(ctx context.Context, invPath, to string) (*route.Route, []runner.Hop, error) {
	if to == "" {
		return nil, nil, usageErr(errors.New("--to is required"), "e.g. --to 3.6 (the newest 3.6 release the inventory lists) or --to 3.6.14")
	}
	if invPath == "" {
		return nil, nil, usageErr(errors.New("an inventory is required"), "add -i INVENTORY")
	}
	tg, err := route.ParseTarget(to)
	if err != nil {
		return nil, nil, usageErr(err, "")
	}
	inv, _, err := loadInventoryDigest(invPath)
	if err != nil {
		if exit.Code(err) == exit.Usage {
			return nil, nil, err
		}
		var list schema.ErrorList
		if errors.As(err, &list) {
			return nil, nil, exit.New(exit.Invalid, errors.New(list.Format()), "")
		}
		return nil, nil, err
	}
	cat, err := route.Shipped()
	if err != nil {
		return nil, nil, exit.New(exit.Internal, err, "")
	}
	tgt, err := target.Open(ctx, inv, target.Options{})
	if err != nil {
		return nil, nil, exit.New(exit.Invalid, err, "")
	}
	defer tgt.Close()
	c, err := tgt.Cluster(ctx)
	if err != nil {
		return nil, nil, exit.New(exit.Unreachable, fmt.Errorf("probe cluster %s: %w", inv.Cluster, err),
			"the route starts from the live versions; etcdplay status -i INV shows what answers")
	}
	live := route.Live{Cluster: c.Version}
	for _, m := range inv.Members {
		lm := route.Member{Name: m.Name}
		if pm := c.MemberByName(m.Name); pm != nil && pm.Reachable {
			lm.Server = pm.Server
		}
		live.Members = append(live.Members, lm)
	}
	var releases []schema.Version
	for _, r := range inv.SortedReleases() {
		releases = append(releases, r.Version)
	}
	rt, err := route.Plan(cat, live, releases, tg)
	if err != nil {
		return nil, nil, err
	}
	rt.Cluster = inv.Cluster
	hops, err := loadHops(rt.Playbooks(), inv)
	return rt, hops, err
}

// loadHops loads each hop's shipped playbook and checks it plans against
// the inventory (its swap finds its release), as run does for one.
func loadHops(names []string, inv *schema.Inventory) ([]runner.Hop, error) {
	var hops []runner.Hop
	for _, name := range names {
		pb, digest, err := loadPlaybookDigest(name)
		if err != nil {
			return nil, err
		}
		if _, err := runner.PlanOffline(pb, runner.HopInventory(pb, inv)); err != nil {
			return nil, exit.New(exit.Invalid, fmt.Errorf("hop %s: %w", name, err), "")
		}
		hops = append(hops, runner.Hop{Playbook: pb, PlaybookPath: name, PlaybookDigest: digest})
	}
	return hops, nil
}

// viewHops gives each hop that speaks another API than the inventory its
// view of the cluster: on a v2 inventory, the hops from 3.0 on reach the
// same members over v3 and also hold the v3 lease lock
// (runner.HopInventory, target.V3View). Those hops share one view, so
// one v3 lease holds for all of them.
func (s *session) viewHops(hops []runner.Hop) {
	var view *runner.View
	for i, h := range hops {
		inv := runner.HopInventory(h.Playbook, s.o.Inventory)
		if inv == s.o.Inventory {
			continue
		}
		if view == nil {
			v := s.tgt.V3View()
			if v == nil {
				return
			}
			view = &runner.View{Inventory: inv, Cluster: v, Hosts: v, Locker: v.Locker()}
		}
		hops[i].View = view
	}
}

// finishRoute is finishOrRollBack for a route: a member the operator asks
// to put back at a pause is rolled back with the playbook of the hop the
// route stopped in (run.json), not the first hop's.
func (s *session) finishRoute(f *runFlags, hops []runner.Hop, res *runner.Result, err error) error {
	if res != nil && res.RollbackRequested != "" {
		if m := runMeta(f); m != nil {
			s.useHop(hops, m.Hop)
		}
	}
	return s.finishOrRollBack(res, err)
}

// useHop points the session at hop n (1-based) of the route: its
// playbook and, when it has one, its view of the cluster. Out of range
// leaves the session as it is.
func (s *session) useHop(hops []runner.Hop, n int) {
	if n < 1 || n > len(hops) {
		return
	}
	h := hops[n-1]
	s.o.Playbook, s.o.PlaybookPath, s.o.PlaybookDigest = h.Playbook, h.PlaybookPath, h.PlaybookDigest
	if v := h.View; v != nil {
		s.o.Inventory, s.o.Cluster, s.o.Hosts = v.Inventory, v.Cluster, v.Hosts
	}
}
