package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/target"
)

func newSudoersCmd(opts *options) *cobra.Command {
	var inventory string
	var offline bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "sudoers -i INVENTORY",
		Short: "Print the exact sudoers lines each host needs for ssh.sudo",
		Long: `sudoers prints, per host, the sudo rules the login user needs to run this
inventory with the shipped playbooks and ssh.sudo: true, and nothing more: one
Cmnd_Alias per host listing each exact command (absolute program path, literal
arguments, no wildcards) and one NOPASSWD rule. These are the same commands
ssh-stop, swap and ssh-start run, built by the same code: the service commands
as written, install -o OWNER -g GROUP -m MODE of each release into
<binary>.etcdplay-new, the mv that keeps, places and restores the binary, and
cat -- FILE of etcd's --config-file when the login user cannot read it (the
member.options facts; found from the running etcd's command line, so
--offline cannot know it).

A second rule per host, printed apart, is what 'etcdplay restore' needs: mv
of the data dir to DATA_DIR.etcdplay-aside, mv of the restored folder from
the staging folder to the data dir, chown -R of it to the data dir's owner
(read with stat; --offline writes ETCD_USER:ETCD_GROUP). Grant it only where
this login user may restore the cluster; without it restore refuses before
anything stops and names the missing line.

Program paths (install, mv, rm, and a service command's program given without
a path) are resolved with 'command -v' over SSH, and the binaries' owner and
mode are read with 'stat', both as the login user; the home folder gives the
default staging folder. --offline reaches no host and assumes /usr/bin for the
programs, root:root 0755 binaries and /home/USER: check those assumptions
before pasting.

Install the text with visudo -f /etc/sudoers.d/etcdplay on each host. Members
whose inventory does not say ssh.sudo are skipped.

Exit status: 0 printed, 3 invalid inventory, 4 a host cannot be reached.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if inventory == "" {
				return usageErr(errors.New("sudoers needs an inventory"), "add -i INVENTORY")
			}
			inv, err := loadInventory(inventory)
			if err != nil {
				if exit.Code(err) == exit.Usage {
					return err
				}
				return invalid(cmd.ErrOrStderr(), err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			hosts, err := sudoersOf(ctx, inv, offline)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if opts.output == "json" {
				return writeJSON(out, map[string]any{"inventory": inv.Cluster, "offline": offline, "hosts": hosts})
			}
			for i, h := range hosts {
				if i > 0 {
					fmt.Fprintln(out)
				}
				fmt.Fprintf(out, "# %s: member %s, login user %s (/etc/sudoers.d/etcdplay on that host)\n", h.Host, h.Member, h.User)
				fmt.Fprint(out, h.Sudoers)
				if h.RestoreSudoers != "" {
					fmt.Fprintf(out, "# %s: etcdplay restore only (data dir set aside, restored, given to etcd's user); grant if this login user may restore\n", h.Member)
					fmt.Fprint(out, h.RestoreSudoers)
				}
			}
			if len(hosts) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no member says ssh.sudo: true: etcdplay needs no sudo rule for this inventory")
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&inventory, "inventory", "i", "", "inventory file (required)")
	cmd.Flags().BoolVar(&offline, "offline", false, "reach no host: assume /usr/bin programs, root:root 0755 binaries, /home/USER")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "bound for reaching every host")
	return cmd
}

// hostSudoers is one host's rules, for people (Sudoers) and machines.
type hostSudoers struct {
	Member   string                    `json:"member"`
	Host     string                    `json:"host"`
	User     string                    `json:"user"`
	Commands []steps.PrivilegedCommand `json:"commands"`
	Facts    steps.HostFacts           `json:"facts"`
	Sudoers  string                    `json:"sudoers"`
	// RestoreCommands are what `etcdplay restore` adds (set a data dir
	// aside, put the restored one in place, give it to etcd's user), in
	// a rule of their own an admin may choose not to grant.
	RestoreCommands []steps.PrivilegedCommand `json:"restore_commands,omitempty"`
	RestoreSudoers  string                    `json:"restore_sudoers,omitempty"`
}

// sudoersOf builds every sudo member's rules from the commands
// steps/privileged.go builds for it, with facts read over SSH (or
// assumed offline).
func sudoersOf(ctx context.Context, inv *schema.Inventory, offline bool) ([]hostSudoers, error) {
	var tgt *target.Target
	if !offline {
		var err error
		if tgt, err = target.Open(ctx, inv, target.Options{}); err != nil {
			return nil, exit.New(exit.Invalid, err, "check the inventory's tls section and client URLs")
		}
		defer tgt.Close()
	}
	var out []hostSudoers
	for _, mem := range inv.Members {
		m := inv.Resolve(mem)
		if m.SSH.Sudo == nil || !*m.SSH.Sudo {
			continue
		}
		facts := steps.OfflineHostFacts(&m)
		user := m.SSH.User
		if !offline {
			h, err := tgt.Host(ctx, m.Name)
			if err != nil {
				return nil, exit.New(exit.Unreachable, err, "fix SSH to the host, or add --offline to print the rules from assumptions")
			}
			if facts, err = steps.ReadHostFacts(ctx, h, &m, m.DataDir); err != nil {
				return nil, exit.New(exit.Unreachable, err, "")
			}
			// A config file the login user cannot read is read with sudo cat.
			if o, err := steps.ReadOptions(ctx, h, &m); err == nil {
				if o.ConfigNeedsSudo {
					facts.ConfigFile = o.ConfigFile
				}
				// A data directory the login user cannot read is checked
				// with etcdutl under sudo (check-v2store).
				facts.DataDir = steps.DataDirForSudo(ctx, h, &m, o.Options)
			}
			if cfg, err := tgt.SSHConfig(m.Name); err == nil && user == "" {
				user = cfg.User
			}
		}
		cmds, err := steps.MemberPrivileged(inv, &m, facts)
		if err != nil {
			return nil, exit.New(exit.Invalid, err, "under ssh.sudo a service command is one program with its arguments")
		}
		if user == "" {
			user = "LOGIN_USER"
		}
		hs := hostSudoers{Member: m.Name, Host: m.Host, User: user, Commands: cmds, Facts: facts,
			Sudoers: steps.RenderSudoers(user, steps.SudoersAlias(inv.Cluster+"_"+m.Name), cmds)}
		if rc := steps.MemberRestorePrivileged(inv, &m, facts); len(rc) > 0 {
			hs.RestoreCommands = rc
			hs.RestoreSudoers = steps.RenderSudoers(user, steps.SudoersAlias(inv.Cluster+"_"+m.Name+"_restore"), rc)
		}
		out = append(out, hs)
	}
	return out, nil
}
