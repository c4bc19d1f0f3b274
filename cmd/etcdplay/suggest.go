package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/etcdplay/etcdplay/internal/suggest"
)

// unknownCommand is the error for `etcdplay stauts`: the word that is not a
// command, and the command it most likely was.
func unknownCommand(parent *cobra.Command, name string) error {
	var names []string
	for _, c := range parent.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
			names = append(names, c.Aliases...)
		}
	}
	hint := parent.CommandPath() + " --help lists the commands"
	if s := suggest.Closest(name, names); s != "" {
		hint = fmt.Sprintf("did you mean %q? %s", parent.CommandPath()+" "+s, hint)
	}
	return usageErr(fmt.Errorf("unknown command %q", name), hint)
}

var unknownFlagRE = regexp.MustCompile(`^unknown flag: --(\S+)$`)

// flagError is every command's flag error: a misspelt command before any
// flag is reported as the command it is (`etcdplay statuss -i x` is not a
// problem with -i), a misspelt flag gets the flag it most likely was, and
// the hint names the command's own --help.
func flagError(cmd *cobra.Command, err error) error {
	if cmd == cmd.Root() && len(cmd.Flags().Args()) > 0 {
		return unknownCommand(cmd, cmd.Flags().Args()[0])
	}
	hint := cmd.CommandPath() + " --help shows the flags"
	if m := unknownFlagRE.FindStringSubmatch(err.Error()); m != nil {
		var names []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				names = append(names, f.Name)
			}
		})
		if s := suggest.Closest(m[1], names); s != "" {
			hint = "did you mean --" + s + "? " + hint
		}
	}
	return usageErr(fmt.Errorf("%s", strings.TrimSpace(err.Error())), hint)
}
