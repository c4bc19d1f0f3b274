package steps

import (
	"cmp"
	"context"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/etcdplay/etcdplay/internal/shell"
	"github.com/etcdplay/etcdplay/schema"
)

// A v2 (2.x) restore is the 2.x admin guide's disaster recovery
// (docs/restore.md): the `etcdctl backup` data dir of one member (the
// seed) restored in place and started once with --force-new-cluster, its
// peer URLs fixed through the members API, then every other member added
// back one by one (members API add) with an empty data dir and started
// once with --initial-cluster-state existing. Those one-off starts need
// flags the service command does not pass: each is the member's own etcd
// command line, read from /proc while it still ran (ReadOptions), with the
// extra flags, run as the login user (etcd's user on a 2.x host) in the
// background, logging beside the data dir, and stopped by its pid once the
// member is in; then the member is started by its service.

// oneOffSuffix names the log and pid file of a one-off start, beside the
// data dir.
const oneOffSuffix = ".etcdplay-restore"

// dropForOneOff are the options a one-off start sets itself: the member's
// own values would bootstrap a new cluster.
var dropForOneOff = []string{"force-new-cluster", "initial-cluster", "initial-cluster-state", "initial-cluster-token", "discovery", "discovery-srv"}

// planRestoreV2 lays out the v2 restore from the run's member backups.
func planRestoreV2(ctx context.Context, in RestoreInput) (*RestorePlan, error) {
	inv := in.Inventory
	var seed *BackupManifest
	for _, im := range inv.Members {
		for i := range in.V2Backups {
			b := &in.V2Backups[i]
			if b.Kind == "v2-etcdctl-backup" && b.Member == im.Name && (seed == nil || b.Member == seed.Member && b.Time.After(seed.Time)) {
				seed = b
			}
		}
		if seed != nil {
			break
		}
	}
	if seed == nil {
		return nil, refuseRestore("no v2 member backup (etcdctl backup) of a member of %s: a 2.x cluster is restored from the backups a 2.x run fetched (backup.json, or --from RUN_ID)", inv.Cluster)
	}
	man := *seed
	if _, err := os.Stat(man.File); err != nil && !filepath.IsAbs(man.File) && in.ManifestDir != "" {
		man.File = filepath.Join(in.ManifestDir, filepath.Base(man.File))
	}
	sum, err := FileSHA256(man.File)
	if err != nil {
		return nil, refuseRestore("member backup %s: %w", man.File, err)
	}
	if !strings.EqualFold(sum, man.SHA256) {
		return nil, refuseRestore("member backup %s has sha256 %s, its manifest says %s: the file changed since the backup", man.File, sum, man.SHA256)
	}
	p := &RestorePlan{API: "v2", Cluster: inv.Cluster, Backup: man, Force: in.Force, Seed: man.Member}
	if err := p.checkCluster(ctx, inv, in.Cluster); err != nil {
		return nil, err
	}
	ver, err := schema.ParseVersion(cmp.Or(in.ToBinary, man.ServerVersion, man.ClusterVersion))
	if err != nil {
		return nil, refuseRestore("the binary version to start on (%q): %w; name one with --to-binary", cmp.Or(in.ToBinary, man.ServerVersion), err)
	}
	if ver.Major != 2 {
		return nil, refuseRestore("--to-binary %s: a v2 member backup is restored on etcd 2.x", ver)
	}
	p.Version = ver.String()
	// The seed first: the others join it in the inventory's order.
	order := slices.Clone(inv.Members)
	first := func(m *schema.Member) int {
		if m.Name == p.Seed {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(order, func(a, b *schema.Member) int { return cmp.Compare(first(a), first(b)) })
	var peers []string
	for _, im := range order {
		cfg := inv.Resolve(im)
		rm, err := planMemberV2(ctx, in, &cfg, im.Name == p.Seed)
		if err != nil {
			return nil, err
		}
		for _, u := range rm.PeerURLs {
			peers = append(peers, rm.EtcdName+"="+u)
		}
		p.Members = append(p.Members, rm)
	}
	p.InitialCluster = strings.Join(peers, ",")
	return p, nil
}

// planMemberV2 reads one host's facts and the member's running etcd
// command line, and lays out its part.
func planMemberV2(ctx context.Context, in RestoreInput, m *schema.MemberConfig, seed bool) (RestoreMember, error) {
	if m.DataDir == "" {
		return RestoreMember{}, refuseRestore("restore needs data_dir for %s in the inventory (cluster-wide or on the member)", m.Name)
	}
	if sudoOn(m) {
		return RestoreMember{}, refuseRestore("%s has ssh.sudo: a v2 restore runs etcd once outside its service as the login user, which must be etcd's user; under sudo it would need `sudo -u ETCD_USER` rules etcdplay does not print yet (docs/restore.md)", m.Name)
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
	if o := f.Files[aside]; !o.Missing {
		return RestoreMember{}, refuseRestore("on %s, %s exists (set aside by an earlier restore): etcdplay never deletes data, so move it elsewhere, then run again", m.Name, aside)
	}
	o, err := ReadOptions(ctx, h, m)
	if err != nil {
		return RestoreMember{}, err
	}
	if o.PID == 0 || o.Unknown != "" || o.ConfigFile != "" {
		return RestoreMember{}, refuseRestore("on %s the running etcd's command line cannot be read (%s): a v2 restore starts each member once with its own flags plus --force-new-cluster or --initial-cluster-state existing, so every member must run when the restore is planned", m.Name, cmp.Or(o.Unknown, "config file "+o.ConfigFile))
	}
	name, peer, dataDir := o.Options["name"], o.Options["initial-advertise-peer-urls"], o.Options["data-dir"]
	if name == "" || peer == "" || path.Clean(dataDir) != path.Clean(m.DataDir) {
		return RestoreMember{}, refuseRestore("on %s etcd (pid %d) runs with name %q, initial-advertise-peer-urls %q, data-dir %q: a v2 restore needs all three set, the data dir the inventory's %s", m.Name, o.PID, name, peer, dataDir, m.DataDir)
	}
	stage := path.Join(StageDir(in.Inventory, m, f.Home), "restore")
	rm := RestoreMember{Name: m.Name, EtcdName: name, PeerURLs: strings.Split(peer, ","), DataDir: m.DataDir,
		OneOff: oneOffArgv(m.Binary, o), Log: m.DataDir + oneOffSuffix + ".log"}
	if !f.Files[m.DataDir].Missing {
		rm.Aside = aside
	}
	if seed {
		rm.Snapshot = path.Join(stage, "member-backup.tar")
		rm.Output = path.Join(stage, m.Name, "data")
		rm.Restore = []string{"tar", "-x", "-f", rm.Snapshot, "-C", rm.Output}
	}
	return rm, nil
}

// oneOffArgv is the member's own etcd command line, as `env` runs it: its
// ETCD_* variables, the binary, its flags, without the options a one-off
// start sets itself.
func oneOffArgv(binary string, o MemberOptions) []string {
	argv := []string{"env"}
	var flags []string
	for _, k := range o.Names() {
		if slices.Contains(dropForOneOff, k) {
			continue
		}
		if o.Sources[k] == SourceEnv {
			argv = append(argv, "ETCD_"+strings.ToUpper(strings.ReplaceAll(k, "-", "_"))+"="+o.Options[k])
		} else {
			flags = append(flags, "--"+k+"="+o.Options[k])
		}
	}
	return append(append(argv, binary), flags...)
}

// v2Commands are a v2 member's restore commands as the plan prints them.
func (m *RestoreMember) v2Commands(f HostFacts) []string {
	var out []string
	if m.Aside != "" {
		out = append(out, shell.Join(asideArgv(f, m)...))
	}
	if m.Restore != nil {
		out = append(out, "rm -rf -- "+shell.Quote(m.Output), "mkdir -p -m 0700 -- "+shell.Quote(m.Output),
			shell.Join(m.Restore...), shell.Join(placeDataArgv(f, m)...))
	}
	return out
}

// seedOneOff and joinOneOff are the one-off starts' exact argv.
func (m *RestoreMember) seedOneOff() []string {
	return append(slices.Clone(m.OneOff), "--force-new-cluster")
}

func (m *RestoreMember) joinOneOff(initialCluster string) []string {
	return append(slices.Clone(m.OneOff), "--initial-cluster="+initialCluster, "--initial-cluster-state=existing")
}
