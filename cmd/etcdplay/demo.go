package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/sandbox"
)

// demoPlaybook is the upgrade the demo performs: the first path built
// wholly from the module proxy (3.4 exists only as Debian's package).
const (
	demoPlaybook = "3.5-to-3.6"
	demoFrom     = "3.5"
	demoTo       = "3.6"
)

func newDemoCmd(opts *options) *cobra.Command {
	var dir, ssh, stateDir string
	var keep bool
	var keys int
	cmd := &cobra.Command{
		Use:   "demo [--keep] [--keys N]",
		Short: "A real rolling upgrade on this machine: sandbox up, 3.5 to 3.6, sandbox down",
		Long: `demo shows the whole job once, on a cluster it starts here: sandbox up
(3 members of etcd 3.5, each behind SSH), N sample keys written, the
status table, the shipped 3.5-to-3.6 playbook run exactly as
` + "`etcdplay run`" + ` runs it (live progress), every key read back, the status
table again and the run's report, then sandbox down (unless --keep).

The first demo on a machine builds etcd 3.5 and 3.6 from the Go module
proxy (Go must be on PATH; a minute or two, once). The report stays in
--state-dir (default ~/.cache/etcdplay/demo/<cluster>/report.md).
Exit status: 0 when the upgrade succeeded and every key survived;
otherwise the failing step's code, and the sandbox is still torn down.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if dir == "" {
				dir = sandbox.DefaultDir()
			}
			if stateDir == "" {
				stateDir = filepath.Join(filepath.Dir(mustAbs(dir)), "demo")
			}
			if keys < 1 {
				return usageErr(fmt.Errorf("--keys %d: want at least 1", keys), "")
			}
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			began := time.Now()
			p := sandbox.NewProgress(stderr)
			st, err := sandbox.Up(cmd.Context(), sandbox.Options{Dir: dir, Version: demoFrom, SSH: ssh, Also: []string{demoTo}, Progress: p})
			if err != nil {
				return sandboxErr(err, dir)
			}
			if keep {
				defer fmt.Fprintf(stdout, "\nthe sandbox keeps running (--keep): etcdplay sandbox status%s; etcdplay sandbox down%s\n", dirFlag(dir), dirFlag(dir))
			} else {
				defer func() {
					// Torn down whatever happened, even after Ctrl-C.
					if err != nil {
						fmt.Fprintf(stderr, "demo stopped (%v); removing the sandbox (etcdplay demo --keep keeps it, to resume or roll back)\n", exit.Code(err))
					}
					s, derr := sandbox.Down(context.WithoutCancel(cmd.Context()), dir)
					if derr != nil {
						err = errors.Join(err, sandboxErr(derr, dir))
						return
					}
					sshd := ""
					if len(s.SSHD) > 0 {
						sshd = fmt.Sprintf(", sshd %v", s.SSHD)
					}
					fmt.Fprintf(stdout, "\nsandbox down: stopped supervisor %d, etcd %v%s; nothing left running or listening\n", s.Supervisor, s.Members, sshd)
				}()
			}
			var endpoints []string
			for _, h := range st.Hosts {
				endpoints = append(endpoints, h.Client)
			}
			inv := st.Inventory
			fmt.Fprintf(stdout, "sandbox %s: etcd %s on %s, ssh %s\n", st.Cluster, st.Version, strings.Join(st.Addrs(), ", "), st.SSH)

			step := p.Step(fmt.Sprintf("write %d sample keys under %s", keys, sandbox.SamplePrefix))
			err = sandbox.WriteSample(cmd.Context(), endpoints, keys)
			step(err)
			if err != nil {
				return exit.New(exit.Unreachable, err, "")
			}
			fmt.Fprintf(stdout, "\n== before: etcdplay status -i %s\n", sandbox.Tilde(inv))
			if err := runCommand(cmd, "status", "-i", inv); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "\n== etcdplay run %s -i %s\n", demoPlaybook, sandbox.Tilde(inv))
			// The snapshot goes beside the report, not into ./backups of
			// whatever folder the newcomer happened to run the demo from.
			backups := filepath.Join(stateDir, st.Cluster, "backup")
			runArgs := []string{"run", demoPlaybook, "-i", inv, "--state-dir", stateDir, "--backup-dir", backups, "-o", opts.output}
			if opts.verbose {
				runArgs = append(runArgs, "-v")
			}
			if err := runCommand(cmd, runArgs...); err != nil {
				return err
			}
			step = p.Step(fmt.Sprintf("read back the %d sample keys", keys))
			n, err := sandbox.VerifySample(cmd.Context(), endpoints, keys)
			step(err)
			if err != nil {
				return exit.New(exit.StepFailed, err, "")
			}
			fmt.Fprintf(stdout, "\n== after: etcdplay status -i %s\n", sandbox.Tilde(inv))
			if err := runCommand(cmd, "status", "-i", inv); err != nil {
				return err
			}
			sd, _ := journal.StateDir(stateDir, st.Cluster)
			report := filepath.Join(sd, "report.md")
			fmt.Fprintf(stdout, "\n== report: %s\n", sandbox.Tilde(mustAbs(report)))
			writeReportSummary(stdout, report)
			fmt.Fprintf(stdout, "\ndemo: etcd %s -> %s on %d members, %d of %d keys intact, %s\n",
				demoFrom, demoTo, len(st.Hosts), n, keys, time.Since(began).Round(time.Second))
			return nil
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "leave the sandbox running afterwards")
	cmd.Flags().IntVar(&keys, "keys", 1000, "sample keys to write and verify")
	cmd.Flags().StringVar(&dir, "dir", "", "sandbox folder (default $ETCDPLAY_SANDBOX_DIR or ~/.cache/etcdplay/sandbox)")
	cmd.Flags().StringVar(&ssh, "ssh", "", "SSH endpoints: auto, openssh or builtin (default auto, or $ETCDPLAY_SANDBOX_SSH)")
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "folder of the run's state folder (default ~/.cache/etcdplay/demo)")
	return cmd
}

// writeReportSummary prints the report's head: outcome, time, members
// (everything before the step-by-step tables).
func writeReportSummary(w io.Writer, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(w, "(no report: %v)\n", err)
		return
	}
	text := string(b)
	if before, _, ok := strings.Cut(text, "\n## Cluster steps"); ok {
		text = before + "\n"
	}
	io.WriteString(w, text)
}

func mustAbs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
