package steps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcdplay/etcdplay/schema"
)

// stage returns where the release's etcd binary is on the host: the remote
// path as it is, or an upload to <binary>.etcdplay-new whose sha256 is
// checked locally first (against the inventory's) and on the host by the
// transport.
func (s *Swap) stage(ctx context.Context, env *Env, h Host, m *schema.MemberConfig, r *schema.Release) (string, error) {
	if r.Remote != "" {
		return r.Remote, nil
	}
	if m.Binary == "" {
		return "", fmt.Errorf("the inventory gives no binary path for %s", m.Name)
	}
	local := localPath(env, r.Upload)
	if r.SHA256 != "" {
		got, err := fileSHA256(local)
		if err != nil {
			return "", fmt.Errorf("release %s: %w", r.Version, err)
		}
		if !strings.EqualFold(got, r.SHA256) {
			return "", fmt.Errorf("release %s: %s has sha256 %s (expected %s from the inventory)", r.Version, local, got, r.SHA256)
		}
	}
	dst := m.Binary + newSuffix
	if err := h.Upload(ctx, local, dst, 0o755); err != nil {
		return "", fmt.Errorf("upload %s to %s:%s: %w", local, m.Name, dst, err)
	}
	return dst, nil
}

// stageEtcdctl is stage for the release's etcdctl; ok is false when the
// release names none or the member has no etcdctl path.
func (s *Swap) stageEtcdctl(ctx context.Context, env *Env, h Host, m *schema.MemberConfig, r *schema.Release) (string, bool, error) {
	if r.Etcdctl == "" || m.Etcdctl == "" {
		return "", false, nil
	}
	if r.Remote != "" {
		return r.Etcdctl, true, nil
	}
	local := localPath(env, r.Etcdctl)
	dst := m.Etcdctl + newSuffix
	if err := h.Upload(ctx, local, dst, 0o755); err != nil {
		return "", false, fmt.Errorf("upload %s to %s:%s: %w", local, m.Name, dst, err)
	}
	return dst, true, nil
}

// installScript copies src beside dst, keeps dst as dst.etcdplay-prev, and
// renames the copy over dst. The copy comes first so that src may be the
// kept binary itself (a rollback). Temporary files go on failure.
const installScript = `set -e
dst=$1 src=$2
trap 'rm -f "$dst.etcdplay-tmp" "$dst.etcdplay-prev-tmp"' EXIT
cp "$src" "$dst.etcdplay-tmp"
chmod 0755 "$dst.etcdplay-tmp"
if [ -e "$dst" ]; then
  cp "$dst" "$dst.etcdplay-prev-tmp"
  mv -f "$dst.etcdplay-prev-tmp" "$dst.etcdplay-prev"
fi
mv -f "$dst.etcdplay-tmp" "$dst"`

// restoreScript puts the kept binary back, atomically, keeping the copy.
const restoreScript = `set -e
dst=$1
trap 'rm -f "$dst.etcdplay-tmp"' EXIT
cp "$dst.etcdplay-prev" "$dst.etcdplay-tmp"
mv -f "$dst.etcdplay-tmp" "$dst"`

func install(ctx context.Context, h Host, dst, src string) error {
	res, err := shScript(ctx, h, installScript, dst, src)
	if err != nil {
		return err
	}
	if res.ExitStatus != 0 {
		return fmt.Errorf("exit %d%s", res.ExitStatus, outputTail(res))
	}
	return nil
}

func restore(ctx context.Context, h Host, dst string) error {
	res, err := shScript(ctx, h, restoreScript, dst)
	if err != nil {
		return err
	}
	if res.ExitStatus != 0 {
		return fmt.Errorf("exit %d%s", res.ExitStatus, outputTail(res))
	}
	return nil
}

// binVersion runs `path --version` on the host and reads the version.
// etcdctl 3.x has no --version flag but a version command, so that is
// tried when --version says nothing readable.
func binVersion(ctx context.Context, h Host, path string) (schema.Version, error) {
	res, err := runArgs(ctx, h, path, "--version")
	if err == nil {
		if v, perr := parseBinVersion(append(res.Stdout, res.Stderr...)); perr == nil {
			return v, nil
		} else {
			err = fmt.Errorf("%s --version: %w", path, perr)
		}
	}
	if ctx.Err() != nil {
		return schema.Version{}, err
	}
	if res2, err2 := runArgs(ctx, h, path, "version"); err2 == nil {
		if v, perr := parseBinVersion(append(res2.Stdout, res2.Stderr...)); perr == nil {
			return v, nil
		}
	}
	return schema.Version{}, err
}

// checkVersion requires the tool at path to print want (exact, or only
// its minor line when exact is false: etcdctl releases are not always
// cut with every etcd patch).
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

func fileSHA256(path string) (string, error) {
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
