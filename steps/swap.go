package steps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/transport/ssh"
	"gopkg.in/yaml.v3"
)

// Swap puts the target version's etcd binary in place of the member's,
// atomically, keeping the old one beside it for a rollback, and confirms
// `etcd --version` over SSH. The playbook names the minor ("3.5"); the
// inventory's releases supply the exact release, so one playbook serves
// every fleet.
type Swap struct {
	To schema.Minor `yaml:"to" json:"to" jsonschema:"required" doc:"target minor, e.g. \"3.5\"; the inventory's newest release on it is installed"`
	// Min is the lowest release of To the guide accepts (3.5 to 3.4 needs
	// 3.4.32+, the first 3.4 with --next-cluster-version-compatible): an
	// inventory listing an older one is refused before anything changes.
	Min schema.Version `yaml:"min" json:"min,omitempty" doc:"the lowest release on to the guide accepts, e.g. \"3.4.32\"; an older release in the inventory is refused at plan time"`

	toPos, minPos schema.Pos
}

func (*Swap) Kind() string { return "swap" }

// DecodeArgs accepts `swap: {to: "3.5"}` and the short form `swap: "3.5"`.
func (s *Swap) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	if schema.IsScalar(n) {
		s.toPos = d.Pos(schema.Resolve(n))
		s.To = d.Minor(n, "swap")
		return
	}
	set := map[string]bool{}
	if !d.Fields(n, "swap", s, func(key string, v *yaml.Node) {
		set[key] = true
		switch key {
		case "to":
			s.toPos = d.Pos(schema.Resolve(v))
			s.To = d.Minor(v, "swap.to")
		case "min":
			s.minPos = d.Pos(schema.Resolve(v))
			s.Min = d.Version(v, "swap.min")
		}
	}) {
		return
	}
	if !set["to"] {
		d.Hintf(n, `e.g. swap: {to: "3.5"}`, "swap: missing required key \"to\"")
	}
	if !s.Min.IsZero() && !s.To.IsZero() && s.Min.MinorLine() != s.To {
		d.ErrorAt(s.minPos, fmt.Sprintf("write a %s.x release, or drop min", s.To), "swap: min %s is not a release of %s", s.Min, s.To)
	}
}

// belowMin says why release v may not be installed, or "".
func (s *Swap) belowMin(v schema.Version) string {
	if s.Min.IsZero() || !v.Less(s.Min) {
		return ""
	}
	return fmt.Sprintf("swap to %s: the inventory's newest %s.x release is %s, and the guide needs %s or newer: list %s or a later %s.x release under releases",
		s.To, s.To, v, s.Min, s.Min, s.To)
}

func (*Swap) NeedsMember() bool { return true }

// JSONSchemaShortForm: `swap: "3.5"`.
func (*Swap) JSONSchemaShortForm() map[string]any {
	return schema.Minor{}.JSONSchema()
}

// CheckContext: in members.steps a swap installs the playbook's target; in
// rollback it puts back the version the playbook came from. Anything else
// is a typo that would skip or repeat a minor.
func (s *Swap) CheckContext(d *schema.Decoder, c schema.StepContext) {
	if s.To.IsZero() {
		return
	}
	p := c.Playbook
	switch c.Phase {
	case schema.PhaseMembers:
		if !p.To.IsZero() && s.To != p.To {
			d.ErrorAt(s.toPos, fmt.Sprintf("write swap: {to: %q}", p.To.String()),
				"swap installs %s, but the playbook upgrades to %s", s.To, p.To)
		}
	case schema.PhaseRollback:
		if !p.From.IsZero() && s.To != p.From {
			d.ErrorAt(s.toPos, fmt.Sprintf("write swap: {to: %q}", p.From.String()),
				"rollback swaps to %s, but the playbook comes from %s", s.To, p.From)
		}
	}
}

// Bound: an upload of a ~25 MB binary over a slow link.
func (*Swap) Bound() time.Duration { return 5 * time.Minute }

