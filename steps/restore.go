package steps

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/internal/shell"
	"github.com/etcdplay/etcdplay/schema"
)

// A restore brings a whole v3 cluster back from one snapshot etcdplay took
// (docs/restore.md): every member stopped, its data dir set aside (never
// deleted), the same snapshot restored on every host with the member's own
// name and peer URLs, a new cluster token, and every member started on the
// binary the snapshot was taken with. The plan is plain data, computed
// once (PlanRestore) and kept in the run's run.json, so a resume after a
// crash runs exactly the commands the operator confirmed.

// asideSuffix names where a member's data dir is set aside: one fixed name
// beside it, so a sudoers rule can name the exact mv. A restore refuses to
// start while one is there already (an earlier restore's): it never
// overwrites or deletes data.
const asideSuffix = ".etcdplay-aside"

// RestorePlan is one restore: the backup, the binary version every member
// starts on, the new cluster token and, per member, the exact commands.
type RestorePlan struct {
	// API is "v2" for a 2.x restore (restore_v2.go), "" for v3.
	API     string `json:"api,omitempty"`
	Cluster string `json:"cluster"`
	// Seed is the v2 member restored from its backup and started with
	// --force-new-cluster; the others join it.
	Seed string `json:"seed,omitempty"`
	// Backup is the snapshot's manifest; File is the local path as found.
	Backup BackupManifest `json:"backup"`
	// Version is the etcd release every member starts on: the server
	// version the backup was taken with, or --to-binary.
	Version        string          `json:"version"`
	Token          string          `json:"token"`
	InitialCluster string          `json:"initial_cluster"`
	Force          bool            `json:"force,omitempty"`
	Members        []RestoreMember `json:"members"`
	// Warnings are what the plan could not prove but --force or the facts
	// allow (a cluster id that cannot be read because no member answers).
	Warnings []string `json:"warnings,omitempty"`
}

// RestoreMember is one member's part of a restore.
type RestoreMember struct {
	Name     string   `json:"name"`      // the inventory's
	EtcdName string   `json:"etcd_name"` // etcd --name, from the snapshot's membership
	PeerURLs []string `json:"peer_urls"`
	DataDir  string   `json:"data_dir"`
	// Aside is where the data dir is moved; "" when the member has no
	// data dir left to set aside (its disk was lost).
	Aside string `json:"aside,omitempty"`
	// Snapshot is the uploaded copy on the host; Output the folder
	// etcdutl restores into before it is renamed to DataDir.
	Snapshot string `json:"snapshot"`
	Output   string `json:"output"`
	// Owner and Group own the data dir (chown after the rename, under
	// sudo only: without sudo the login user is etcd's owner).
	Owner string `json:"owner,omitempty"`
	Group string `json:"group,omitempty"`
	// Restore is the restore command (etcdutl, or etcdctl with
	// ETCDCTL_API=3 before 3.5), run as the login user; Env its variables.
	Restore []string          `json:"restore"`
	Env     map[string]string `json:"env,omitempty"`
	// OneOff is a v2 member's own etcd command line (env, binary, flags)
	// for its one-off start; Log where that start writes.
	OneOff []string `json:"one_off,omitempty"`
	Log    string   `json:"log,omitempty"`
}

// RestoreInput is what PlanRestore reads.
type RestoreInput struct {
	Inventory *schema.Inventory
	Hosts     Hosts
	Cluster   Cluster // nil or unreachable: the cluster id is not compared
	Backup    BackupManifest
	// ManifestDir is the folder of the manifest: a relative snapshot path
	// that is not found as given is looked for there.
	ManifestDir string
	ToBinary    string // "" : the backup's server version
	Force       bool
	RunID       string // names the new cluster token
	// V2Backups are the run's member backups, for a v2 restore.
	V2Backups []BackupManifest
}

// RestoreRefusal is a restore that must not start: nothing was changed.
type RestoreRefusal struct{ Err error }

func (e *RestoreRefusal) Error() string { return e.Err.Error() }
func (e *RestoreRefusal) Unwrap() error { return e.Err }

func refuseRestore(format string, a ...any) error {
	return &RestoreRefusal{Err: fmt.Errorf(format, a...)}
}

