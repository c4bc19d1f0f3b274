package steps

import (
	"testing"

	"github.com/etcdplay/etcdplay/schema"
)

// TestOnTarget: a minor playbook is done with any release of its `to`
// minor; a patch playbook only with the inventory's newest release of
// its minor, and starts only below it (never a downgrade).
func TestOnTarget(t *testing.T) {
	inv := &schema.Inventory{Releases: map[string]*schema.Release{
		"3.5.21": {Version: schema.Version{Major: 3, Minor: 5, Patch: 21}},
		"3.5.35": {Version: schema.Version{Major: 3, Minor: 5, Patch: 35}},
		"3.6.16": {Version: schema.Version{Major: 3, Minor: 6, Patch: 16}},
	}}
	minor := &schema.Playbook{From: schema.Minor{Major: 3, Minor: 5}, To: schema.Minor{Major: 3, Minor: 6}}
	patch := &schema.Playbook{From: schema.Minor{Major: 3, Minor: 5}, To: schema.Minor{Major: 3, Minor: 5}}
	if got := PatchTarget(patch, inv); got.String() != "3.5.35" {
		t.Errorf("patch target = %s", got)
	}
	if got := PatchTarget(minor, inv); !got.IsZero() {
		t.Errorf("minor playbook has a patch target %s", got)
	}
	for _, c := range []struct {
		pb             *schema.Playbook
		server         string
		target, source bool
	}{
		{minor, "3.6.8", true, false},
		{minor, "3.5.21", false, true},
		{minor, "", false, false},
		{patch, "3.5.35", true, false},
		{patch, "3.5.21", false, true},
		{patch, "3.5.36", false, false}, // above the target: not this playbook's job
		{patch, "3.6.16", false, false},
		{patch, "not_decided", false, false},
	} {
		if got := OnTarget(c.pb, inv, c.server); got != c.target {
			t.Errorf("OnTarget(%s-%s, %q) = %v", c.pb.From, c.pb.To, c.server, got)
		}
		if got := OnSource(c.pb, inv, c.server); got != c.source {
			t.Errorf("OnSource(%s-%s, %q) = %v", c.pb.From, c.pb.To, c.server, got)
		}
	}
}