func (s *Swap) Plan(c *PlanContext) (Plan, error) {
	if c.Phase == schema.PhaseRollback && c.Playbook != nil && c.Playbook.IsPatch() {
		// The release listed for the minor is the one rolled back from:
		// only the kept binary holds the patch the member ran before.
		bin := "the member's binary"
		if c.Member != nil {
			bin = c.Member.Binary
		}
		return Plan{Text: fmt.Sprintf("put back the %s.x binary the upgrade's swap kept (%s%s), the release the member ran before", s.To, bin, prevSuffix),
			Args: map[string]string{"to": s.To.String(), "kept": bin + prevSuffix}}, nil
	}
	if c.Inventory == nil {
		return Plan{Text: fmt.Sprintf("put the inventory's newest %s.x release in place", s.To),
			Args: map[string]string{"to": s.To.String()}}, nil
	}
	r := c.Inventory.ReleaseFor(s.To)
	if r == nil {
		var have []string
		for _, r := range c.Inventory.SortedReleases() {
			have = append(have, r.Version.String())
		}
		listed := "none"
		if len(have) > 0 {
			listed = strings.Join(have, ", ")
		}
		return Plan{}, fmt.Errorf("swap to %s: the inventory lists no %s.x release (releases: %s)", s.To, s.To, listed)
	}
	if why := s.belowMin(r.Version); why != "" {
		return Plan{}, errors.New(why)
	}
	args := map[string]string{"to": s.To.String(), "version": r.Version.String()}
	if !s.Min.IsZero() {
		args["min"] = s.Min.String()
	}
	src := r.Remote + " on the member (checked in preflight)"
	if r.Remote != "" {
		args["remote"] = r.Remote
	} else {
		args["upload"] = r.Upload
		src = "the copy of " + r.Upload + " staged and checked in preflight"
	}
	if r.SHA256 != "" {
		args["sha256"] = r.SHA256
		src += ", sha256 " + r.SHA256[:12] + "..."
	}
	bin := "the member's binary"
	if c.Member != nil {
		bin = c.Member.Binary
		args["binary"] = bin
	}
	return Plan{Text: fmt.Sprintf("install etcd %s at %s from %s, keep the old binary as %s, confirm etcd --version", r.Version, bin, src, prevSuffix),
		Args: args}, nil
}

// Critical: an interrupted swap leaves the binary to be re-checked.
func (*Swap) Critical() bool { return true }

// Preflight proves, before any member stops, everything this swap will
// need on env.Member's host, and stages the release there:
//
//   - the binary path exists and prints the version the member reports
//     (otherwise the inventory points at a binary that is not the one
//     running, and the swap would replace the wrong file);
//   - the release is staged (uploaded to the staging folder when the
//     inventory says upload), matches its sha256 and prints the target
//     version: the skipped-minor protection, since a 3.6 binary handed to a
//     3.4 cluster can crash the 3.4 peers and lose quorum
//     (docs/etcd-behaviour.md "Skipping a minor");
//   - with ssh.sudo, sudo allows each exact command the swap will run
//     (`sudo -n -l`), and a refusal prints the missing sudoers lines.
//
// Then (not in a plan's check-only mode) it installs the release beside
// the binary as <binary>.etcdplay-new, checked, so that the swap while
// the member is down is two renames (prepareSwap). Nothing the running
// etcd uses is touched.
func (s *Swap) Preflight(ctx context.Context, env *Env) error {
	m, err := needMember(env, "swap")
	if err != nil {
		return err
	}
	r := env.Inventory.ReleaseFor(s.To)
	if r == nil {
		if s.isRollback(env) {
			env.info("no release listed for the rollback; it will use the binary the forward swap keeps", "member", m.Name, "kept", m.Binary+prevSuffix)
			return nil
		}
		return fmt.Errorf("swap to %s: the inventory lists no %s.x release", s.To, s.To)
	}
	if why := s.belowMin(r.Version); why != "" {
		return fmt.Errorf("%s: refusing before any member is stopped", why)
	}
	if !s.isRollback(env) {
		if err := s.checkHop(ctx, env); err != nil {
			return err
		}
	}
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return err
	}
	facts, err := ReadHostFacts(ctx, h, m)
	if err != nil {
		return err
	}
	if err := s.checkRunningBinary(ctx, env, h, m); err != nil {
		return err
	}
	files, err := stageRelease(ctx, env, h, m, r, facts.Home)
	if err != nil {
		return fmt.Errorf("%w: refusing before any member is stopped", err)
	}
	if sudoOn(m) {
		if err := checkSudo(ctx, h, m, swapPrivileged(env.Inventory, m, facts, files)); err != nil {
			return err
		}
	}
	if !env.CheckOnly && !s.isRollback(env) {
		if err := prepareSwap(ctx, h, m, facts, files, r.Version); err != nil {
			return fmt.Errorf("%w: refusing before any member is stopped", err)
		}
	}
	env.info("release staged and checked", "member", m.Name, "binary", files[0].remote, "version", r.Version.String())
	return nil
}

