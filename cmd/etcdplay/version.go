package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is stamped at build time by scripts/release.sh:
// -ldflags "-X main.version=v0.1.0". Left empty, the module version that
// `go install github.com/etcdplay/etcdplay/cmd/etcdplay@v0.1.0` records in
// the build info is used, and "dev" for a build from a checkout.
var version = ""

type versionInfo struct {
	Version  string `json:"version"`
	Go       string `json:"go"`
	Module   string `json:"module"`
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified,omitempty"` // built from a checkout with uncommitted changes
}

func currentVersion() versionInfo {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(version, bi)
}

// versionFrom decides the version: the -X stamp, else the main module's
// version from the build info (set by go install ...@vX; "(devel)" in a
// checkout), else "dev".
func versionFrom(stamp string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: stamp, Go: runtime.Version(), Module: "github.com/etcdplay/etcdplay"}
	if bi != nil {
		if bi.Main.Path != "" {
			v.Module = bi.Main.Path
		}
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	return v
}

func newVersionCmd(opts *options) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print etcdplay's version, Go version and module",
		Long: `version prints the release tag etcdplay was built as (stamped by
scripts/release.sh, or recorded by go install ...@vX), "dev" for a build
from a checkout, with the Go version, module and VCS revision.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := currentVersion()
			if opts.output == "json" {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "etcdplay %s (%s, %s", v.Version, v.Go, v.Module)
			if v.Revision != "" {
				fmt.Fprintf(cmd.OutOrStdout(), " %s", v.Revision)
				if v.Modified {
					fmt.Fprint(cmd.OutOrStdout(), "+modified")
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), ")")
			return nil
		},
	}
}
