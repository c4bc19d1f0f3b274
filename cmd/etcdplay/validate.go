package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

type validateResult struct {
	File     string           `json:"file"`
	Kind     string           `json:"kind"`
	OK       bool             `json:"ok"`
	Problems schema.ErrorList `json:"problems"`
	// Warnings do not fail validation: they say what a run will ask for.
	Warnings []string `json:"warnings,omitempty"`
}

func newValidateCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check playbooks and inventories; every problem with file:line:col",
		Long: `validate loads each file, a playbook (top-level playbook:) or an inventory
(top-level cluster:), and reports every problem it finds, sorted by
position, with the source line and a caret. FILE may also name a shipped
playbook. It exits 0 only when every file is clean, 3 otherwise.`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			var results []validateResult
			var all schema.ErrorList
			for _, f := range files {
				r, err := validateOne(f)
				if err != nil {
					return err
				}
				results = append(results, r)
				all = append(all, r.Problems...)
			}
			out := cmd.OutOrStdout()
			if opts.output == "json" {
				if err := writeJSON(out, results); err != nil {
					return err
				}
				if len(all) > 0 {
					return &exit.Error{Code: exit.Invalid, Err: errors.New(countProblems(all))}
				}
				return nil
			}
			for _, r := range results {
				if r.OK {
					fmt.Fprintf(out, "%s: ok\n", r.File)
				}
				for _, w := range r.Warnings {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: warning: %s\n", r.File, w)
				}
			}
			if len(all) > 0 {
				return invalid(cmd.ErrOrStderr(), all)
			}
			return nil
		},
	}
}

func validateOne(arg string) (validateResult, error) {
	src, name, err := readSource(arg)
	if err != nil {
		return validateResult{}, err
	}
	r := validateResult{File: name, Problems: schema.ErrorList{}}
	kind, v, err := schema.LoadFile(name, src, steps.Default())
	r.Kind = string(kind)
	if inv, ok := v.(*schema.Inventory); ok && inv != nil {
		r.Warnings = append(r.Warnings, schema.InventoryWarnings(inv)...)
	}
	if pb, ok := v.(*schema.Playbook); ok && pb != nil {
		if w := runner.BackupWarning(pb); w != "" {
			r.Warnings = append(r.Warnings, w)
		}
	}
	var list schema.ErrorList
	if errors.As(err, &list) {
		r.Problems = list
	} else if err != nil {
		return r, err
	}
	r.OK = len(r.Problems) == 0
	return r, nil
}