// Cleanup removes what Preflight staged for env.Member, for a run that
// was refused: the copies installed beside the binaries and the uploads
// in the staging folder (remote releases are the operator's files and
// stay).
func (s *Swap) Cleanup(ctx context.Context, env *Env) {
	m, err := needMember(env, "swap")
	if err != nil || env.Inventory == nil {
		return
	}
	r := env.Inventory.ReleaseFor(s.To)
	if r == nil {
		return
	}
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return
	}
	facts, err := ReadHostFacts(ctx, h, m)
	if err != nil {
		return
	}
	files := releaseFiles(env, m, r, StageDir(env.Inventory, m, facts.Home))
	unprepare(ctx, h, m, facts)
	if r.Upload != "" {
		unstage(ctx, h, files)
	}
}

// checkRunningBinary: the inventory's binary exists on the host and
// prints the version the member reports. A member that does not answer
// is not checked here (the health steps say why).
func (s *Swap) checkRunningBinary(ctx context.Context, env *Env, h Host, m *schema.MemberConfig) error {
	v, err := binVersion(ctx, h, m.Binary)
	if err != nil {
		return fmt.Errorf("binary %s on %s: %w (set binary: to the path the member's service runs)", m.Binary, m.Name, err)
	}
	if env.Cluster == nil {
		return nil
	}
	mem, err := env.Cluster.Member(ctx, m.Name)
	if err != nil || mem == nil || !mem.Reachable {
		return nil
	}
	if rv, ok := reportedVersion(mem.Server); ok && rv != v {
		return fmt.Errorf("binary %s on %s prints etcd %s but the member reports %s: the inventory's binary is not the one running (set binary: to the path the member's service runs)", m.Binary, m.Name, v, rv)
	}
	return nil
}

// swapPrivileged is what this swap runs under sudo on m's host: the
// install of each staged file and the renames, as MemberPrivileged lists
// them.
func swapPrivileged(inv *schema.Inventory, m *schema.MemberConfig, f HostFacts, files []stagedFile) []PrivilegedCommand {
	var out []PrivilegedCommand
	for _, sf := range files {
		dst := m.Binary
		if sf.tool == "etcdctl" {
			dst = m.Etcdctl
		}
		out = append(out,
			PrivilegedCommand{Argv: installArgv(f, true, sf.remote, dst), Purpose: "swap: install " + sf.tool},
			PrivilegedCommand{Argv: keepArgv(f, dst), Purpose: "swap: keep the replaced " + sf.tool},
			PrivilegedCommand{Argv: placeArgv(f, dst), Purpose: "swap: put the new " + sf.tool + " in place"},
			PrivilegedCommand{Argv: restoreArgv(f, dst), Purpose: "swap/rollback: put the kept " + sf.tool + " back"},
			PrivilegedCommand{Argv: discardArgv(f, dst), Purpose: "swap: remove an install that was not placed"},
		)
	}
	return out
}

