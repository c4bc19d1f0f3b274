package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/etcdplay/etcdplay/schema"
)

// Releases reach a member in two moves (docs/production.md): before any
// member stops, preflight stages each release in a folder the login user
// owns (ssh.stage_dir), uploading it when the inventory says upload, and
// proves its sha256 and `--version` there, then installs it beside the
// binary as <binary>.etcdplay-new (prepare.go); the swap, while the
// member is down, only renames it into place. Nothing crosses the network
// while a member is down, and the running binary is never written to.

// DefaultStageDir is the staging folder under the login user's home when
// the inventory sets no ssh.stage_dir; the cluster name is appended.
const DefaultStageDir = "~/.cache/etcdplay/stage"

// StageDir is m's staging folder on its host, absolute (home is the login
// user's $HOME there).
func StageDir(inv *schema.Inventory, m *schema.MemberConfig, home string) string {
	d := m.SSH.StageDir
	if d == "" {
		d = path.Join(DefaultStageDir, inv.Cluster)
	}
	if d == "~" || strings.HasPrefix(d, "~/") {
		d = path.Join(home, d[1:])
	}
	return d
}

// releaseSource is the file install copies for a release: the remote path
// as it is, or the staged copy of an upload. etcd is false for etcdctl;
// ok is false when the release has no such file.
func releaseSource(r *schema.Release, etcd bool, stage string) (string, bool) {
	name, remote, upload := "etcdctl", r.Etcdctl, r.Etcdctl
	if etcd {
		name, remote, upload = "etcd", r.Remote, r.Upload
	}
	switch {
	case r.Remote != "" && remote != "":
		return remote, true
	case r.Upload != "" && upload != "":
		return path.Join(stage, r.Version.String(), name), true
	}
	return "", false
}

// stagedFile is one release file on the host, ready to install.
type stagedFile struct {
	tool   string // etcd or etcdctl
	local  string // the upload's local path; "" for a remote release
	remote string // where it is on the host
	sha256 string // the inventory's pin, "" when none
}

// releaseFiles lists what a release puts on m's host: etcd, and etcdctl
// when both the release and the member name one.
func releaseFiles(env *Env, m *schema.MemberConfig, r *schema.Release, stage string) []stagedFile {
	var out []stagedFile
	if src, ok := releaseSource(r, true, stage); ok {
		f := stagedFile{tool: "etcd", remote: src, sha256: r.SHA256}
		if r.Upload != "" {
			f.local = localPath(env, r.Upload)
		}
		out = append(out, f)
	}
	if m.Etcdctl != "" {
		if src, ok := releaseSource(r, false, stage); ok {
			f := stagedFile{tool: "etcdctl", remote: src, sha256: r.EtcdctlSHA256}
			if r.Upload != "" {
				f.local = localPath(env, r.Etcdctl)
			}
			out = append(out, f)
		}
	}
	return out
}

// prepareStageScript creates the staging folder 0700 (refusing one the
// login user does not own or others can write), and prints the KiB free
// there.
const prepareStageScript = `umask 077
d=$1
mkdir -p "$d/$2" || exit 1
[ -O "$d" ] || { echo "$d is not owned by $(id -un)" >&2; exit 2; }
chmod 0700 "$d" || exit 1
df -Pk "$d" | awk 'NR==2 {print $4}'`

// stageRelease puts r's files on the host, verified: an upload is checked
// against its pin locally, sent (the transport checks the sum on the host
// and syncs before its rename), and then, like a remote release, checked
// on the host for its pin and its `--version`. A file already staged with
// the right sum is not sent again.
func stageRelease(ctx context.Context, env *Env, h Host, m *schema.MemberConfig, r *schema.Release, home string) ([]stagedFile, error) {
	return stageFiles(ctx, env, h, m, r.Version, releaseFiles(env, m, r, StageDir(env.Inventory, m, home)), home)
}

