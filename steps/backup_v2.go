package steps

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// v2CheckScript proves the folder `etcdctl backup` wrote is a backup: a
// snap folder and at least one WAL file, under member/ (etcdctl 2.1+) or
// at the top (etcdctl 2.0 writes the 2.0.0 layout). It prints the WAL count.
const v2CheckScript = `d=$1
[ -d "$d/member" ] && d=$d/member
[ -d "$d/snap" ] || { echo "no snap folder in $d" >&2; exit 1; }
n=0
for f in "$d"/wal/*.wal; do [ -f "$f" ] && n=$((n+1)); done
[ "$n" -gt 0 ] || { echo "no .wal file in $d/wal" >&2; exit 1; }
echo "$n"`

// v2BackupSource is the folder to hand `etcdctl backup --data-dir`.
// etcdctl 2.0.x reads the 2.0.0 layout (data/snap, data/wal), but servers
// from 2.0.1 on keep both under data/member/, so 2.0's etcdctl fails with
// "open data/snap: no such file or directory" on the data dir itself and
// must be pointed at data/member. Later etcdctl versions read member/ on
// their own.
const v2BackupSource = `c=$1 d=$2
case "$("$c" --version 2>&1)" in
*"version 2.0."*) [ -d "$d/member/wal" ] && [ ! -d "$d/wal" ] && d=$d/member ;;
esac
echo "$d"`

// v2PrivateDirScript makes this backup's own folder inside backup_dir:
// mktemp -d, so no one can predict its name and pre-create it or plant a
// symlink in it, under umask 077, so the backup is readable by its owner
// only. A backup_dir that is writable by group or others, or owned by
// another user than this one (or root), is refused: whoever can write
// there could swap what the backup writes or reads. It prints the folder.
const v2PrivateDirScript = `set -eu
umask 077
b=$1 name=$2
mkdir -p "$b"
set -- $(ls -ldn "$b")
case "$1" in
?????w*|????????w*) echo "$b is writable by group or others ($1): refusing to back up into it; chmod go-w it or set backup_dir to a private folder" >&2; exit 3 ;;
esac
me=$(id -u)
[ "$3" = "$me" ] || [ "$3" = 0 ] || { echo "$b is owned by uid $3, not by uid $me or root: refusing to back up into it" >&2; exit 3; }
mktemp -d "$b/$name.XXXXXXXX"`

// v2ArchiveScript packs the backup folder into one tar beside it and
// prints its sha256, so the copy fetched to the operator's machine can be
// checked against what the host wrote.
const v2ArchiveScript = `set -e
umask 077
d=$1 a=$2
tar -C "$d" -cf "$a" .
if command -v sha256sum >/dev/null 2>&1; then s=$(sha256sum <"$a"); else s=$(shasum -a 256 <"$a"); fi
echo "${s%% *} $(wc -c <"$a")"`

// fetchChunk is how much of the archive one command returns: the
// transport hands back a command's output whole, so the archive comes in
// pieces and never sits in memory entire.
var fetchChunk = 8 << 20

