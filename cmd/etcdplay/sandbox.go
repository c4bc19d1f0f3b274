package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/internal/shell"
	"github.com/etcdplay/etcdplay/runner/route"
	"github.com/etcdplay/etcdplay/sandbox"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/testbed"
)

func newSandboxCmd(opts *options) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "sandbox up|status|down",
		Short: "A real etcd cluster on this machine, each member behind SSH, to try etcdplay on",
		Long: `sandbox runs a real etcd cluster on this machine for rehearsing upgrades:
3 members on 127.0.0.11, .12, .13 (or the next free set of addresses), each
behind its own SSH endpoint on port 2222, and writes the inventory that
points etcdplay at it. etcdplay then works on it exactly as in production:
strict host keys, services started and stopped over SSH, binaries swapped.

The etcd binaries come from the test bed's cache when it is provisioned,
else they are built from the Go module proxy (Go on PATH; about a minute
per version, once). SSH is OpenSSH's sshd when running as root on a
provisioned bed (testbed/provision.sh), otherwise a small built-in server
that serves only the sandbox (--ssh builtin forces it).

The sandbox folder (--dir, $ETCDPLAY_SANDBOX_DIR, default
~/.cache/etcdplay/sandbox) holds the inventory, the members' data and logs,
and the supervisor's log (serve.log). One sandbox per folder.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", "", "sandbox folder (default $ETCDPLAY_SANDBOX_DIR or ~/.cache/etcdplay/sandbox)")
	folder := func() string {
		if dir != "" {
			return dir
		}
		return sandbox.DefaultDir()
	}
	cmd.AddCommand(newSandboxUpCmd(opts, folder), newSandboxStatusCmd(opts, folder),
		newSandboxDownCmd(opts, folder), newSandboxServeCmd(folder))
	return cmd
}

func newSandboxUpCmd(opts *options, folder func() string) *cobra.Command {
	o := sandbox.Options{}
	cmd := &cobra.Command{
		Use:   "up [--version V] [--members N] [--ssh auto|openssh|builtin]",
		Short: "Start the sandbox and print what to run next",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Dir = folder()
			o.Progress = sandbox.NewProgress(cmd.ErrOrStderr())
			st, err := sandbox.Up(cmd.Context(), o)
			if err != nil {
				return sandboxErr(err, o.Dir)
			}
			if opts.output == "json" {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			writeSandboxUp(cmd.OutOrStdout(), st, o.Dir)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.Version, "version", "3.5", "etcd version or role from testbed/versions.txt (3.5, 3.6, 3.4 with Debian's etcd-server, 3.5.35, ...)")
	cmd.Flags().IntVar(&o.Members, "members", 3, "number of members")
	cmd.Flags().StringVar(&o.SSH, "ssh", "", "SSH endpoints: auto, openssh or builtin (default auto, or $ETCDPLAY_SANDBOX_SSH)")
	return cmd
}

// writeSandboxUp says what runs where and the commands to type next.
func writeSandboxUp(w io.Writer, st *sandbox.State, dir string) {
	fmt.Fprintf(w, "sandbox %s: etcd %s, %d members, ssh %s as %s\n", st.Cluster, st.Version, len(st.Hosts), st.SSH, st.User)
	if st.Slot != 0 {
		fmt.Fprintf(w, "(127.0.0.11 and up were taken by another cluster: this one uses slot %d, %s)\n", st.Slot, strings.Join(st.Addrs(), ", "))
	}
	for _, h := range st.Hosts {
		fmt.Fprintf(w, "  %s  ssh %s:%d  client %s\n", h.Name, h.Addr, h.SSHPort, h.Client)
	}
	inv := sandbox.Tilde(st.Inventory)
	fmt.Fprintf(w, "inventory: %s\n\nnext:\n", inv)
	fmt.Fprintf(w, "  etcdplay status -i %s\n", inv)
	if pb := nextPlaybook(st.Version); pb != "" {
		fmt.Fprintf(w, "  etcdplay plan %s -i %s\n", pb, inv)
		fmt.Fprintf(w, "  etcdplay run %s -i %s\n", pb, inv)
	}
	fmt.Fprintf(w, "  etcdplay sandbox down%s\n", dirFlag(dir))
}

// nextPlaybook is the shipped playbook that upgrades version one minor up
// ("3.5-to-3.6" for 3.5.35), or "": the route catalogue's answer, so a
// patch or downgrade playbook is never offered.
func nextPlaybook(version string) string {
	v, err := schema.ParseVersion(version)
	if err != nil {
		return ""
	}
	cat, err := route.Shipped()
	if err != nil {
		return ""
	}
	e, _ := cat.Next(v.MinorLine())
	return e.Name
}

// dirFlag is " --dir D" when D is not the default folder.
func dirFlag(dir string) string {
	if dir == "" || mustAbs(dir) == mustAbs(sandbox.DefaultDir()) {
		return ""
	}
	t := sandbox.Tilde(mustAbs(dir))
	if strings.HasPrefix(t, "~/") {
		return " --dir ~/" + shell.Quote(t[2:]) // the shell expands an unquoted ~/
	}
	return " --dir " + shell.Quote(t)
}

func newSandboxStatusCmd(opts *options, folder func() string) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "The sandbox's folder, processes and SSH endpoints, then etcdplay status",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := folder()
			st, err := sandbox.Load(dir)
			if err != nil {
				return sandboxErr(err, dir)
			}
			w := cmd.OutOrStdout()
			if opts.output != "json" {
				sup := "running"
				if !aliveSupervisor(st) {
					sup = "NOT RUNNING (etcdplay sandbox down" + dirFlag(dir) + " cleans up)"
				}
				fmt.Fprintf(w, "sandbox %s in %s: etcd %s, ssh %s, supervisor pid %d %s\n",
					st.Cluster, sandbox.Tilde(st.Dir), st.Version, st.SSH, st.Supervisor, sup)
				for _, h := range st.Hosts {
					member := "etcd not running"
					if p := h.MemberPID(); p != 0 {
						member = fmt.Sprintf("etcd pid %d", p)
					}
					fmt.Fprintf(w, "  %s  ssh %s:%d  %s\n", h.Name, h.Addr, h.SSHPort, member)
				}
				fmt.Fprintf(w, "inventory: %s\n\n", sandbox.Tilde(st.Inventory))
			}
			// The status command itself, in this process: the same probe,
			// table and exit codes as `etcdplay status -i INVENTORY`.
			return runCommand(cmd, "status", "-i", st.Inventory, "-o", opts.output)
		},
	}
}

func aliveSupervisor(st *sandbox.State) bool {
	return st.Supervisor != 0 && testbed.Alive(st.Supervisor)
}

func newSandboxDownCmd(opts *options, folder func() string) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop everything the sandbox started, by pid, and remove its folder",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := folder()
			s, err := sandbox.Down(cmd.Context(), dir)
			if s != nil && opts.output == "json" {
				if jerr := writeJSON(cmd.OutOrStdout(), s); jerr != nil && err == nil {
					err = jerr
				}
			} else if s != nil {
				w := cmd.OutOrStdout()
				if s.Supervisor != 0 {
					fmt.Fprintf(w, "stopped supervisor pid %d\n", s.Supervisor)
				}
				fmt.Fprintf(w, "stopped etcd pids %v", s.Members)
				if len(s.SSHD) > 0 {
					fmt.Fprintf(w, ", sshd pids %v", s.SSHD)
				}
				if len(s.Leftovers) > 0 {
					fmt.Fprintf(w, ", left over %v", s.Leftovers)
				}
				fmt.Fprintln(w)
				if err == nil {
					fmt.Fprintf(w, "nothing left running or listening; removed %s\n", sandbox.Tilde(s.Dir))
				}
			}
			if err != nil {
				return sandboxErr(err, dir)
			}
			return nil
		},
	}
}

// newSandboxServeCmd is the supervisor `sandbox up` starts in the
// background; not for people.
func newSandboxServeCmd(folder func() string) *cobra.Command {
	o := sandbox.ServeOptions{}
	cmd := &cobra.Command{
		Use:    "serve --dir D --version V --members N --ssh MODE",
		Short:  "The sandbox's supervisor (started by sandbox up)",
		Hidden: true,
		Args:   args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Dir = folder()
			o.Log = cmd.ErrOrStderr()
			return sandbox.Serve(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Version, "version", "", "exact etcd version")
	cmd.Flags().IntVar(&o.Members, "members", 3, "number of members")
	cmd.Flags().StringVar(&o.SSH, "ssh", sandbox.SSHOpenSSH, "openssh or builtin")
	return cmd
}

// sandboxErr gives the sandbox's errors their exit codes and next step.
func sandboxErr(err error, dir string) error {
	switch {
	case errors.Is(err, sandbox.ErrExists):
		return exit.New(exit.Usage, err, "etcdplay sandbox status"+dirFlag(dir)+" shows it; etcdplay sandbox down"+dirFlag(dir)+" removes it")
	case errors.Is(err, sandbox.ErrNoSandbox):
		return exit.New(exit.Usage, err, "etcdplay sandbox up"+dirFlag(dir)+" starts one")
	}
	var ee *exit.Error
	if errors.As(err, &ee) {
		return err
	}
	return exit.New(exit.Internal, err, "")
}

// runCommand runs another etcdplay command in this process, as if typed
// after "etcdplay", with the caller's output and context: the demo and
// sandbox status reuse status and run exactly as people run them.
func runCommand(cmd *cobra.Command, argv ...string) error {
	root := newRoot(cmd.OutOrStdout(), cmd.ErrOrStderr())
	root.SetIn(cmd.InOrStdin())
	root.SetArgs(argv)
	return root.ExecuteContext(cmd.Context())
}
