package steps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// CheckV2Store is the 3.6 guide's v2store pre-check: before any member
// stops, `etcdutl check v2store` runs on every member's data directory and
// the run goes on only if each prints "No custom content found in both
// v2store and WAL records". 3.6 refuses to start on custom v2 content
// ("detected disallowed custom content in v2store") or panics on it in
// the WAL (etcd issue 20809), so what the check finds is refused with the
// guide's remedy for it.
//
// The etcdutl is the inventory's newest 3.5 release's, which must be
// v2storeCheckFloor or newer (from 3.5.32 the check also reads the WAL):
// a remote path is checked on the host for its pin and version; an upload
// is staged like a release (docs/production.md), checked, run, and
// removed. The check only reads (WAL and snap files, opened read-only), so
// it runs beside the live etcd. When the login user cannot read the data
// directory and ssh.sudo is on, it runs under sudo as the exact argv
// MemberPrivileged lists, and only from a remote path: sudo never runs a
// file in the login user's own staging folder, which the user could
// replace.
type CheckV2Store struct {
	_ byte // no arguments; a zero-size struct would give every step one address
}

// v2storeCheckFloor is the etcdutl whose `check v2store` also inspects
// the WAL records (etcd's 2026-08 patch release; the 3.6 guide requires
// it), and v2storeCheckMinor the minor it belongs to.
var (
	v2storeCheckFloor = schema.Version{Major: 3, Minor: 5, Patch: 32}
	v2storeCheckMinor = v2storeCheckFloor.MinorLine()
)

// The outcomes etcdutl 3.5.32+ prints.
const (
	v2storeClean    = "No custom content found in both v2store and WAL records"
	v2storeDirty    = "detected custom content in v2store"
	v2storeDirtyWAL = "detected custom v2 content in WAL records"
)

func (*CheckV2Store) Kind() string { return "check-v2store" }

func (c *CheckV2Store) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	if schema.IsNull(n) {
		return
	}
	d.Fields(n, "check-v2store", c, func(string, *yaml.Node) {})
}

// CheckContext: the check reads every member while all run, before any
// stops; anywhere else it would read a member mid-upgrade.
func (c *CheckV2Store) CheckContext(d *schema.Decoder, sc schema.StepContext) {
	preflightOnly(d, sc, c.Kind())
}

// Bound: per member an upload of a ~25 MB etcdutl and one read of the
// data directory.
func (*CheckV2Store) Bound() time.Duration { return 10 * time.Minute }

func (c *CheckV2Store) Plan(pc *PlanContext) (Plan, error) {
	if pc.Inventory == nil {
		return Plan{Text: fmt.Sprintf("run etcdutl check v2store (%s or newer) on every member's data directory; refuse custom v2 content", v2storeCheckFloor)}, nil
	}
	r, err := v2storeRelease(pc.Inventory)
	if err != nil {
		return Plan{}, err
	}
	src := r.Etcdutl + " on each member"
	if r.Upload != "" {
		src = "the staged copy of " + r.Etcdutl
	}
	return Plan{Text: fmt.Sprintf("run etcdutl %s (%s) check v2store on every member's data directory; refuse custom v2 content", r.Version, src),
		Args: map[string]string{"version": r.Version.String(), "etcdutl": r.Etcdutl}}, nil
}

// v2storeRelease is the release whose etcdutl runs the check.
func v2storeRelease(inv *schema.Inventory) (*schema.Release, error) {
	r := inv.ReleaseFor(v2storeCheckMinor)
	switch {
	case r == nil:
		return nil, fmt.Errorf("check-v2store needs etcdutl %s or newer: list the %s release the members run, with its etcdutl (releases: \"3.5.x\": {..., etcdutl: PATH})", v2storeCheckFloor, v2storeCheckMinor)
	case r.Version.Less(v2storeCheckFloor):
		return nil, fmt.Errorf("check-v2store needs etcdutl %s or newer (it also reads the WAL records); the inventory's newest %s release is %s", v2storeCheckFloor, v2storeCheckMinor, r.Version)
	case r.Etcdutl == "":
		return nil, fmt.Errorf("check-v2store: release %s names no etcdutl; add etcdutl: (a path on the members, or a local file with upload:) and etcdutl_sha256:", r.Version)
	}
	return r, nil
}

