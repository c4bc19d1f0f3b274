package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/playbooks"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

type listEntry struct {
	Name     string `json:"name"`
	From     string `json:"from"`
	To       string `json:"to"`
	Playbook string `json:"playbook"`
	Guide    string `json:"guide"`
}

func newListCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the shipped playbooks, with from/to and guide",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var entries []listEntry
			for _, name := range playbooks.Names() {
				src, path, err := playbooks.Read(name)
				if err != nil {
					return err
				}
				p, err := schema.LoadPlaybook(path, src, steps.Default())
				if err != nil {
					// A shipped playbook that does not load is our bug.
					return exit.New(exit.Internal, fmt.Errorf("shipped playbook %s: %w", name, err), "")
				}
				entries = append(entries, listEntry{name, p.From.String(), p.To.String(), p.Name, p.Guide})
			}
			out := cmd.OutOrStdout()
			if opts.output == "json" {
				return writeJSON(out, entries)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tFROM\tTO\tPLAYBOOK")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.From, e.To, e.Playbook)
			}
			return tw.Flush()
		},
	}
}

func writeJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
