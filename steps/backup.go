package steps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"gopkg.in/yaml.v3"
)

// Backup saves the data the way the guide says. v3 (from: leader): a
// snapshot from the leader through the client API, written on the
// operator's machine, verified, its checksum recorded; the 3.x guides fetch
// it from the leader because the leader is guaranteed to have the latest
// data. v2 (from: self or each): `etcdctl backup` of the member's data dir
// over SSH, as the 2.x guides do after stopping each member.
type Backup struct {
	From string `yaml:"from" json:"from" jsonschema:"required,enum=leader|each|self" doc:"leader: v3 snapshot from the leader; self: v2 etcdctl backup of this member; each: v2 etcdctl backup of every member"`
	Dir  string `yaml:"dir" json:"dir,omitempty" doc:"local folder for the leader's snapshot (default backups/<cluster>)"`

	pos schema.Pos
}

func (*Backup) Kind() string { return "backup" }

func (b *Backup) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	b.pos = d.Pos(schema.Resolve(n))
	set := map[string]bool{}
	if !d.Fields(n, "backup", b, func(key string, v *yaml.Node) {
		set[key] = true
		switch key {
		case "from":
			b.From = d.Enum(v, "backup.from", "leader", "each", "self")
		case "dir":
			b.Dir = d.NonEmpty(v, "backup.dir")
		}
	}) {
		return
	}
	if !set["from"] {
		d.Hintf(n, "from: leader (v3 snapshot), self or each (v2 etcdctl backup)", "backup: missing required key \"from\"")
	}
	if set["dir"] && b.From != "" && b.From != "leader" {
		d.Hintf(n, "v2 backups stay on the member, under the inventory's backup_dir", "backup: dir applies to from: leader only")
	}
}

func (b *Backup) NeedsMember() bool { return b.From == "self" }

// CheckContext: a rollback runs when something already went wrong; taking a
// backup then would overwrite the good one with a doubtful one. And "each"
// backs up every member, which is a whole-cluster step.
func (b *Backup) CheckContext(d *schema.Decoder, c schema.StepContext) {
	switch {
	case c.Phase == schema.PhaseRollback:
		d.ErrorAt(c.Step.ActionPos, "take backups in preflight or members.steps, before anything changes",
			"backup is not allowed in rollback")
	case c.Phase == schema.PhaseMembers && b.From == "each":
		d.ErrorAt(b.pos, "in members.steps use from: self, which backs up each member in its turn",
			"backup from: each would back up every member once per member")
	}
}

// Bound: a snapshot of a large database over a slow link takes minutes.
func (*Backup) Bound() time.Duration { return 10 * time.Minute }

func (b *Backup) Plan(c *PlanContext) (Plan, error) {
	switch b.From {
	case "leader":
		if c.api() != "v3" {
			return Plan{}, fmt.Errorf("backup from: leader takes a v3 snapshot, but the inventory says api: %s; use from: self (etcdctl backup)", c.api())
		}
		dir := b.Dir
		if dir == "" && c.Inventory != nil {
			dir = path.Join("backups", c.Inventory.Cluster)
		}
		return Plan{Text: "save a snapshot from the leader to " + dir + "/, verify it and record its sha256",
			Args: map[string]string{"from": "leader", "dir": dir}}, nil
	case "self":
		if c.Member == nil {
			return Plan{Text: "etcdctl backup of the member's data dir"}, nil
		}
		return v2Backup(*c.Member, c.api())
	case "each":
		return Plan{Text: "etcdctl backup of every member's data dir, on each member",
			Args: map[string]string{"from": "each"}}, nil
	}
	return Plan{}, fmt.Errorf("backup: unknown from %q", b.From)
}

// v2Backup is the guide's `etcdctl backup --data-dir ... --backup-dir ...`
// for one member.
func v2Backup(m schema.MemberConfig, api string) (Plan, error) {
	if m.DataDir == "" {
		return Plan{}, fmt.Errorf("backup of %s needs data_dir in the inventory (cluster-wide or on the member)", m.Name)
	}
	etcdctl := m.Etcdctl
	if etcdctl == "" {
		etcdctl = "etcdctl"
	}
	dir := path.Join(m.BackupDir, m.Name)
	cmd := fmt.Sprintf("%s backup --data-dir %s --backup-dir %s", etcdctl, m.DataDir, dir)
	if api == "v3" {
		cmd = "ETCDCTL_API=2 " + cmd
	}
	return Plan{Text: "on " + m.Name + ": " + cmd,
		Args: map[string]string{"from": "self", "member": m.Name, "data_dir": m.DataDir, "backup_dir": dir, "etcdctl": etcdctl}}, nil
}

// Run takes the backup and fails unless it could be verified (invariant 4
// in docs/safety.md). from: leader writes a snapshot under the run's backup
// folder; self and each run etcdctl backup on the member(s) and fetch the
// result into the same folder. Each manifest goes to Env.RecordBackup.
func (b *Backup) Run(ctx context.Context, env *Env) error {
	if env.Inventory == nil {
		return errors.New("backup needs the inventory")
	}
	dir := b.localDir(env)
	switch b.From {
	case "leader":
		if env.api() != "v3" {
			return fmt.Errorf("backup from: leader takes a v3 snapshot, but the inventory says api: %s", env.api())
		}
		m, err := snapshotV3(ctx, env, dir)
		if err != nil {
			return err
		}
		env.info("snapshot saved and verified", "file", m.File, "revision", m.Revision, "keys", m.Keys, "sha256", m.SHA256)
		return env.recordBackup(m)
	case "self", "each":
		if b.From == "self" {
			if _, err := needMember(env, "backup from: self"); err != nil {
				return err
			}
		}
		members, err := targets(env)
		if err != nil {
			return err
		}
		for _, m := range members {
			man, err := backupV2(ctx, env, m, dir)
			if err != nil {
				return err
			}
			env.info("etcdctl backup taken and fetched", "member", m.Name, "remote", man.RemoteDir, "file", man.File, "sha256", man.SHA256)
			if err := env.recordBackup(man); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("backup: unknown from %q", b.From)
}

// localDir is where the backup lands on the operator's machine: the
// step's dir plus a time stamp, else the run's backup folder, else
// backups/<cluster>/<time>.
func (b *Backup) localDir(env *Env) string {
	stamp := now(env).UTC().Format("20060102T150405Z")
	switch {
	case b.Dir != "":
		return filepath.Join(b.Dir, stamp)
	case env.BackupDir != "":
		return env.BackupDir
	}
	return filepath.Join("backups", env.Inventory.Cluster, stamp)
}
