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

	"github.com/etcdplay/etcdplay/runner/ssh"
	"github.com/etcdplay/etcdplay/schema"
)

// Beside the member's binary (same folder, so renames are atomic):
const (
	// newSuffix is where an uploaded release is staged.
	newSuffix = ".etcdplay-new"
	// prevSuffix keeps the binary a swap replaced, for the rollback.
	prevSuffix = ".etcdplay-prev"
)

// Critical: an interrupted swap leaves the binary to be re-checked.
func (*Swap) Critical() bool { return true }

// Preflight proves, before any member stops, that the binary this swap
// would install on env.Member's host prints the release the inventory
// promises. This is the skipped-minor protection: a 3.6 binary handed to a
// 3.4 cluster can crash the 3.4 peers and lose quorum (harness.md), so it
// must be refused while every member still runs. An upload release is
// staged now (beside the binary, as <binary>.etcdplay-new); nothing the
// running etcd uses is touched.
func (s *Swap) Preflight(ctx context.Context, env *Env) error {
	m, err := needMember(env, "swap")
	if err != nil {
		return err
	}
	ctx, cancel := bounded(ctx, stepBound(env, "swap"))
	defer cancel()
	r := env.Inventory.ReleaseFor(s.To)
	if r == nil {
		if s.isRollback(env) {
			env.info("no release listed for the rollback; it will use the binary the forward swap keeps", "member", m.Name, "kept", m.Binary+prevSuffix)
			return nil
		}
		return fmt.Errorf("swap to %s: the inventory lists no %s.x release", s.To, s.To)
	}
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return err
	}
	staged, err := s.stage(ctx, env, h, m, r)
	if err != nil {
		return err
	}
	if err := checkVersion(ctx, h, m.Name, staged, "etcd", r.Version, true); err != nil {
		return fmt.Errorf("%w: refusing before any member is stopped", err)
	}
	if ctl, ok, err := s.stageEtcdctl(ctx, env, h, m, r); err != nil {
		return err
	} else if ok {
		if err := checkVersion(ctx, h, m.Name, ctl, "etcdctl", r.Version, false); err != nil {
			return fmt.Errorf("%w: refusing before any member is stopped", err)
		}
	}
	env.info("release checked", "member", m.Name, "binary", staged, "version", r.Version.String())
	return nil
}