// etcdutlFile is the release's etcdutl on m's host (stage: m's staging
// folder).
func etcdutlFile(env *Env, r *schema.Release, stage string) stagedFile {
	f := stagedFile{tool: "etcdutl", remote: r.Etcdutl, sha256: r.EtcdutlSHA256}
	if r.Upload != "" {
		f.local = localPath(env, r.Etcdutl)
		f.remote = path.Join(stage, r.Version.String(), "etcdutl")
	}
	return f
}

// v2storeOutcome is what the check found on one member.
type v2storeOutcome struct {
	member, dataDir, found string
}

func (c *CheckV2Store) Run(ctx context.Context, env *Env) error {
	r, err := v2storeRelease(env.Inventory)
	if err != nil {
		return err
	}
	members, err := targets(env)
	if err != nil {
		return err
	}
	opts := runningOptions(ctx, env)
	outcomes, err := eachMember(members, func(m *schema.MemberConfig) (v2storeOutcome, error) {
		return c.checkMember(ctx, env, m, r, opts[m.Name])
	})
	if err != nil {
		return err
	}
	var dirty []v2storeOutcome
	for i, o := range outcomes {
		env.info("etcdutl check v2store", "member", members[i].Name, "data_dir", o.dataDir, "found", o.found)
		if o.found != v2storeClean {
			dirty = append(dirty, o)
		}
	}
	if len(dirty) > 0 {
		return v2storeRefusal(dirty)
	}
	return nil
}

// checkMember runs the check on one member.
func (c *CheckV2Store) checkMember(ctx context.Context, env *Env, m *schema.MemberConfig, r *schema.Release, opts map[string]string) (v2storeOutcome, error) {
	dir, err := DataDirOf(m, opts)
	if err != nil {
		return v2storeOutcome{}, err
	}
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return v2storeOutcome{}, err
	}
	readable, err := dataDirReadable(ctx, h, dir)
	if err != nil {
		return v2storeOutcome{}, fmt.Errorf("on %s: %w", m.Name, err)
	}
	if !readable && !sudoOn(m) {
		return v2storeOutcome{}, fmt.Errorf("on %s: the login user cannot read %s/member, so etcdutl check v2store cannot run: log in as etcd's user, or set ssh.sudo: true and allow the line `etcdplay sudoers` prints", m.Name, dir)
	}
	if !readable && r.Upload != "" {
		return v2storeOutcome{}, fmt.Errorf("on %s: %s is readable only through sudo, and sudo never runs a file the login user uploaded (it could be replaced): list release %s's etcdutl as a root-owned path on the members (remote: and etcdutl:)", m.Name, dir, r.Version)
	}
	facts, err := ReadHostFacts(ctx, h, m)
	if err != nil {
		return v2storeOutcome{}, err
	}
	f := etcdutlFile(env, r, StageDir(env.Inventory, m, facts.Home))
	if f.local != "" {
		files, err := stageFiles(ctx, env, h, m, r.Version, []stagedFile{f}, facts.Home)
		if err != nil {
			return v2storeOutcome{}, err
		}
		defer unstage(ctx, h, files)
	} else if err := verifyOnHost(ctx, h, m, f, r.Version); err != nil {
		return v2storeOutcome{}, err
	}
	cmd := ssh.Command{Argv: checkV2storeArgv(f.remote, dir), Privileged: !readable}
	res, err := h.Run(ctx, cmd)
	if err != nil {
		return v2storeOutcome{}, fmt.Errorf("on %s: %s: %w", m.Name, cmd, err)
	}
	found, ok := v2storeFound(res.ExitStatus, string(res.Stdout)+string(res.Stderr))
	if !ok {
		return v2storeOutcome{}, fmt.Errorf("on %s: %s exited %d%s (expected %q or a report of custom v2 content)", m.Name, cmd, res.ExitStatus, outputTail(res), v2storeClean)
	}
	return v2storeOutcome{member: m.Name, dataDir: dir, found: found}, nil
}

