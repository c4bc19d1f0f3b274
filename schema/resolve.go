package schema

import "sort"

// MemberConfig is one member's settings after its overrides are applied
// over the cluster-wide ones: what actions actually use.
type MemberConfig struct {
	Name      string  `json:"name"`
	Host      string  `json:"host"`
	Client    string  `json:"client"`
	SSH       SSH     `json:"ssh"`
	Service   Service `json:"service"`
	Binary    string  `json:"binary"`
	Etcdctl   string  `json:"etcdctl,omitempty"`
	DataDir   string  `json:"data_dir,omitempty"`
	BackupDir string  `json:"backup_dir"`
}

// Resolve merges m's overrides over the inventory's cluster-wide values.
func (inv *Inventory) Resolve(m *Member) MemberConfig {
	c := MemberConfig{Name: m.Name, Host: m.Host, Client: m.Client,
		Binary: inv.Binary, Etcdctl: inv.Etcdctl, DataDir: inv.DataDir, BackupDir: inv.BackupDir}
	if inv.SSH != nil {
		c.SSH = *inv.SSH
	}
	if inv.Service != nil {
		c.Service = *inv.Service
	}
	if o := m.SSH; o != nil {
		pick(&c.SSH.User, o.User)
		pick(&c.SSH.Identity, o.Identity)
		pick(&c.SSH.KnownHosts, o.KnownHosts)
		pick(&c.SSH.Jump, o.Jump)
		pick(&c.SSH.Config, o.Config)
		pick(&c.SSH.StageDir, o.StageDir)
		if o.Port != 0 {
			c.SSH.Port = o.Port
		}
		if o.Sudo != nil {
			c.SSH.Sudo = o.Sudo
		}
	}
	if o := m.Service; o != nil {
		pick(&c.Service.Start, o.Start)
		pick(&c.Service.Stop, o.Stop)
		pick(&c.Service.Status, o.Status)
	}
	pick(&c.Binary, m.Binary)
	pick(&c.Etcdctl, m.Etcdctl)
	pick(&c.DataDir, m.DataDir)
	pick(&c.BackupDir, m.BackupDir)
	if c.BackupDir == "" {
		c.BackupDir = DefaultBackupDir
	}
	return c
}

func pick(dst *string, v string) {
	if v != "" {
		*dst = v
	}
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
	for _, k := range sortedKeys(inv.Releases) {
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