// stageFiles is stageRelease for any of a release's files (etcd, etcdctl,
// etcdutl), version being the release's.
func stageFiles(ctx context.Context, env *Env, h Host, m *schema.MemberConfig, version schema.Version, files []stagedFile, home string) ([]stagedFile, error) {
	stage := StageDir(env.Inventory, m, home)
	var need int64
	for i, f := range files {
		if f.local == "" {
			continue
		}
		st, err := os.Stat(f.local)
		if err != nil {
			return nil, fmt.Errorf("release %s: %w", version, err)
		}
		need += st.Size()
		sum, err := FileSHA256(f.local)
		if err != nil {
			return nil, fmt.Errorf("release %s: %w", version, err)
		}
		if f.sha256 != "" && !strings.EqualFold(sum, f.sha256) {
			return nil, fmt.Errorf("release %s: %s has sha256 %s (expected %s from the inventory)", version, f.local, sum, f.sha256)
		}
		files[i].sha256 = sum // what the host must hold
	}
	if need > 0 {
		res, err := shScript(ctx, h, prepareStageScript, stage, version.String())
		if err != nil || res.ExitStatus != 0 {
			return nil, fmt.Errorf("staging folder %s on %s: exit %d%s%s (set ssh.stage_dir to a folder the login user owns)", stage, m.Name, res.ExitStatus, outputTail(res), errSuffix(err))
		}
		free, perr := strconv.ParseInt(strings.TrimSpace(string(res.Stdout)), 10, 64)
		if perr == nil && free*1024 < need+need/10 {
			return nil, fmt.Errorf("staging folder %s on %s has %d MiB free, release %s needs %d MiB", stage, m.Name, free>>10, version, need>>20)
		}
	}
	for _, f := range files {
		if f.local != "" && env.CheckOnly {
			continue // plan: the local file is checked; nothing is sent
		}
		if f.local != "" {
			if sum, err := hostSHA256(ctx, h, f.remote); err == nil && sum == f.sha256 {
				env.info("release already staged", "member", m.Name, "file", f.remote)
			} else if err := h.Upload(ctx, f.local, f.remote, 0o755); err != nil {
				return nil, fmt.Errorf("upload %s to %s:%s: %w", f.local, m.Name, f.remote, err)
			}
		}
		if err := verifyOnHost(ctx, h, m, f, version); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// verifyOnHost proves a release file on the host is readable, matches its
// pin, and prints its version (etcd and etcdutl exactly; etcdctl on the
// same minor: etcdctl releases are not always cut with every etcd patch).
func verifyOnHost(ctx context.Context, h Host, m *schema.MemberConfig, f stagedFile, want schema.Version) error {
	if f.sha256 != "" {
		sum, err := hostSHA256(ctx, h, f.remote)
		if err != nil {
			return fmt.Errorf("release %s: %s on %s: %w", want, f.remote, m.Name, err)
		}
		if !strings.EqualFold(sum, f.sha256) {
			return fmt.Errorf("release %s: %s on %s has sha256 %s (expected %s from the inventory)", want, f.remote, m.Name, sum, f.sha256)
		}
	}
	return checkVersion(ctx, h, m.Name, f.remote, f.tool, want, f.tool != "etcdctl")
}

// hostSHA256 is sha256sum of a file on the host, as the login user.
func hostSHA256(ctx context.Context, h Host, p string) (string, error) {
	res, err := runArgs(ctx, h, "sha256sum", "--", p)
	if err != nil {
		return "", err
	}
	sum, _, _ := strings.Cut(strings.TrimSpace(string(res.Stdout)), " ")
	return strings.ToLower(sum), nil
}

// unstage removes a release's staged uploads (never a remote release's
// files: those are the operator's), and each version folder when empty,
// in one round trip.
func unstage(ctx context.Context, h Host, files []stagedFile) {
	var uploads []string
	for _, f := range files {
		if f.local != "" {
			uploads = append(uploads, f.remote)
		}
	}
	if len(uploads) == 0 {
		return
	}
	shScript(ctx, h, `for f do rm -f -- "$f"; rmdir -- "${f%/*}" 2>/dev/null; done; exit 0`, uploads...)
}

// syncRemote makes files and folders durable on the host: `sync PATH...`
// fsyncs each (a file's data, a folder's entries after a rename), falling
// back to syncing their filesystem, then everything, where sync takes no
// paths or a file is not readable. It runs as the login user.
func syncRemote(ctx context.Context, h Host, paths ...string) error {
	res, err := shScript(ctx, h, `sync "$@" 2>/dev/null || sync -f "$@" 2>/dev/null || sync`, paths...)
	if err != nil {
		return err
	}
	if res.ExitStatus != 0 {
		return fmt.Errorf("sync %s: exit %d%s", strings.Join(paths, " "), res.ExitStatus, outputTail(res))
	}
	return nil
}

// binVersionScript prints a tool's version in one round trip: etcd and
// 2.x etcdctl answer --version; 3.x etcdctl has no such flag but a version
// command, tried only when --version fails.
const binVersionScript = `"$1" --version 2>&1 || "$1" version 2>&1`

// binVersion runs `path --version` (or `path version`) on the host, as the
// login user, and reads the version.
func binVersion(ctx context.Context, h Host, path string) (schema.Version, error) {
	res, err := shScript(ctx, h, binVersionScript, path)
	if err != nil {
		return schema.Version{}, fmt.Errorf("%s --version: %w", path, err)
	}
	v, perr := parseBinVersion(res.Stdout)
	if perr != nil {
		return schema.Version{}, fmt.Errorf("%s --version: exit %d: %w", path, res.ExitStatus, perr)
	}
	return v, nil
}

// checkVersion requires the tool at path to print want (exact, or only
// its minor line when exact is false).
func checkVersion(ctx context.Context, h Host, member, path, tool string, want schema.Version, exact bool) error {
	v, err := binVersion(ctx, h, path)
	if err != nil {
		return fmt.Errorf("%s on %s: %w (expected %s %s)", path, member, err, tool, want)
	}
	if v == want || (!exact && v.MinorLine() == want.MinorLine()) {
		return nil
	}
	return fmt.Errorf("%s on %s prints %s %s (expected %s)", path, member, tool, v, want)
}

// localPath resolves an inventory path on the operator's machine: ~ is the
// home folder, relative paths are relative to the inventory's folder.
func localPath(env *Env, p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[1:])
		}
	}
	if !filepath.IsAbs(p) && env.Inventory != nil && env.Inventory.File != "" {
		p = filepath.Join(filepath.Dir(env.Inventory.File), p)
	}
	return p
}

// FileSHA256 is the hex sha256 of a local file, read in a stream: the one
// way a release, a snapshot or a backup archive is checked on this machine.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