// Run installs the target release at the inventory's binary path: the
// new file is copied to a temporary name in the same folder and renamed
// over the binary (atomic: etcd never sees half a file); the binary it
// replaces is kept as <binary>.etcdplay-prev. Then `<binary> --version`
// over SSH must print the expected release; otherwise the previous binary
// is put back and the step fails. etcdctl is swapped the same way when the
// release names one and the member has an etcdctl path (v2 backups run the
// member's etcdctl). A rollback swap prefers the kept binary when it is on
// the minor rolled back to. A binary already on the target release is
// left alone, so re-running a swap after a crash is safe.
func (s *Swap) Run(ctx context.Context, env *Env) error {
	m, err := needMember(env, "swap")
	if err != nil {
		return err
	}
	if m.Binary == "" {
		return fmt.Errorf("the inventory gives no binary path for %s", m.Name)
	}
	ctx, cancel := bounded(ctx, stepBound(env, "swap"))
	defer cancel()
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return err
	}
	r := env.Inventory.ReleaseFor(s.To)
	before, beforeErr := binVersion(ctx, h, m.Binary)
	if beforeErr == nil {
		env.record("version-before", before.String())
	}

	// What to install: the kept binary on a rollback when it is on the
	// minor rolled back to, else the inventory's release.
	src, want := "", schema.Version{}
	if s.isRollback(env) {
		kept := m.Binary + prevSuffix
		if v, err := binVersion(ctx, h, kept); err == nil && v.MinorLine() == s.To {
			src, want = kept, v
		}
	}
	if src == "" {
		if r == nil {
			return fmt.Errorf("swap to %s: the inventory lists no %s.x release and %s%s holds none", s.To, s.To, m.Binary, prevSuffix)
		}
		want = r.Version
	}
	if beforeErr == nil && before == want {
		env.info("binary already on the target release; nothing to swap", "member", m.Name, "version", before.String())
		env.record("version-after", before.String())
		return s.swapEtcdctl(ctx, env, h, m, r, want)
	}
	if src == "" {
		if src, err = s.stage(ctx, env, h, m, r); err != nil {
			return err
		}
	}

	if err := install(ctx, h, m.Binary, src); err != nil {
		return fmt.Errorf("install %s at %s on %s: %w", src, m.Binary, m.Name, err)
	}
	after, err := binVersion(ctx, h, m.Binary)
	if err != nil || after != want {
		got := "an unreadable version"
		if err == nil {
			got = "etcd " + after.String()
		}
		if rerr := restore(ctx, h, m.Binary); rerr != nil {
			return fmt.Errorf("%s on %s prints %s after the swap (expected %s), and restoring %s%s failed: %v",
				m.Binary, m.Name, got, want, m.Binary, prevSuffix, rerr)
		}
		return fmt.Errorf("%s on %s prints %s after the swap (expected %s); the previous binary is back in place", m.Binary, m.Name, got, want)
	}
	if err := s.swapEtcdctl(ctx, env, h, m, r, want); err != nil {
		if rerr := restore(ctx, h, m.Binary); rerr != nil {
			return fmt.Errorf("%w; restoring %s failed too: %v", err, m.Binary, rerr)
		}
		return fmt.Errorf("%w; the previous etcd binary is back in place", err)
	}
	if strings.HasSuffix(src, newSuffix) {
		h.Run(ctx, ssh.Command{Argv: []string{"rm", "-f", src}})
	}
	env.record("version-after", after.String())
	env.info("binary swapped", "member", m.Name, "before", before.String(), "after", after.String(), "kept", m.Binary+prevSuffix)
	return nil
}

// isRollback: the swap goes back to the playbook's from minor.
func (s *Swap) isRollback(env *Env) bool {
	if env.Phase == schema.PhaseRollback {
		return true
	}
	p := env.Playbook
	return p != nil && s.To == p.From && s.To != p.To
}

// swapEtcdctl swaps the member's etcdctl when there is one to install:
// from the kept copy on a rollback, else from the release. Its version
// must be on the same minor as etcd's.
func (s *Swap) swapEtcdctl(ctx context.Context, env *Env, h Host, m *schema.MemberConfig, r *schema.Release, want schema.Version) error {
	if m.Etcdctl == "" {
		return nil
	}
	src := ""
	if s.isRollback(env) {
		kept := m.Etcdctl + prevSuffix
		if v, err := binVersion(ctx, h, kept); err == nil && v.MinorLine() == s.To {
			src = kept
		}
	}
	if src == "" && r != nil && r.Version == want {
		var ok bool
		var err error
		if src, ok, err = s.stageEtcdctl(ctx, env, h, m, r); err != nil {
			return err
		} else if !ok {
			return nil
		}
	}
	if src == "" {
		return nil
	}
	if v, err := binVersion(ctx, h, m.Etcdctl); err == nil && v == want {
		return nil
	}
	if err := install(ctx, h, m.Etcdctl, src); err != nil {
		return fmt.Errorf("install %s at %s on %s: %w", src, m.Etcdctl, m.Name, err)
	}
	if err := checkVersion(ctx, h, m.Name, m.Etcdctl, "etcdctl", want, false); err != nil {
		if rerr := restore(ctx, h, m.Etcdctl); rerr != nil {
			return fmt.Errorf("%w; restoring it failed: %v", err, rerr)
		}
		return fmt.Errorf("%w; the previous etcdctl is back in place", err)
	}
	if strings.HasSuffix(src, newSuffix) {
		h.Run(ctx, ssh.Command{Argv: []string{"rm", "-f", src}})
	}
	return nil
}

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
