package schema

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Limits on what a playbook or inventory may say. They keep hostile or
// mistaken input from reaching paths, commands and the screen: a name
// goes into local and remote folder names, a path into remote commands,
// a number into waits. docs/safety.md lists them.
const (
	// MaxFileSize is the largest playbook or inventory read.
	MaxFileSize = 1 << 20
	// ManyMembers is the member count above which validate warns (etcd
	// advises 3, 5 or 7 voters); MaxMembers the count above which an
	// inventory is refused.
	ManyMembers = 7
	MaxMembers  = 15
	// MaxTimeout bounds a step's timeout and a wait's duration;
	// MaxRetries a step's retries.
	MaxTimeout = 24 * time.Hour
	MaxRetries = 20
	// maxShown is the width source lines are cut to in error excerpts.
	maxShown = 120
)

// nameRe is what a cluster or member name may be: it becomes a folder
// name on the operator's machine and on the members.
var nameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)

// Name decodes a cluster or member name.
func (d *Decoder) Name(n *yaml.Node, what string) string {
	s := d.NonEmpty(n, what)
	if s != "" && !nameRe.MatchString(s) {
		d.Hintf(n, "use letters, digits, '.', '_' and '-', not starting with '.' or '-' (it names folders)",
			"%s %q has characters a name may not have", what, clip(s))
	}
	return s
}

// RemotePath decodes a path on the members: absolute, one line, no
// control characters (it goes into remote commands).
func (d *Decoder) RemotePath(n *yaml.Node, what string) string {
	s := d.String(n, what)
	if s == "" {
		return s
	}
	switch {
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		d.Errorf(n, "%s: %q holds a newline or control character", what, clip(s))
	case !strings.HasPrefix(s, "/"):
		d.Hintf(n, "write the full path on the member, e.g. /usr/local/bin/etcd", "%s must be an absolute path on the member, got %q", what, clip(s))
	}
	return s
}

// checkLimits reports what spans members: too many, and two members on
// one host (same address and SSH port) or one client URL.
func (d *Decoder) checkLimits(inv *Inventory) {
	if len(inv.Members) > MaxMembers {
		d.ErrorAt(inv.Members[MaxMembers].Pos, fmt.Sprintf("etcd advises 3, 5 or 7 members; etcdplay takes at most %d", MaxMembers),
			"the inventory lists %d members", len(inv.Members))
	}
	hosts, clients := map[string]string{}, map[string]string{}
	for _, m := range inv.Members {
		c := inv.Resolve(m)
		if m.Host != "" {
			key := fmt.Sprintf("%s:%d", strings.ToLower(m.Host), c.SSH.Port)
			if other, dup := hosts[key]; dup {
				d.ErrorAt(m.Pos, "each member is a machine of its own; two members on one host would be stopped and swapped as one", "members %q and %q have the same host %s", other, m.Name, m.Host)
			}
			hosts[key] = m.Name
		}
		if m.Client != "" {
			key := strings.ToLower(strings.TrimRight(m.Client, "/"))
			if other, dup := clients[key]; dup {
				d.ErrorAt(m.Pos, "the client URL is how a member is found in the cluster; each member has its own", "members %q and %q have the same client URL %s", other, m.Name, m.Client)
			}
			clients[key] = m.Name
		}
	}
}

// InventoryWarnings are what validate says about an inventory that loads
// but deserves a second look.
func InventoryWarnings(inv *Inventory) []string {
	if len(inv.Members) > ManyMembers {
		return []string{fmt.Sprintf("%d members: etcd advises 3, 5 or 7; every extra member slows every write and the rollout", len(inv.Members))}
	}
	return nil
}

// clip cuts a value shown in a message to a readable width.
func clip(s string) string {
	r := []rune(s)
	if len(r) <= 60 {
		return s
	}
	return string(r[:57]) + "..."
}