// Run puts the target release at the inventory's binary path, while the
// member is down, with renames and one local copy only: the release was
// staged and checked in preflight. The staged file is installed beside the
// binary as <binary>.etcdplay-new with the old binary's owner and mode,
// synced, the binary is renamed to <binary>.etcdplay-prev (kept for a
// rollback) and the new file renamed over it (atomic: etcd never sees half
// a file). Then `<binary> --version` must print the expected release;
// otherwise the kept binary is renamed back and the step fails. With
// ssh.sudo each of those is one exact command under sudo -n
// (privileged.go). etcdctl is swapped the same way, beside etcd, when the
// release names one and the member has an etcdctl path that is not on the
// target minor yet. A rollback swap renames the kept binary back when it
// is on the minor rolled back to. A binary already on the target release
// is left alone, so re-running a swap after a crash is safe.
//
// While the member is down this costs one round trip, replaceAll's batch,
// whatever the number of commands: swapFacts was read before the stop
// (Prefetch), or is read here when it was not (a resume, a retry)
// (docs/performance.md).
func (s *Swap) Run(ctx context.Context, env *Env) error {
	m, err := needMember(env, "swap")
	if err != nil {
		return err
	}
	if m.Binary == "" {
		return fmt.Errorf("the inventory gives no binary path for %s", m.Name)
	}
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return err
	}
	r := env.Inventory.ReleaseFor(s.To)
	ctlPrepared := etcdctlPrepared(h, m)
	sf, ok := s.prefetched(env, m)
	if !ok {
		if sf, err = s.readFacts(ctx, env, h, m); err != nil {
			return err
		}
	}
	facts, before, beforeErr := sf.facts, sf.etcd, sf.etcdErr
	if beforeErr == nil {
		env.record("version-before", before.String())
	}
	if s.isRollback(env) {
		if done, err := s.restoreKept(ctx, env, h, m, facts, before); done || err != nil {
			return err
		}
	}
	if r == nil {
		return fmt.Errorf("swap to %s: the inventory lists no %s.x release and %s%s holds none", s.To, s.To, m.Binary, prevSuffix)
	}
	want := r.Version
	files := releaseFiles(env, m, r, StageDir(env.Inventory, m, facts.Home))

	var rs []replacement
	etcdDone := beforeErr == nil && before == want
	if etcdDone {
		env.info("binary already on the target release; nothing to swap", "member", m.Name, "version", before.String())
	} else {
		if len(files) == 0 || files[0].tool != "etcd" {
			return fmt.Errorf("swap to %s: release %s names no etcd binary", s.To, want)
		}
		// Preflight proved the file's sum and version; while the member is
		// down only its presence is checked again, with the release's
		// version when the preflight did not run in this process (a
		// resume). A copy preflight installed needs neither.
		if !isPrepared(h, facts, files[0].remote, m.Binary) {
			if err := checkStaged(ctx, h, m, files[0], want, facts); err != nil {
				if files[0].local == "" {
					return fmt.Errorf("%w; nothing was changed", err)
				}
				// Only after a crash or a resume that skipped preflight: better a
				// late upload than a member left down.
				env.warn("the staged release is missing or changed; uploading it while the member is down", "member", m.Name, "error", err.Error())
				if files, err = stageRelease(ctx, env, h, m, r, facts.Home); err != nil {
					return err
				}
			}
		}
		rs = append(rs, replacement{tool: "etcd", src: files[0].remote, dst: m.Binary, exists: beforeErr == nil, want: want, exact: true,
			prepared: isPrepared(h, facts, files[0].remote, m.Binary)})
	}
	if ctl := etcdctlFile(files); ctl != nil && m.Etcdctl != "" && (ctlPrepared || sf.etcdctlErr != nil || sf.etcdctl.MinorLine() != want.MinorLine()) {
		if !isPrepared(h, facts, ctl.remote, m.Etcdctl) {
			if err := checkStaged(ctx, h, m, *ctl, want, facts); err != nil {
				return err
			}
		}
		exists := sf.etcdctlErr == nil
		if ctlPrepared {
			o, ok := facts.Files[m.Etcdctl]
			exists = ok && !o.Missing
		}
		rs = append(rs, replacement{tool: "etcdctl", src: ctl.remote, dst: m.Etcdctl, exists: exists, want: want,
			prepared: isPrepared(h, facts, ctl.remote, m.Etcdctl)})
	}
	if len(rs) == 0 {
		env.record("version-after", before.String())
		return nil
	}
	after, err := replaceAll(ctx, h, m, facts, rs)
	if err != nil {
		return err
	}
	if etcdDone {
		after = before
	}
	if !etcdDone {
		unstage(ctx, h, files)
	}
	env.record("version-after", after.String())
	if !etcdDone {
		env.info("binary swapped", "member", m.Name, "before", before.String(), "after", after.String(), "kept", m.Binary+prevSuffix)
	}
	return nil
}

// Prefetch reads swapFacts while the member still runs: the facts and
// both `--version`s do not change when etcd stops (the run holds the lock,
// and nothing else of etcdplay's touches the binaries between), and
// reading them before the stop takes a round trip and one or two binary
// starts out of the member's downtime. Run still proves the result after
// the renames with the placed binary's `--version`.
func (s *Swap) Prefetch(ctx context.Context, env *Env) {
	m, err := needMember(env, "swap")
	if err != nil || m.Binary == "" || env.Ahead == nil {
		return
	}
	h, err := hostOf(ctx, env, m.Name)
	if err != nil {
		return
	}
	if sf, err := s.readFacts(ctx, env, h, m); err == nil {
		env.Ahead.Put(s.aheadKey(m), sf)
	}
}

func (*Swap) aheadKey(m *schema.MemberConfig) string { return "swap " + m.Name + " " + m.Binary }

// prefetched is what Prefetch read for this pass, once.
func (s *Swap) prefetched(env *Env, m *schema.MemberConfig) (swapped, bool) {
	v, ok := env.Ahead.Take(s.aheadKey(m))
	if !ok {
		return swapped{}, false
	}
	sf, ok := v.(swapped)
	return sf, ok
}

