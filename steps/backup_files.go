package steps

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// BackupManifest describes one verified backup. It is written as JSON
// beside the backup on the operator's machine and recorded for the run's
// report, so a restore months later knows what it holds and can check it
// was not damaged since.
type BackupManifest struct {
	Kind           string    `json:"kind"` // "v3-snapshot" or "v2-etcdctl-backup"
	Cluster        string    `json:"cluster"`
	ClusterID      string    `json:"cluster_id,omitempty"`
	Member         string    `json:"member"` // the member it was taken from
	File           string    `json:"file"`   // the local file: snapshot db or tar archive
	Revision       int64     `json:"revision,omitempty"`
	Keys           int       `json:"keys,omitempty"`
	ServerVersion  string    `json:"server_version,omitempty"`
	ClusterVersion string    `json:"cluster_version,omitempty"`
	Storage        string    `json:"storage,omitempty"`
	Size           int64     `json:"size"`
	SHA256         string    `json:"sha256"`
	Time           time.Time `json:"time"`
	// v2: the backup folder `etcdctl backup` wrote on the member, and the
	// WAL files it holds.
	RemoteDir string `json:"remote_dir,omitempty"`
	WALFiles  int    `json:"wal_files,omitempty"`
}

// Fields is the manifest as an event's fields, under its JSON names and
// leaving out what its JSON leaves out (TestBackupManifestFields keeps the
// two in step), so the -o json stream and manifest.json read alike.
func (m BackupManifest) Fields() map[string]any {
	f := map[string]any{"kind": m.Kind, "cluster": m.Cluster, "member": m.Member, "file": m.File,
		"size": m.Size, "sha256": m.SHA256, "time": m.Time.Format(time.RFC3339Nano)}
	for k, v := range map[string]string{"cluster_id": m.ClusterID, "server_version": m.ServerVersion,
		"cluster_version": m.ClusterVersion, "storage": m.Storage, "remote_dir": m.RemoteDir} {
		if v != "" {
			f[k] = v
		}
	}
	for k, v := range map[string]int64{"revision": m.Revision, "keys": int64(m.Keys), "wal_files": int64(m.WALFiles)} {
		if v != 0 {
			f[k] = v
		}
	}
	return f
}

// freeName returns dir/base+ext, or dir/base-N+ext when a backup of the
// same run already took that name: a backup never overwrites another.
func freeName(dir, base, ext string) (string, string) {
	for i := 1; ; i++ {
		name := base + ext
		suffix := ""
		if i > 1 {
			suffix = fmt.Sprintf("-%d", i)
			name = base + suffix + ext
		}
		if _, err := os.Lstat(filepath.Join(dir, name)); os.IsNotExist(err) {
			return filepath.Join(dir, name), suffix
		}
	}
}

// writeStream copies r into a new file at tmp and syncs it; the caller
// renames it into place once verified. It returns bytes and sha256.
func writeStream(tmp string, fill func(w io.Writer) error) (int64, string, error) {
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, "", err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	err = fill(cw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return cw.n, hex.EncodeToString(h.Sum(nil)), err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// commitFile renames tmp to final and syncs the folder, so the name
// survives a crash of the operator's machine.
func commitFile(tmp, final string) error {
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return syncDir(filepath.Dir(final))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeManifest writes the manifest as JSON, atomically and synced.
func writeManifest(path string, m *BackupManifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".part"
	os.Remove(tmp)
	if _, _, err := writeStream(tmp, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	}); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := commitFile(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
