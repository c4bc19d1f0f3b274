package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// writeCLIDoc renders the command tree as docs/cli.md: each command's
// usage, description and flags, in the order `etcdplay --help` lists them.
// It is the one source of that page (TestCLIDoc keeps it current), so the
// page cannot drift from the flags.
func writeCLIDoc(w io.Writer, root *cobra.Command) error {
	root.InitDefaultCompletionCmd()
	var b strings.Builder
	b.WriteString("# etcdplay command reference\n\n")
	b.WriteString("Generated from the commands (`go test ./cmd/etcdplay -run TestCLIDoc -update`); do not edit by hand.\n")
	b.WriteString("Every command also takes the global flags listed under `etcdplay`.\n")
	var walk func(c *cobra.Command, depth int)
	walk = func(c *cobra.Command, depth int) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		fmt.Fprintf(&b, "\n%s %s\n\n", strings.Repeat("#", min(depth+2, 4)), c.CommandPath())
		if c.Short != "" {
			fmt.Fprintf(&b, "%s.\n\n", strings.TrimSuffix(c.Short, "."))
		}
		fmt.Fprintf(&b, "```\n%s\n```\n", c.UseLine())
		if c.Long != "" {
			// a line starting with # would be a heading of this page
			long := strings.TrimSpace(c.Long)
			long = strings.ReplaceAll("\n"+long, "\n#", "\n\\#")[1:]
			fmt.Fprintf(&b, "\n%s\n", long)
		}
		flags := c.LocalNonPersistentFlags()
		if c == root {
			flags = c.PersistentFlags()
		}
		writeFlagTable(&b, flags)
		for _, sub := range c.Commands() {
			walk(sub, depth+1)
		}
	}
	walk(root, 0)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeFlagTable(b *strings.Builder, fs *pflag.FlagSet) {
	var rows []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		name := "`--" + f.Name + "`"
		if f.Shorthand != "" {
			name = "`-" + f.Shorthand + "`, " + name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0s" && f.DefValue != "0" {
			def = "`" + f.DefValue + "`"
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s |", name, strings.ReplaceAll(f.Usage, "|", `\|`), def))
	})
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n| flag | meaning | default |\n|---|---|---|\n")
	b.WriteString(strings.Join(rows, "\n") + "\n")
}
