package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/schema/diff"
)

func newDiffCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "What changed between two playbooks, step by step",
		Long: `diff compares two playbooks for code review: top-level fields, then per
phase the steps added (+), removed (-) and changed (~) with each changed
argument, guard, name, timeout and retries. Steps are matched by action
and name, so an inserted step does not shift the rest.

-o markdown renders the changes as a pull-request comment (see
examples/ci/). Exit 0 when they are the same, 1 when they differ, 3 when one does not
load. OLD and NEW are paths or shipped names.`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			old, oerr := loadPlaybook(a[0])
			new, nerr := loadPlaybook(a[1])
			for _, err := range []error{oerr, nerr} {
				if exit.Code(err) == exit.Usage {
					return err
				}
			}
			if err := errors.Join(oerr, nerr); err != nil {
				return invalid(cmd.ErrOrStderr(), joinLists(oerr, nerr))
			}
			changes := diff.Compare(old, new)
			out := cmd.OutOrStdout()
			var err error
			switch opts.output {
			case "json":
				err = diff.WriteJSON(out, changes)
			case "markdown":
				err = diff.WriteMarkdown(out, diff.Header{Old: a[0], New: a[1], Guide: new.Guide}, changes)
			default:
				err = diff.WriteText(out, changes)
			}
			if err != nil {
				return err
			}
			if len(changes) > 0 {
				return &exit.Error{Code: exit.Internal, Err: fmt.Errorf("the playbooks differ: %s", plural(len(changes), "change"))}
			}
			return nil
		},
	}
}