// readFacts is swapFacts for this swap: the staged sources and the copies
// preflight installed are stat'ed, and etcdctl's version is read unless
// etcdctlPrepared.
func (s *Swap) readFacts(ctx context.Context, env *Env, h Host, m *schema.MemberConfig) (swapped, error) {
	r := env.Inventory.ReleaseFor(s.To)
	return swapFacts(ctx, h, m, !etcdctlPrepared(h, m), append(stagedSources(env, m, r), m.Binary+newSuffix, m.Etcdctl+newSuffix))
}

// etcdctlPrepared: this process's preflight installed a copy of m's
// etcdctl. etcdctl's version decides whether it is swapped, and that
// preflight read it already (not on the target minor), so starting it
// again is skipped.
func etcdctlPrepared(h Host, m *schema.MemberConfig) bool {
	return m.Etcdctl != "" && preparedDst(h, m.Etcdctl)
}

// swapped is what swapFacts read: the host's facts and the versions the
// member's etcd and etcdctl print now (an error when they print none).
type swapped struct {
	facts      HostFacts
	etcd       schema.Version
	etcdErr    error
	etcdctl    schema.Version
	etcdctlErr error
}

// swapFacts reads, in one round trip, what a swap needs before it changes
// anything: ReadHostFacts (with alsoStat) and `--version` of the member's
// etcd and, with ctl, of its etcdctl.
func swapFacts(ctx context.Context, h Host, m *schema.MemberConfig, ctl bool, alsoStat []string) (swapped, error) {
	cmds := []batchCmd{{argv: hostFactsArgv(m, alsoStat)}, {argv: binVersionArgv(m.Binary), mayFail: true}}
	ctl = ctl && m.Etcdctl != ""
	if ctl {
		cmds = append(cmds, batchCmd{argv: binVersionArgv(m.Etcdctl), mayFail: true})
	}
	rs, err := runBatch(ctx, h, m, cmds)
	if err != nil {
		return swapped{}, fmt.Errorf("read tool paths and versions on %s: %w", m.Name, err)
	}
	if rs[0].Status != 0 {
		return swapped{}, fmt.Errorf("read tool paths on %s: exit %d%s", m.Name, rs[0].Status, outputTail(ssh.Result{Stdout: rs[0].Output}))
	}
	var out swapped
	if out.facts, err = parseHostFacts(m, rs[0].Output); err != nil {
		return swapped{}, err
	}
	out.etcd, out.etcdErr = batchVersion(m.Binary, rs[1])
	out.etcdctlErr = errors.New("etcdctl not read")
	if ctl {
		out.etcdctl, out.etcdctlErr = batchVersion(m.Etcdctl, rs[2])
	}
	return out, nil
}

// batchVersion reads the version a binVersionArgv command of a batch
// printed, as binVersion does.
func batchVersion(path string, r batchResult) (schema.Version, error) {
	v, err := parseBinVersion(r.Output)
	if err != nil {
		return schema.Version{}, fmt.Errorf("%s --version: exit %d: %w", path, r.Status, err)
	}
	return v, nil
}

// etcdctlFile is the release's etcdctl among files, nil when none.
func etcdctlFile(files []stagedFile) *stagedFile {
	for i := range files {
		if files[i].tool == "etcdctl" {
			return &files[i]
		}
	}
	return nil
}

// replacement is one binary a swap puts in place.
type replacement struct {
	tool   string // etcd or etcdctl
	src    string // the staged or remote release file
	dst    string // the member's binary
	exists bool   // dst exists, and is kept as dst.etcdplay-prev
	want   schema.Version
	exact  bool // the version must be want exactly, not only its minor
	// prepared: this process's preflight installed src as
	// dst.etcdplay-new and checked it (prepareSwap); it is still there.
	prepared bool
}

// stagedSources are the files a swap to r installs, for ReadHostFacts to
// stat in its one round trip; staged uploads as ~/ paths (the script knows
// $HOME).
func stagedSources(env *Env, m *schema.MemberConfig, r *schema.Release) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, f := range releaseFiles(env, m, r, StageDir(env.Inventory, m, "~")) {
		out = append(out, f.remote)
	}
	return out
}

