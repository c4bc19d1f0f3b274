package steps

import (
	"context"
	"fmt"
	"strings"
)

// The 2.x guides back a member up after stopping it, and etcdctl backup
// runs as the login user. On a host where that user cannot read etcd's
// data directory (a login user who is not etcd's owner), the backup
// would fail with the member already down. Backup's Preflight proves,
// before any member stops, that the login user can read what etcdctl
// backup reads.

// v2ReadableScript exits 3, printing the folder's owner and mode, when
// the login user cannot list the data dir, its member/ folder (2.0.1+)
// or the snap and wal folders in it.
const v2ReadableScript = `d=$1
check() { [ -r "$1" ] && [ -x "$1" ] || { ls -ldn "$1" 2>&1 || true; exit 3; }; }
check "$d"
[ -d "$d/member" ] && { d=$d/member; check "$d"; }
for s in snap wal; do
  [ -e "$d/$s" ] && check "$d/$s"
done
exit 0`

// Preflight (backup from: self): the login user can read the member's
// data directory, so the backup taken after the stop can run.
func (b *Backup) Preflight(ctx context.Context, env *Env) error {
	if b.From != "self" {
		return nil
	}
	m, err := needMember(env, "backup from: self")
	if err != nil {
		return err
	}
	if m.DataDir == "" {
		return fmt.Errorf("backup of %s needs data_dir in the inventory (cluster-wide or on the member)", m.Name)
	}
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return err
	}
	res, err := shScript(ctx, h, v2ReadableScript, m.DataDir)
	if err != nil {
		return fmt.Errorf("on %s: check that %s is readable: %w", m.Name, m.DataDir, err)
	}
	if res.ExitStatus != 0 {
		who := "the login user"
		if m.SSH.User != "" {
			who += " " + m.SSH.User
		}
		seen := strings.TrimSpace(string(res.Stdout))
		return fmt.Errorf("on %s: %s cannot read %s (%s): etcdctl backup, which this playbook runs as that user after stopping the member, would fail with the member down; "+
			"log in as the data directory's owner (ssh.user) for this upgrade",
			m.Name, who, m.DataDir, orNothing(seen, fmt.Sprintf("exit %d", res.ExitStatus)))
	}
	return nil
}

func orNothing(s, instead string) string {
	if s == "" {
		return instead
	}
	return s
}