// backupV2 runs the guide's `etcdctl backup` with the member's own etcdctl
// on its host, proves the result holds a snap folder and WAL files, and
// fetches it to the operator's machine as a tar archive whose sha256 must
// equal the one computed on the host: a backup left only on the member
// dies with the member's disk.
func backupV2(ctx context.Context, env *Env, m schema.MemberConfig, localDir string) (*BackupManifest, error) {
	if m.DataDir == "" {
		return nil, fmt.Errorf("backup of %s needs data_dir in the inventory (cluster-wide or on the member)", m.Name)
	}
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return nil, err
	}
	etcdctl := cmp.Or(m.Etcdctl, "etcdctl")
	stamp := now(env).UTC().Format("20060102T150405Z")
	priv, err := shScript(ctx, h, v2PrivateDirScript, m.BackupDir, m.Name+"-"+stamp)
	if err != nil || priv.ExitStatus != 0 {
		return nil, fmt.Errorf("on %s: backup folder in %s: exit %d%s%v", m.Name, m.BackupDir, priv.ExitStatus, outputTail(priv), errSuffix(err))
	}
	dir := strings.TrimSpace(string(priv.Stdout))
	if !strings.HasPrefix(dir, m.BackupDir+"/") || strings.ContainsAny(dir, "\n\r") {
		return nil, fmt.Errorf("on %s: mktemp in %s printed %q", m.Name, m.BackupDir, clipOut(priv.Stdout))
	}
	remote := path.Join(dir, "backup")
	src, err := shScript(ctx, h, v2BackupSource, etcdctl, m.DataDir)
	if err != nil || src.ExitStatus != 0 {
		return nil, fmt.Errorf("on %s: inspect %s: exit %d%s%v", m.Name, m.DataDir, src.ExitStatus, outputTail(src), errSuffix(err))
	}
	dataDir := strings.TrimSpace(string(src.Stdout))
	cmd := ssh.Command{Argv: []string{etcdctl, "backup", "--data-dir", dataDir, "--backup-dir", remote}}
	if env.api() == "v3" {
		cmd.Env = map[string]string{"ETCDCTL_API": "2"}
	}
	res, err := h.Run(ctx, cmd)
	if err != nil {
		return nil, fmt.Errorf("on %s: %s: %w", m.Name, cmd, err)
	}
	if res.ExitStatus != 0 {
		return nil, fmt.Errorf("on %s: %s exited %d%s", m.Name, cmd, res.ExitStatus, outputTail(res))
	}
	res, err = shScript(ctx, h, v2CheckScript, remote)
	if err != nil {
		return nil, fmt.Errorf("on %s: check %s: %w", m.Name, remote, err)
	}
	if res.ExitStatus != 0 {
		return nil, fmt.Errorf("on %s: %s is not a backup%s (expected snap and wal/*.wal, under member/ or not)", m.Name, remote, outputTail(res))
	}
	wals, _ := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))

	archive := path.Join(dir, "backup.tar")
	res, err = shScript(ctx, h, v2ArchiveScript, remote, archive)
	if err != nil || res.ExitStatus != 0 {
		return nil, fmt.Errorf("on %s: archive %s: exit %d%s%v", m.Name, remote, res.ExitStatus, outputTail(res), errSuffix(err))
	}
	defer func() {
		// The archive is a copy; remove it even when the step ran out of
		// time, but never wait long for it.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		h.Run(rctx, ssh.Command{Argv: []string{"rm", "-f", "--", archive}})
	}()
	var remoteSum string
	var remoteSize int64
	if _, err := fmt.Sscan(string(res.Stdout), &remoteSum, &remoteSize); err != nil {
		return nil, fmt.Errorf("on %s: archive %s: unreadable sha256 and size %q", m.Name, archive, clipOut(res.Stdout))
	}

	if err := os.MkdirAll(localDir, 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	final, suffix := freeName(localDir, m.Name+"-v2backup", ".tar")
	tmp := final + ".part"
	size, sum, err := writeStream(tmp, func(w io.Writer) error {
		for off := int64(0); off < remoteSize; off += int64(fetchChunk) {
			res, err := runArgs(ctx, h, "dd", "if="+archive, "bs="+strconv.Itoa(fetchChunk),
				"skip="+strconv.FormatInt(off/int64(fetchChunk), 10), "count=1")
			if err != nil {
				return err
			}
			if len(res.Stdout) == 0 {
				return fmt.Errorf("no data at offset %d of %d", off, remoteSize)
			}
			if _, err := w.Write(res.Stdout); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("fetch %s:%s: %w", m.Name, archive, err)
	}
	if sum != remoteSum || size != remoteSize {
		os.Remove(tmp)
		return nil, fmt.Errorf("fetched %s:%s is %d bytes with sha256 %s; the host has %d bytes with sha256 %s (expected equal)",
			m.Name, archive, size, sum, remoteSize, remoteSum)
	}
	if err := commitFile(tmp, final); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	man := &BackupManifest{
		Kind:      "v2-etcdctl-backup",
		Cluster:   env.Inventory.Cluster,
		Member:    m.Name,
		File:      final,
		Size:      size,
		SHA256:    sum,
		Time:      now(env).UTC(),
		RemoteDir: remote,
		WALFiles:  wals,
	}
	if c, err := env.Cluster.Cluster(ctx); err == nil {
		man.ClusterID = clusterID(c.ID)
		man.ClusterVersion = c.Version
		if pm := c.MemberByName(m.Name); pm != nil {
			man.ServerVersion = pm.Server
		}
	}
	if err := writeManifest(filepath.Join(localDir, m.Name+"-manifest"+suffix+".json"), man); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return man, nil
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}
