package schema

import (
	"cmp"
	"maps"
	"slices"
	"sort"
)

// MemberConfig is one member's settings after its overrides are applied
// over the inventory's: what actions actually use. SSH and Service are
// never nil, and BackupDir is never empty.
type MemberConfig struct {
	Name   string `json:"name"`
	Host   string `json:"host"`
	Client string `json:"client"`
	Overrides
}

// Resolve merges m's overrides over the inventory's top-level settings,
// field by field (inside ssh and service too): the one place they merge.
func (inv *Inventory) Resolve(m *Member) MemberConfig {
	top, own := inv.Overrides, m.Overrides
	var ssh SSH
	if top.SSH != nil {
		ssh = *top.SSH
	}
	if o := own.SSH; o != nil {
		ssh.User = cmp.Or(o.User, ssh.User)
		ssh.Port = cmp.Or(o.Port, ssh.Port)
		ssh.Identity = cmp.Or(o.Identity, ssh.Identity)
		ssh.KnownHosts = cmp.Or(o.KnownHosts, ssh.KnownHosts)
		ssh.Jump = cmp.Or(o.Jump, ssh.Jump)
		ssh.Config = cmp.Or(o.Config, ssh.Config)
		ssh.StageDir = cmp.Or(o.StageDir, ssh.StageDir)
		if o.Sudo != nil {
			ssh.Sudo = o.Sudo
		}
	}
	var svc Service
	if top.Service != nil {
		svc = *top.Service
	}
	svc.pos = nil // positions belong to what was written, not to the merge
	if o := own.Service; o != nil {
		svc.Start = cmp.Or(o.Start, svc.Start)
		svc.Stop = cmp.Or(o.Stop, svc.Stop)
		svc.Status = cmp.Or(o.Status, svc.Status)
	}
	return MemberConfig{Name: m.Name, Host: m.Host, Client: m.Client, Overrides: Overrides{
		SSH:       &ssh,
		Service:   &svc,
		Binary:    cmp.Or(own.Binary, top.Binary),
		Etcdctl:   cmp.Or(own.Etcdctl, top.Etcdctl),
		DataDir:   cmp.Or(own.DataDir, top.DataDir),
		BackupDir: cmp.Or(own.BackupDir, top.BackupDir, DefaultBackupDir),
	}}
}

// Member returns the member named name, or nil.
func (inv *Inventory) Member(name string) *Member {
	for _, m := range inv.Members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// ReleaseFor returns the newest release the inventory lists on minor line
// m, or nil: swap {to: "3.5"} installs that one.
func (inv *Inventory) ReleaseFor(m Minor) *Release {
	var best *Release
	for _, k := range slices.Sorted(maps.Keys(inv.Releases)) {
		r := inv.Releases[k]
		if r.Version.MinorLine() == m && (best == nil || best.Version.Less(r.Version)) {
			best = r
		}
	}
	return best
}

// SortedReleases lists releases oldest first.
func (inv *Inventory) SortedReleases() []*Release {
	out := make([]*Release, 0, len(inv.Releases))
	for _, r := range inv.Releases {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version.Less(out[j].Version) })
	return out
}
