package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionFrom(t *testing.T) {
	tagged := &debug.BuildInfo{Main: debug.Module{Path: "github.com/etcdplay/etcdplay", Version: "v0.3.1"}}
	checkout := &debug.BuildInfo{Main: debug.Module{Path: "github.com/etcdplay/etcdplay", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	for _, c := range []struct {
		name, stamp string
		bi          *debug.BuildInfo
		want        string
	}{
		{"go install @v0.3.1", "", tagged, "v0.3.1"},
		{"release.sh stamp wins", "v0.4.0", tagged, "v0.4.0"},
		{"checkout", "", checkout, "dev"},
		{"no build info", "", nil, "dev"},
	} {
		if got := versionFrom(c.stamp, c.bi); got.Version != c.want {
			t.Errorf("%s: version %q, want %q", c.name, got.Version, c.want)
		}
	}
	if v := versionFrom("", checkout); v.Revision != "abc123" || !v.Modified {
		t.Errorf("checkout: %+v", v)
	}
}
