package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/internal/term"
	"github.com/etcdplay/etcdplay/target"
)

func newStatusCmd(opts *options) *cobra.Command {
	var inventories inventoryArgs
	var timeout time.Duration
	var sshOnly bool
	cmd := &cobra.Command{
		Use:   "status -i INVENTORY [--ssh]",
		Short: "Show every member: versions, leader, health, db size, raft indexes",
		Long: `status probes every member the inventory lists through etcd's client API
(v3 gRPC plus /version, or the v2 HTTP API) and prints one line per member:
server, cluster and storage versions, who leads, health, backend size, raft
and applied index, and whether it is a learner. It uses no SSH.

With --ssh it does the SSH part alone: it logs in to every member's host
(through every jump host, host keys checked strictly), runs nothing, and
prints one line per host; exit 4 when any login fails.

Exit status: 0 healthy, 8 when any member is unhealthy, unreachable or there
is no leader, 4 when no member answered, 3 when the inventory is invalid.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			files, several, err := expandInventories(inventories)
			if err != nil {
				return err
			}
			if !several {
				return statusOne(cmd, opts, strings.Join(files, ""), timeout, sshOnly, nil)
			}
			invs, err := loadFleet(cmd, files)
			if err != nil {
				return err
			}
			// A fleet: each cluster's status in turn (-o json: one array);
			// the exit code is the first unhealthy or unreachable cluster's.
			all := []any{}
			var collect *[]any
			if opts.output == "json" && !sshOnly {
				collect = &all // --ssh -o json: each cluster's own lines
			}
			var bad []string
			code := 0
			for i, fi := range invs {
				file := fi.file
				if opts.output != "json" {
					if i > 0 {
						fmt.Fprintln(cmd.OutOrStdout())
					}
					fmt.Fprintf(cmd.OutOrStdout(), "== cluster %s (%s) ==\n", fi.inv.Cluster, file)
				}
				if err := statusOne(cmd, opts, file, timeout, sshOnly, collect); err != nil {
					if code == 0 {
						code = exit.Code(err)
					}
					bad = append(bad, fmt.Sprintf("%s (exit %d)", fi.inv.Cluster, exit.Code(err)))
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", fi.inv.Cluster, exit.Format(err))
				}
			}
			if collect != nil {
				if err := writeJSON(cmd.OutOrStdout(), all); err != nil {
					return err
				}
			}
			if len(bad) > 0 {
				return &exit.Error{Code: code, Err: fmt.Errorf("%d of %d clusters not healthy: %s", len(bad), len(invs), strings.Join(bad, ", "))}
			}
			return nil
		},
	}
	cmd.Flags().VarP(&inventories, "inventory", "i", "inventory file (required; several, or a folder, show each cluster in turn)")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Second, "bound for the whole probe")
	cmd.Flags().BoolVar(&sshOnly, "ssh", false, "log in to every host over SSH instead of probing etcd")
	return cmd
}

// statusMember is a probed member plus the SSH host the inventory names,
// so scripts can map a problem to a machine.
type statusMember struct {
	etcdprobe.Member
	Host string `json:"host"`
}

// statusOutput is `status -o json`: the probe as it is, with each member's
// host (Members shadows the embedded list).
type statusOutput struct {
	Inventory string `json:"inventory"`
	*etcdprobe.Cluster
	Members []statusMember `json:"members"`
}

func statusJSON(name string, c *etcdprobe.Cluster, hosts map[string]string) statusOutput {
	o := statusOutput{Inventory: name, Cluster: c, Members: []statusMember{}}
	for _, m := range c.Members {
		o.Members = append(o.Members, statusMember{Member: m, Host: hosts[m.Endpoint]})
	}
	return o
}

// writeStatusTable prints one line per member and, below, a numbered note
// for each member's error, so the table stays narrow.
func writeStatusTable(w io.Writer, c *etcdprobe.Cluster, hosts map[string]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tHOST\tSERVER\tCLUSTER\tSTORAGE\tLEADER\tHEALTHY\tDB-SIZE\tRAFT-INDEX\tAPPLIED\tLEARNER")
	var notes []string
	for _, m := range c.Members {
		name := m.Endpoint
		if name == "" {
			name = m.Name + " (not in inventory)"
		}
		healthy := yesNo(m.Healthy)
		if why := cmp.Or(m.Unhealthy(), m.Error); why != "" {
			notes = append(notes, fmt.Sprintf("[%d] %s: %s", len(notes)+1, term.Line(name), term.Line(why)))
			healthy += " [" + strconv.Itoa(len(notes)) + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			term.Line(name), dash(hosts[m.Endpoint]), dash(term.Line(m.Server)), dash(term.Line(m.ClusterVersion)), dash(term.Line(m.Storage)),
			yesNo(m.IsLeader), healthy, size(m, c.API), index(m.RaftIndex, m.Reachable), index(m.RaftAppliedIndex, m.Reachable), yesNo(m.IsLearner))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\ncluster %s (api %s): version %s, leader %s, revision %d, %s\n",
		dash(c.ID.String()), c.API, dash(term.Line(c.Version)), dash(term.Line(c.Leader)), c.Revision, healthWord(c.Healthy))
	for _, a := range c.Alarms {
		fmt.Fprintf(w, "alarm: %s on %s\n", term.Line(a.Type), term.Line(cmp.Or(a.Member, a.MemberID.String())))
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	return nil
}

func size(m etcdprobe.Member, api string) string {
	switch {
	case !m.Reachable:
		return "-"
	case api == etcdprobe.APIv2:
		return "n/a" // the v2 API does not expose the store's size
	}
	return humanBytes(m.DBSize)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func index(i uint64, reachable bool) string {
	if !reachable {
		return "-"
	}
	return strconv.FormatUint(i, 10)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" || s == "0000000000000000" {
		return "-"
	}
	return s
}

func healthWord(ok bool) string {
	if ok {
		return "healthy"
	}
	return "NOT HEALTHY"
}

// statusOne is status for one inventory. collect, when not nil, gathers
// the -o json value instead of printing it (a fleet prints one array).
func statusOne(cmd *cobra.Command, opts *options, inventory string, timeout time.Duration, sshOnly bool, collect *[]any) error {
	if inventory == "" {
		return usageErr(errors.New("status needs an inventory"), "add -i INVENTORY")
	}
	inv, err := loadInventory(inventory)
	if err != nil {
		if exit.Code(err) == exit.Usage {
			return err
		}
		return invalid(cmd.ErrOrStderr(), err)
	}
	tgt, err := target.Open(cmd.Context(), inv, target.Options{})
	if err != nil {
		return exit.New(exit.Invalid, err, "check the inventory's tls section and client URLs")
	}
	defer tgt.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	if sshOnly {
		return statusSSH(ctx, cmd.OutOrStdout(), opts.output == "json", inv, tgt)
	}
	c, perr := tgt.Cluster(ctx)
	if c == nil {
		if collect != nil {
			// a fleet's array keeps one entry per cluster
			*collect = append(*collect, map[string]any{"inventory": inv.Cluster, "error": perr.Error()})
		}
		return exit.New(exit.Unreachable, perr, "")
	}
	hosts := map[string]string{}
	for _, m := range inv.Members {
		hosts[m.Name] = m.Host
	}
	out := cmd.OutOrStdout()
	if collect != nil {
		*collect = append(*collect, statusJSON(inv.Cluster, c, hosts))
	} else if opts.output == "json" {
		if err := writeJSON(out, statusJSON(inv.Cluster, c, hosts)); err != nil {
			return err
		}
	} else if err := writeStatusTable(out, c, hosts); err != nil {
		return err
	}
	switch {
	case perr != nil:
		return exit.New(exit.Unreachable, perr, "check the client URLs in the inventory and that etcd runs")
	case !c.Healthy:
		return &exit.Error{Code: exit.Unhealthy, Err: fmt.Errorf("cluster %s is not healthy: %s", inv.Cluster, strings.Join(c.Problems(), "; "))}
	}
	return nil
}
