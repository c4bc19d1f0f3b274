package steps

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcdplay/etcdplay/etcdprobe"
)

// snapshotV3 streams a snapshot from the leader into dir and keeps it only
// once verified: etcd's SHA-256 trailer matches, the file opens as a bolt
// database and its revision lies between the leader's revision just before
// the stream began and just after it ended (a snapshot of some other or
// older state would not). A file that fails is kept as *.unverified for
// inspection and the step fails: an unverified backup is no backup.
func snapshotV3(ctx context.Context, env *Env, dir string) (*BackupManifest, error) {
	before, err := env.Cluster.Cluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	leader := before.LeaderMember()
	if leader == nil || !leader.Reachable {
		return nil, fmt.Errorf("backup from the leader: no reachable leader (%s)", strings.Join(before.Problems(), "; "))
	}
	name := leader.DisplayName()
	low := leader.Revision
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	final, suffix := freeName(dir, "snapshot", ".db")
	tmp := final + ".part"
	size, sum, err := writeStream(tmp, func(w io.Writer) error {
		_, err := env.Cluster.Snapshot(ctx, name, w)
		return err
	})
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("snapshot from %s: %w", name, err)
	}
	var high int64
	if after, err := env.Cluster.Cluster(ctx); err == nil {
		if l := after.MemberByName(name); l != nil && l.Reachable {
			high = l.Revision
		}
	}
	info, err := etcdprobe.VerifySnapshot(tmp)
	if err == nil {
		err = checkSnapshot(info, size, sum, low, high)
	}
	if err != nil {
		kept := strings.TrimSuffix(final, ".db") + ".unverified.db"
		if rerr := os.Rename(tmp, kept); rerr != nil {
			os.Remove(tmp)
			kept = "(removed)"
		}
		return nil, fmt.Errorf("snapshot from %s failed verification, kept as %s: %w", name, kept, err)
	}
	if err := commitFile(tmp, final); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	m := &BackupManifest{
		Kind:           "v3-snapshot",
		Cluster:        env.Inventory.Cluster,
		ClusterID:      clusterID(before.ID),
		Member:         name,
		File:           final,
		Revision:       info.Revision,
		Keys:           info.Keys,
		ServerVersion:  leader.Server,
		ClusterVersion: before.Version,
		Storage:        info.Storage,
		Size:           info.Size,
		SHA256:         info.SHA256,
		Time:           now(env).UTC(),
	}
	if err := writeManifest(filepath.Join(dir, "manifest"+suffix+".json"), m); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return m, nil
}

// checkSnapshot ties the verified file to the stream and to the leader's
// revisions. An empty store (revision 1, no key written yet) holds no key
// revision at all, hence the allowance for 0.
func checkSnapshot(info *etcdprobe.SnapshotInfo, size int64, sum string, low, high int64) error {
	switch {
	case info.Size != size || info.SHA256 != sum:
		return fmt.Errorf("file on disk (%d bytes, sha256 %.12s) differs from the stream received (%d bytes, sha256 %.12s)", info.Size, info.SHA256, size, sum)
	case info.Revision < low && !(info.Revision == 0 && low <= 1):
		return fmt.Errorf("snapshot holds revision %d, but the leader was at revision %d before it began (expected at least that)", info.Revision, low)
	case high > 0 && info.Revision > high:
		return fmt.Errorf("snapshot holds revision %d, but the leader was at revision %d after it ended (expected at most that)", info.Revision, high)
	}
	return nil
}

func clusterID(id etcdprobe.ID) string {
	if id == 0 {
		return ""
	}
	return id.String()
}
