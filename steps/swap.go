package steps

import (
	"context"
	"fmt"
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

	toPos schema.Pos
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
		if key == "to" {
			s.toPos = d.Pos(schema.Resolve(v))
			s.To = d.Minor(v, "swap.to")
		}
	}) {
		return
	}
	if !set["to"] {
		d.Hintf(n, `e.g. swap: {to: "3.5"}`, "swap: missing required key \"to\"")
	}
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
	args := map[string]string{"to": s.To.String(), "version": r.Version.String()}
	src := "copy of " + r.Remote + " on the member"
	if r.Remote != "" {
		args["remote"] = r.Remote
	} else {
		args["upload"] = r.Upload
		src = "upload of " + r.Upload
		if r.SHA256 != "" {
			args["sha256"] = r.SHA256
			src += ", sha256 " + r.SHA256[:12] + "..."
		}
	}
	bin := "the member's binary"
	if c.Member != nil {
		bin = c.Member.Binary
		args["binary"] = bin
	}
	return Plan{Text: fmt.Sprintf("put etcd %s at %s (%s), keep the old binary, confirm etcd --version", r.Version, bin, src),
		Args: args}, nil
}

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
	r := env.Inventory.ReleaseFor(s.To)
	if r == nil {
		if s.isRollback(env) {
			env.info("no release listed for the rollback; it will use the binary the forward swap keeps", "member", m.Name, "kept", m.Binary+prevSuffix)
			return nil
		}
		return fmt.Errorf("swap to %s: the inventory lists no %s.x release", s.To, s.To)
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

// checkHop refuses a target more than one minor above the cluster version
// the members report: a skipped minor can crash the old peers and lose
// quorum (harness.md, 3.4 -> 3.6), whatever the playbook claims to come
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