// PlanRestore checks the snapshot on this machine (etcd's integrity hash,
// bolt, the manifest's sha256), ties it to the inventory's cluster, reads
// each host's facts (home, the data dir's owner, an old set-aside) and
// returns the plan. It changes nothing anywhere.
func PlanRestore(ctx context.Context, in RestoreInput) (*RestorePlan, error) {
	inv, man := in.Inventory, in.Backup
	if inv.API == "v2" {
		return planRestoreV2(ctx, in)
	}
	if man.Kind != "v3-snapshot" {
		return nil, refuseRestore("backup %s is a %s, not a v3 snapshot: a v3 cluster is restored from the snapshot a v3 run takes", man.File, man.Kind)
	}
	file := man.File
	if _, err := os.Stat(file); err != nil && !filepath.IsAbs(file) && in.ManifestDir != "" {
		file = filepath.Join(in.ManifestDir, filepath.Base(file))
	}
	man.File = file
	info, err := etcdprobe.VerifySnapshot(file)
	if err != nil {
		return nil, refuseRestore("snapshot fails verification: %w", err)
	}
	if !strings.EqualFold(info.SHA256, man.SHA256) {
		return nil, refuseRestore("snapshot %s has sha256 %s, its manifest says %s: the file changed since the backup", file, info.SHA256, man.SHA256)
	}
	p := &RestorePlan{Cluster: inv.Cluster, Backup: man, Force: in.Force, Token: inv.Cluster + "-restore-" + in.RunID}
	if err := p.checkCluster(ctx, inv, in.Cluster); err != nil {
		return nil, err
	}
	v := cmp.Or(in.ToBinary, man.ServerVersion)
	ver, err := schema.ParseVersion(v)
	if err != nil {
		return nil, refuseRestore("the binary version to start on (%q): %w; name one with --to-binary", v, err)
	}
	if ver.Major < 3 {
		return nil, refuseRestore("--to-binary %s: a v3 snapshot needs etcd 3.x", ver)
	}
	p.Version = ver.String()
	snapMembers, err := etcdprobe.SnapshotMembers(file)
	if err != nil {
		return nil, refuseRestore("%w", err)
	}
	var peers []string
	for _, im := range inv.Members {
		cfg := inv.Resolve(im)
		sm, err := matchSnapshotMember(snapMembers, cfg)
		if err != nil {
			return nil, err
		}
		rm, err := planMember(ctx, in, p, &cfg, sm)
		if err != nil {
			return nil, err
		}
		for _, u := range sm.PeerURLs {
			peers = append(peers, sm.Name+"="+u)
		}
		p.Members = append(p.Members, rm)
	}
	p.InitialCluster = strings.Join(peers, ",")
	for i := range p.Members {
		p.Members[i].Restore = snapshotRestoreArgv(p, &p.Members[i], p.Members[i].Restore[0])
	}
	return p, nil
}

// checkCluster ties the backup to the inventory's cluster: the manifest's
// cluster name, and its cluster id when a member still answers. --force
// turns a mismatch into a warning.
func (p *RestorePlan) checkCluster(ctx context.Context, inv *schema.Inventory, cl Cluster) error {
	man := p.Backup
	var problems []string
	if man.Cluster != inv.Cluster {
		problems = append(problems, fmt.Sprintf("the backup is of cluster %q, the inventory's is %q", man.Cluster, inv.Cluster))
	}
	if cl != nil {
		if c, err := cl.Cluster(ctx); err == nil && c.ID != 0 {
			if man.ClusterID != "" && !strings.EqualFold(man.ClusterID, c.ID.String()) {
				problems = append(problems, fmt.Sprintf("the backup's cluster id is %s, the cluster answering at the inventory's URLs is %s", man.ClusterID, c.ID))
			}
		} else {
			p.Warnings = append(p.Warnings, "no member answers, so the backup's cluster id ("+cmp.Or(man.ClusterID, "none")+") cannot be compared with the cluster's")
		}
	}
	if len(problems) == 0 {
		return nil
	}
	if p.Force {
		p.Warnings = append(p.Warnings, "--force: "+strings.Join(problems, "; "))
		return nil
	}
	return refuseRestore("%s: refusing to restore another cluster's backup (add --force if this is deliberate)", strings.Join(problems, "; "))
}

