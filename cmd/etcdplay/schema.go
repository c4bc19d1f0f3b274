package main

import (
	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

func newSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema [playbook|inventory]",
		Short: "Print the JSON Schema (draft 2020-12) of playbooks or inventories",
		Long: `schema prints the JSON Schema of a playbook (the default) or an
inventory, generated from the same Go types the loader decodes. Shipped
playbooks point editors at it with a first line such as
# yaml-language-server: $schema=../schema/playbook.schema.json`,
		ValidArgs: []string{"playbook", "inventory"},
		Args:      args(cobra.MatchAll(cobra.MaximumNArgs(1), cobra.OnlyValidArgs)),
		RunE: func(cmd *cobra.Command, a []string) error {
			var out []byte
			var err error
			if len(a) == 1 && a[0] == "inventory" {
				out, err = schema.InventoryJSONSchema()
			} else {
				out, err = schema.PlaybookJSONSchema(steps.Default())
			}
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
}