// checkStaged: the release file swap is about to install is on the host
// (ReadHostFacts stat'ed it, no extra round trip); a file it does not know
// is checked in full (sha256 and version).
func checkStaged(ctx context.Context, h Host, m *schema.MemberConfig, sf stagedFile, want schema.Version, f HostFacts) error {
	if o, ok := f.Files[sf.remote]; ok {
		if o.Missing {
			return fmt.Errorf("release %s: %s is not on %s", want, sf.remote, m.Name)
		}
		return nil
	}
	return verifyOnHost(ctx, h, m, sf, want)
}

// restoreKept is a rollback's swap: rename the kept binary (and etcdctl)
// back when it is on the minor rolled back to. done is false when there
// is no such kept binary, and the release is installed instead.
func (s *Swap) restoreKept(ctx context.Context, env *Env, h Host, m *schema.MemberConfig, f HostFacts, before schema.Version) (bool, error) {
	kept := m.Binary + prevSuffix
	v, err := binVersion(ctx, h, kept)
	if err != nil || v.MinorLine() != s.To {
		return false, nil
	}
	if err := privileged(ctx, h, m, restoreArgv(f, m.Binary)); err != nil {
		return true, fmt.Errorf("put %s back on %s: %w", kept, m.Name, err)
	}
	if err := syncRemote(ctx, h, path.Dir(m.Binary)); err != nil {
		return true, err
	}
	if err := checkVersion(ctx, h, m.Name, m.Binary, "etcd", v, true); err != nil {
		return true, err
	}
	if m.Etcdctl != "" {
		if cv, err := binVersion(ctx, h, m.Etcdctl+prevSuffix); err == nil && cv.MinorLine() == s.To {
			if err := privileged(ctx, h, m, restoreArgv(f, m.Etcdctl)); err != nil {
				return true, fmt.Errorf("put %s%s back on %s: %w", m.Etcdctl, prevSuffix, m.Name, err)
			}
		}
	}
	env.record("version-after", v.String())
	env.info("kept binary put back", "member", m.Name, "before", before.String(), "after", v.String())
	return true, nil
}

// privileged runs one command from privileged.go: under sudo -n when the
// member's ssh.sudo says so, as the login user otherwise.
func privileged(ctx context.Context, h Host, m *schema.MemberConfig, argv []string) error {
	res, err := h.Run(ctx, ssh.Command{Argv: argv, Privileged: true})
	if err != nil {
		return err
	}
	if res.ExitStatus != 0 {
		return fmt.Errorf("%s exited %d%s", ssh.Command{Argv: argv}, res.ExitStatus, outputTail(res))
	}
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

// checkHop refuses a target more than one minor above the cluster version
// the members report: a skipped minor can crash the old peers and lose
// quorum (docs/etcd-behaviour.md "Skipping a minor"), whatever the playbook claims to come
// from. A major step is allowed only to its .0 (2.3 -> 3.0). It fails
// closed: when the cluster version cannot be read (not decided yet, as in
// a 2.0/2.1 mix), the lowest server version stands in for it, and only
// when every member answered with one; otherwise nothing proves the hop
// safe and the swap is refused (docs/safety.md).
func (s *Swap) checkHop(ctx context.Context, env *Env) error {
	c, err := env.Cluster.Cluster(ctx)
	if err != nil {
		return fmt.Errorf("swap to %s: %w", s.To, err)
	}
	cv, ok := reportedVersion(c.Version)
	what := "the cluster version is " + c.Version
	if !ok {
		if cv, ok = lowestServer(c); !ok {
			return fmt.Errorf("swap to %s: the cluster version cannot be read and not every member reports its server version, so nothing proves %s is at most one minor ahead: refusing before any member is stopped (bring every member up; `etcdplay status -i INV` shows them)", s.To, s.To)
		}
		what = "the cluster version is not decided and the oldest member runs " + cv.String()
	}
	from := cv.MinorLine()
	switch {
	case s.To.Major == from.Major && s.To.Minor <= from.Minor+1:
		return nil
	case s.To.Major == from.Major+1 && s.To.Minor == 0:
		return nil
	}
	return fmt.Errorf("swap to %s: %s, so %s would skip a minor (expected %d.%d at most): refusing before any member is stopped",
		s.To, what, s.To, from.Major, from.Minor+1)
}

// lowestServer is the oldest server version in c, false unless every
// member answered with a readable one.
func lowestServer(c *etcdprobe.Cluster) (schema.Version, bool) {
	var low schema.Version
	for i, m := range c.Members {
		v, ok := reportedVersion(m.Server)
		if !m.Reachable || !ok {
			return schema.Version{}, false
		}
		if i == 0 || v.Less(low) {
			low = v
		}
	}
	return low, len(c.Members) > 0
}