// matchSnapshotMember finds the inventory member in the snapshot's
// membership by its client URL (as the probe names members), else by name.
func matchSnapshotMember(ms []etcdprobe.SnapshotMember, m schema.MemberConfig) (etcdprobe.SnapshotMember, error) {
	for _, s := range ms {
		if slices.Contains(s.ClientURLs, m.Client) {
			return s, nil
		}
	}
	for _, s := range ms {
		if s.Name == m.Name {
			return s, nil
		}
	}
	var have []string
	for _, s := range ms {
		have = append(have, s.Name+" "+strings.Join(s.ClientURLs, ","))
	}
	return etcdprobe.SnapshotMember{}, refuseRestore("member %s (%s) is not in the snapshot's membership (%s): a restore brings back the members the snapshot knows",
		m.Name, m.Client, strings.Join(have, "; "))
}

// planMember reads one host's facts and lays out its part.
func planMember(ctx context.Context, in RestoreInput, p *RestorePlan, m *schema.MemberConfig, sm etcdprobe.SnapshotMember) (RestoreMember, error) {
	if m.DataDir == "" {
		return RestoreMember{}, refuseRestore("restore needs data_dir for %s in the inventory (cluster-wide or on the member)", m.Name)
	}
	if len(sm.PeerURLs) == 0 || sm.Name == "" {
		return RestoreMember{}, refuseRestore("the snapshot records no name or peer URL for %s", m.Name)
	}
	h, err := in.Hosts.Host(ctx, m.Name)
	if err != nil {
		return RestoreMember{}, err
	}
	aside := m.DataDir + asideSuffix
	f, err := ReadHostFacts(ctx, h, m, m.DataDir, aside)
	if err != nil {
		return RestoreMember{}, err
	}
	stage := path.Join(StageDir(in.Inventory, m, f.Home), "restore")
	rm := RestoreMember{Name: m.Name, EtcdName: sm.Name, PeerURLs: sm.PeerURLs, DataDir: m.DataDir,
		Snapshot: path.Join(stage, "snapshot.db"), Output: path.Join(stage, m.Name, "data")}
	if o := f.Files[aside]; !o.Missing {
		return RestoreMember{}, refuseRestore("on %s, %s exists (set aside by an earlier restore): etcdplay never deletes data, so move it elsewhere, then run again", m.Name, aside)
	}
	if o := f.Files[m.DataDir]; !o.Missing {
		rm.Aside = aside
		if sudoOn(m) {
			rm.Owner, rm.Group = o.Owner, o.Group
		}
	} else if sudoOn(m) {
		return RestoreMember{}, refuseRestore("on %s the data dir %s is gone, so nothing says which user etcd runs as: create it empty, owned by etcd's user (install -d -o USER -g GROUP -m 0700 %s), then run again", m.Name, m.DataDir, m.DataDir)
	}
	tool, env := restoreTool(in.Inventory, m, p.version())
	rm.Env = env
	rm.Restore = []string{tool}
	return rm, nil
}

// restoreTool is the program that restores a snapshot of version v on m's
// host: the release's etcdutl (3.5 on; etcdutl beside the binary when the
// release names none), or before 3.5 its etcdctl with ETCDCTL_API=3.
func restoreTool(inv *schema.Inventory, m *schema.MemberConfig, v schema.Version) (string, map[string]string) {
	r := inv.ReleaseFor(v.MinorLine())
	if v.Major == 3 && v.Minor < 5 {
		tool := cmp.Or(m.Etcdctl, path.Join(path.Dir(m.Binary), "etcdctl"))
		if r != nil && r.Etcdctl != "" && r.Remote != "" {
			tool = r.Etcdctl
		}
		return tool, map[string]string{"ETCDCTL_API": "3"}
	}
	if r != nil && r.Etcdutl != "" {
		return r.Etcdutl, nil
	}
	return path.Join(path.Dir(m.Binary), "etcdutl"), nil
}