// v2storeFound reads what etcdutl check v2store printed: clean only with
// exit 0 and the clean sentence; ok is false for anything else (an
// etcdutl too old to know the WAL check, an unreadable directory).
func v2storeFound(exit int, out string) (found string, ok bool) {
	switch {
	case exit == 0 && strings.Contains(out, v2storeClean):
		return v2storeClean, true
	case strings.Contains(out, v2storeDirty):
		return v2storeDirty, true
	case strings.Contains(out, v2storeDirtyWAL):
		return v2storeDirtyWAL, true
	}
	return "", false
}

// v2storeRefusal names every member with custom v2 content and the
// guide's remedy for what was found.
func v2storeRefusal(dirty []v2storeOutcome) error {
	var lines []string
	for _, o := range dirty {
		remedy := "migrate that data to v3 or delete it (or, at your own risk, start 3.6 with --v2-deprecation=write-only-skip-check)"
		if o.found == v2storeDirtyWAL {
			remedy = "wait for the next v2 snapshot, or force one: restart the member with --snapshot-count=1, then revert the flag and restart it again"
		}
		lines = append(lines, fmt.Sprintf("member %s: etcdutl check v2store --data-dir %s says %q: %s", o.member, o.dataDir, o.found, remedy))
	}
	return errors.New(strings.Join(lines, "; ") + ". etcd 3.6 refuses to start on custom v2 content; run this playbook again once every member's check is clean, and remove --enable-v2 / ETCD_ENABLE_V2 from every member")
}

// DataDirOf is the member's etcd data directory: --data-dir (or its
// variable or config-file key) of the running process when absolute,
// else the inventory's data_dir.
func DataDirOf(m *schema.MemberConfig, opts map[string]string) (string, error) {
	if d := opts["data-dir"]; path.IsAbs(d) {
		return path.Clean(d), nil
	}
	if m.DataDir != "" {
		return m.DataDir, nil
	}
	if d := opts["data-dir"]; d != "" {
		return "", fmt.Errorf("member %s runs with the relative --data-dir %s: set data_dir: in the inventory to its absolute path", m.Name, d)
	}
	return "", fmt.Errorf("member %s: its etcd data directory is unknown (no --data-dir read from the process): set data_dir: in the inventory", m.Name)
}

// DataDirForSudo is the member's data directory when reading it needs
// sudo (the login user cannot), "" when it does not or it is unknown:
// what `etcdplay sudoers` needs for checkV2storeArgv.
func DataDirForSudo(ctx context.Context, h Host, m *schema.MemberConfig, opts map[string]string) string {
	dir, err := DataDirOf(m, opts)
	if err != nil {
		return ""
	}
	if ok, err := dataDirReadable(ctx, h, dir); err != nil || ok {
		return ""
	}
	return dir
}

// dataDirReadable: the login user can list DIR/member and read its WAL
// folder, where the check reads.
func dataDirReadable(ctx context.Context, h Host, dir string) (bool, error) {
	res, err := shScript(ctx, h, `[ -r "$1/member/wal" ] && [ -x "$1/member/wal" ] && [ -x "$1/member" ]`, dir)
	if err != nil {
		return false, err
	}
	return res.ExitStatus == 0, nil
}

// runningOptions is each member's running options (name -> option ->
// value) as the facts read them, nil when the facts cannot be had: the
// data-dir checks then fall back to the inventory's data_dir.
func runningOptions(ctx context.Context, env *Env) map[string]map[string]string {
	if env.Facts == nil {
		return nil
	}
	f, err := env.Facts(ctx)
	if err != nil {
		return nil
	}
	opts := map[string]map[string]string{}
	for _, m := range f.Cluster.Members {
		opts[m.Name] = m.Options
	}
	return opts
}

// preflightOnly refuses, at load, a read-every-member check placed
// anywhere but preflight: later it would read a member mid-upgrade.
func preflightOnly(d *schema.Decoder, sc schema.StepContext, kind string) {
	if sc.Phase != schema.PhasePreflight {
		d.ErrorAt(sc.Step.Pos, "move it to preflight", "%s runs in preflight, before any member stops, not in %s", kind, sc.Phase)
	}
}
