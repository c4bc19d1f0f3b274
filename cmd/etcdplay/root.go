package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/internal/exit"
)

// options shared by every command.
type options struct {
	output  string // text or json
	verbose bool   // -v: the detailed key=value log instead of one line per step
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	opts := &options{}
	root := &cobra.Command{
		Use:   "etcdplay",
		Short: "etcd's upgrade guides as reviewed playbooks, run over SSH",
		Long: `etcdplay turns etcd's upgrade guides into versioned YAML playbooks of
typed actions with guards, and runs them member by member over SSH
against the cluster an inventory describes.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return unknownCommand(cmd, args[0])
			}
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case opts.output == "markdown" && markdownCommands[cmd.Name()]:
			case opts.output != "text" && opts.output != "json":
				want := "text or json"
				if markdownCommands[cmd.Name()] {
					want = "text, json or markdown"
				}
				return usageErr(fmt.Errorf("-o %q: want %s", opts.output, want), "")
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVarP(&opts.output, "output", "o", "text", "output format: text or json (plan and diff: also markdown, for pull-request comments)")
	root.PersistentFlags().BoolVarP(&opts.verbose, "verbose", "v", false, "detailed progress: every step's start and end with its fields (run, resume, rollback)")
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		newListCmd(opts),
		newValidateCmd(opts),
		newSchemaCmd(),
		newStatusCmd(opts),
		newSudoersCmd(opts),
		newPlanCmd(opts),
		newRunCmd(opts),
		newUpgradeCmd(opts),
		newResumeCmd(opts),
		newRollbackCmd(opts),
		newRestoreCmd(opts),
		newDiffCmd(opts),
		newVersionCmd(opts),
		newSandboxCmd(opts), newDemoCmd(opts),
	)
	return root
}

// markdownCommands render -o markdown too: review output for pull
// requests.
// run and resume: a fleet's summary (singleOnly refuses it for one
// cluster).
var markdownCommands = map[string]bool{"plan": true, "diff": true, "run": true, "resume": true}

// singleOnly refuses what only a fleet renders: -o markdown of run and
// resume is the fleet's summary.
func singleOnly(opts *options) error {
	if opts.output == "markdown" {
		return usageErr(errors.New("-o markdown is a fleet's summary: give several inventories (-i A -i B, or a folder)"), "")
	}
	return nil
}

func usageErr(err error, hint string) error {
	return &exit.Error{Code: exit.Usage, Err: err, Hint: hint}
}

// args wraps a cobra argument check so a wrong argument count is a usage
// error (exit 2), not an internal one.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) > 0 && cmd.HasAvailableSubCommands() {
			return unknownCommand(cmd, a[0]) // `etcdplay sandbox upp`
		}
		if err := check(cmd, a); err != nil {
			return usageErr(err, "usage: "+cmd.UseLine())
		}
		return nil
	}
}