// snapshotRestoreArgv is `etcdutl snapshot restore` for one member: its own name
// and peer URLs, the whole initial cluster, the new token, into Output.
func snapshotRestoreArgv(p *RestorePlan, m *RestoreMember, tool string) []string {
	return []string{tool, "snapshot", "restore", m.Snapshot,
		"--name", m.EtcdName,
		"--initial-cluster", p.InitialCluster,
		"--initial-cluster-token", p.Token,
		"--initial-advertise-peer-urls", strings.Join(m.PeerURLs, ","),
		"--data-dir", m.Output}
}

// asideArgv sets the data dir aside (renamed, never deleted).
func asideArgv(f HostFacts, m *RestoreMember) []string {
	return []string{f.program("mv"), "-f", "--", m.DataDir, m.Aside}
}

// placeDataArgv renames the restored folder to the data dir.
func placeDataArgv(f HostFacts, m *RestoreMember) []string {
	return []string{f.program("mv"), "-f", "--", m.Output, m.DataDir}
}

// chownDataArgv gives the restored data dir to etcd's user.
func chownDataArgv(f HostFacts, m *RestoreMember) []string {
	return []string{f.program("chown"), "-R", m.Owner + ":" + m.Group, "--", m.DataDir}
}

// restorePrivileged is what the restore runs under sudo on one host.
func restorePrivileged(f HostFacts, m *RestoreMember) []PrivilegedCommand {
	var out []PrivilegedCommand
	if m.Aside != "" {
		out = append(out, PrivilegedCommand{Argv: asideArgv(f, m), Purpose: "restore: set the data dir aside (never deleted)"})
	}
	out = append(out, PrivilegedCommand{Argv: placeDataArgv(f, m), Purpose: "restore: put the restored data dir in place"})
	if m.Owner != "" {
		out = append(out, PrivilegedCommand{Argv: chownDataArgv(f, m), Purpose: "restore: give the restored data dir to etcd's user"})
	}
	return out
}

// Commands are the member's restore commands as the plan prints them, in
// the order they run (the service commands around them come from the
// inventory).
func (m *RestoreMember) Commands(f HostFacts) []string {
	if m.OneOff != nil {
		return m.v2Commands(f)
	}
	var out []string
	if m.Aside != "" {
		out = append(out, shell.Join(asideArgv(f, m)...))
	}
	out = append(out, "rm -rf -- "+shell.Quote(m.Output), "mkdir -p -m 0700 -- "+shell.Quote(path.Dir(m.Output)))
	restore := shell.Join(m.Restore...)
	for k, v := range m.Env {
		restore = k + "=" + v + " " + restore
	}
	out = append(out, restore, shell.Join(placeDataArgv(f, m)...))
	if m.Owner != "" {
		out = append(out, shell.Join(chownDataArgv(f, m)...))
	}
	return out
}

// version is Version parsed (PlanRestore proved it parses).
func (p *RestorePlan) version() schema.Version {
	v, _ := schema.ParseVersion(p.Version)
	return v
}

// Member returns the plan's part for the inventory member name.
func (p *RestorePlan) Member(name string) (*RestoreMember, error) {
	for i := range p.Members {
		if p.Members[i].Name == name {
			return &p.Members[i], nil
		}
	}
	return nil, errors.New("the restore plan has no member " + name)
}

// MemberRestorePrivileged is what a restore may run under sudo on m's host
// with this inventory, for `etcdplay sudoers`: set the data dir aside, put
// the restored one in place, give it to etcd's user (owner from f, which
// states the data dir). The staging folder is the login user's.
func MemberRestorePrivileged(inv *schema.Inventory, m *schema.MemberConfig, f HostFacts) []PrivilegedCommand {
	if m.DataDir == "" {
		return nil
	}
	o, ok := f.Files[m.DataDir]
	rm := RestoreMember{DataDir: m.DataDir, Aside: m.DataDir + asideSuffix,
		Output: path.Join(StageDir(inv, m, f.Home), "restore", m.Name, "data")}
	if ok && !o.Missing {
		rm.Owner, rm.Group = o.Owner, o.Group
	} else {
		rm.Owner, rm.Group = "ETCD_USER", "ETCD_GROUP"
	}
	return restorePrivileged(f, &rm)
}
