package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcdplay/etcdplay/internal/exit"
	"github.com/etcdplay/etcdplay/internal/shell"
	"github.com/etcdplay/etcdplay/runner"
	"github.com/etcdplay/etcdplay/runner/events"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

func newRestoreCmd(opts *options) *cobra.Command {
	f := &runFlags{}
	var from, toBinary string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore -i INVENTORY [--from RUN_ID|FILE] [--to-binary VERSION]",
		Short: "Bring the whole cluster back from a snapshot etcdplay took (after the point of no return)",
		Long: `restore is the way back once rollback refuses: after the cluster version
moved (every member upgraded) or after the cluster lost quorum. It restores
every member from one v3 snapshot etcdplay took and verified (docs/restore.md;
a 2.x cluster comes back from the run's etcdctl member backups by the admin
guide's disaster recovery, see there):

  1. check the snapshot (etcd's integrity hash, bolt, the manifest's sha256)
     and that it is this cluster's (cluster name and id; --force to override);
     upload it to every host and check its sha256 there; check the restore
     tool, the binary to start on and the sudo rules: nothing stops before;
  2. stop every member, put back the binary the snapshot was taken with
     (the .etcdplay-prev a swap kept, or the inventory's release);
  3. on each member: move the data dir aside to DATA_DIR.etcdplay-aside
     (never deleted), etcdutl snapshot restore with the member's own name
     and peer URLs, the whole initial cluster and a new cluster token, into
     the staging folder, then rename it into place;
  4. start every member and wait for a healthy cluster at the snapshot's
     revision; count the keys.

The backup is the newest verified snapshot of the latest run in the state
folder (backup.json), or --from: a run id (its backups/<cluster>/<run id>/),
a snapshot file with its manifest*.json beside it, or a manifest.

The plan (what stops, where each data dir goes, the exact commands, the
member list, initial cluster and new token) is printed first and must be
confirmed (or -y). Every step is journaled: 'etcdplay resume -i INV'
finishes a restore that stopped. The report goes to
<state-dir>/<cluster>/restore/report.md and report.json.

Exit status: 0 restored, 2 usage, 3 invalid inventory, 4 a host cannot be
reached, 5 refused (nothing was stopped), 6 a step failed (resume), 7 lock.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			files, several, err := expandInventories(f.inventories)
			if err != nil {
				return err
			}
			if several {
				return usageErr(errors.New("restore brings back one cluster: give one inventory"), "")
			}
			if f.inventory = strings.Join(files, ""); f.inventory == "" {
				return usageErr(errors.New("restore needs an inventory"), "add -i INVENTORY")
			}
			inv, invDigest, err := loadInventoryDigest(f.inventory)
			if err != nil {
				if exit.Code(err) == exit.Usage {
					return err
				}
				return invalid(cmd.ErrOrStderr(), err)
			}
			dir, err := journal.StateDir(f.stateDir, inv.Cluster)
			if err != nil {
				return exit.New(exit.Invalid, err, "")
			}
			var man steps.BackupManifest
			var manDir string
			var v2 []steps.BackupManifest
			if inv.API == "v2" {
				v2, manDir, err = findV2Backups(dir, inv.Cluster, from)
			} else {
				man, manDir, err = findRestoreBackup(dir, inv.Cluster, from)
			}
			if err != nil {
				return err
			}
			s, tgt, err := wireSession(cmd.Context(), cmd, opts, f, inv, nil)
			if err != nil {
				return err
			}
			defer s.close()
			// The cluster's own lock lives in the data being replaced, and
			// the cluster may be down: a restore locks the hosts.
			s.o.InventoryDigest, s.o.Locker = invDigest, tgt.HostLocker()
			s.o.RunID = runner.NewRunID()
			p, err := steps.PlanRestore(s.ctx, steps.RestoreInput{Inventory: inv, Hosts: tgt, Cluster: tgt,
				Backup: man, V2Backups: v2, ManifestDir: manDir, ToBinary: toBinary, Force: force, RunID: s.o.RunID})
			if err != nil {
				var ref *steps.RestoreRefusal
				if errors.As(err, &ref) {
					return exit.New(exit.Refused, err, "nothing was stopped or changed")
				}
				return exit.New(exit.Unreachable, err, "nothing was stopped or changed")
			}
			if s.json != nil {
				// -o json is a stream of events: the plan is one of them.
				s.json.Emit(events.Event{Time: time.Now(), RunID: s.o.RunID, Kind: events.Info, Message: "restore plan",
					Fields: map[string]any{"plan": p}})
			} else {
				writeRestorePlan(cmd.OutOrStdout(), p, inv)
			}
			ok, _ := s.o.Confirm(s.ctx, fmt.Sprintf("Restore cluster %s from %s? Every member stops.", inv.Cluster, p.Backup.File))
			if !ok {
				return exit.New(exit.Refused, errors.New("the restore was not confirmed"), "nothing was changed; confirm on a terminal, or add -y")
			}
			res, err := runner.Restore(s.ctx, s.o, p)
			return s.finish(res, err)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "the backup: a run id, a snapshot file (manifest*.json beside it) or a manifest (default: the newest of the latest run in the state folder)")
	fl.StringVar(&toBinary, "to-binary", "", "the etcd release every member starts on (default: the version the snapshot was taken with)")
	fl.BoolVar(&force, "force", false, "restore a snapshot whose cluster name or id differs from the inventory's cluster")
	for _, n := range []string{"backup", "no-backup", "allow-quorum-loss", "gate-timeout", "backup-dir"} {
		_ = fl.MarkHidden(n)
	}
	return cmd
}

// findRestoreBackup finds the manifest of the backup to restore and its
// folder: the newest v3 snapshot in backup.json by default; with from, a
// manifest, a snapshot file (its manifest beside it) or a run id.
func findRestoreBackup(stateDir, cluster, from string) (steps.BackupManifest, string, error) {
	runID, recorded, err := runner.RecordedBackups(stateDir)
	if err != nil {
		return steps.BackupManifest{}, "", exit.New(exit.Invalid, err, "")
	}
	pick := func(ms []steps.BackupManifest, where string) (steps.BackupManifest, string, error) {
		var snaps []steps.BackupManifest
		for _, m := range ms {
			if m.Kind == "v3-snapshot" {
				snaps = append(snaps, m)
			}
		}
		if len(snaps) == 0 {
			return steps.BackupManifest{}, "", usageErr(fmt.Errorf("no verified v3 snapshot in %s", where),
				"name one with --from RUN_ID|FILE (a snapshot.db with its manifest*.json beside it)")
		}
		newest := slices.MaxFunc(snaps, func(a, b steps.BackupManifest) int { return a.Time.Compare(b.Time) })
		return newest, filepath.Dir(newest.File), nil
	}
	switch {
	case from == "":
		return pick(recorded, filepath.Join(stateDir, runner.BackupFile))
	case from == runID:
		return pick(recorded, filepath.Join(stateDir, runner.BackupFile)+" (run "+runID+")")
	}
	if st, err := os.Stat(from); err == nil && !st.IsDir() {
		return manifestFor(from)
	}
	dir := filepath.Join("backups", cluster, from)
	matches, _ := filepath.Glob(filepath.Join(dir, "manifest*.json"))
	if len(matches) == 0 {
		return steps.BackupManifest{}, "", usageErr(fmt.Errorf("--from %s: not a file, not the run in %s, and %s holds no manifest*.json", from, filepath.Join(stateDir, runner.BackupFile), dir),
			"name a snapshot file or its manifest")
	}
	var ms []steps.BackupManifest
	for _, p := range matches {
		m, _, err := readManifest(p)
		if err != nil {
			return steps.BackupManifest{}, "", err
		}
		ms = append(ms, m)
	}
	return pick(ms, dir)
}

// findV2Backups finds a 2.x run's member backups (etcdctl backup
// archives): those backup.json records, or with from a run id, the
// manifests in its backups/<cluster>/<run id>/.
func findV2Backups(stateDir, cluster, from string) ([]steps.BackupManifest, string, error) {
	runID, recorded, err := runner.RecordedBackups(stateDir)
	if err != nil {
		return nil, "", exit.New(exit.Invalid, err, "")
	}
	if from == "" || from == runID {
		return recorded, "", nil
	}
	dir := filepath.Join("backups", cluster, from)
	matches, _ := filepath.Glob(filepath.Join(dir, "*manifest*.json"))
	if len(matches) == 0 {
		return nil, "", usageErr(fmt.Errorf("--from %s: not the run in %s, and %s holds no manifest", from, filepath.Join(stateDir, runner.BackupFile), dir),
			"name the run id whose member backups to restore")
	}
	var ms []steps.BackupManifest
	for _, p := range matches {
		m, _, err := readManifest(p)
		if err != nil {
			return nil, "", err
		}
		ms = append(ms, m)
	}
	return ms, dir, nil
}

// manifestFor reads a manifest, or finds the one beside a snapshot file
// that names it.
func manifestFor(file string) (steps.BackupManifest, string, error) {
	if strings.HasSuffix(file, ".json") {
		return readManifest(file)
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "manifest*.json"))
	for _, p := range matches {
		m, dir, err := readManifest(p)
		if err == nil && filepath.Base(m.File) == filepath.Base(file) {
			m.File = file
			return m, dir, nil
		}
	}
	return steps.BackupManifest{}, "", usageErr(fmt.Errorf("--from %s: no manifest*.json beside it names it", file),
		"a restore needs the manifest etcdplay wrote with the snapshot (its sha256, revision and cluster id)")
}

func readManifest(p string) (steps.BackupManifest, string, error) {
	var m steps.BackupManifest
	b, err := os.ReadFile(p)
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return m, "", usageErr(fmt.Errorf("--from %s: %w", p, err), "name a manifest*.json etcdplay wrote beside a snapshot")
	}
	return m, filepath.Dir(p), nil
}

// writeRestorePlan prints the plan for the operator to confirm.
func writeRestorePlan(w io.Writer, p *steps.RestorePlan, inv *schema.Inventory) {
	b := p.Backup
	fmt.Fprintf(w, "restore plan for cluster %s\n\n", p.Cluster)
	fmt.Fprintf(w, "  backup        %s\n", b.File)
	fmt.Fprintf(w, "                sha256 %s\n", b.SHA256)
	if p.API == "v2" {
		fmt.Fprintf(w, "                etcdctl backup of %s's data dir, taken %s on etcd %s (cluster id %s)\n",
			b.Member, b.Time.UTC().Format("2006-01-02 15:04:05Z"), cmp.Or(b.ServerVersion, b.ClusterVersion), b.ClusterID)
		fmt.Fprintf(w, "  start on      etcd %s\n", p.Version)
		fmt.Fprintf(w, "  seed          %s: restored from the backup, started once with --force-new-cluster; the others join it one by one with empty data dirs\n", p.Seed)
		fmt.Fprintf(w, "  members after %s\n", p.InitialCluster)
	} else {
		fmt.Fprintf(w, "                revision %d, %d keys, taken %s from %s on etcd %s (cluster id %s)\n",
			b.Revision, b.Keys, b.Time.UTC().Format("2006-01-02 15:04:05Z"), b.Member, b.ServerVersion, b.ClusterID)
		fmt.Fprintf(w, "  start on      etcd %s\n", p.Version)
		fmt.Fprintf(w, "  new token     %s\n", p.Token)
		fmt.Fprintf(w, "  initial cluster %s\n", p.InitialCluster)
	}
	for _, x := range p.Warnings {
		fmt.Fprintf(w, "  WARNING       %s\n", x)
	}
	fmt.Fprintf(w, "\n  members (every one is stopped; its data dir moved aside, never deleted):\n")
	for _, m := range p.Members {
		cfg := inv.Resolve(inv.Member(m.Name))
		aside := "nothing to set aside (no data dir left)"
		if m.Aside != "" {
			aside = m.DataDir + " -> " + m.Aside
		}
		fmt.Fprintf(w, "    %s  etcd name %s, peer URLs %s\n", m.Name, m.EtcdName, strings.Join(m.PeerURLs, ","))
		fmt.Fprintf(w, "      data dir  %s\n", aside)
		fmt.Fprintf(w, "      stop      %s\n", cfg.Service.Stop)
		sudo := ""
		if cfg.SSH.Sudo != nil && *cfg.SSH.Sudo {
			sudo = " (mv and chown through sudo -n)"
		}
		fmt.Fprintf(w, "      restore%s\n", sudo)
		for _, c := range m.Commands(steps.HostFacts{}) {
			fmt.Fprintf(w, "        %s\n", c)
		}
		if m.OneOff != nil {
			fmt.Fprintf(w, "      one-off   %s (+ the flags its step below names; log %s)\n", shell.Join(m.OneOff...), m.Log)
		}
		fmt.Fprintf(w, "      start     %s\n", cfg.Service.Start)
	}
	pb := steps.RestorePlaybook(p, inv)
	fmt.Fprintf(w, "\n  steps, as journaled:\n")
	for _, ph := range []struct {
		name string
		list []*schema.Step
	}{{"preflight", pb.Preflight}, {"restore", pb.Finish}} {
		for i, s := range ph.list {
			text := s.Action
			if a, ok := s.Args.(steps.Action); ok {
				c := &steps.PlanContext{Inventory: inv}
				if n, ok := s.Args.(interface{ RestoreMemberName() string }); ok && n.RestoreMemberName() != "" {
					cfg := inv.Resolve(inv.Member(n.RestoreMemberName()))
					c.Member = &cfg
				}
				if pl, err := a.Plan(c); err == nil {
					text = pl.Text
				}
			}
			fmt.Fprintf(w, "    %s %2d/%d  %-14s %s\n", ph.name, i+1, len(ph.list), s.Action, text)
		}
	}
	fmt.Fprintln(w)
}
