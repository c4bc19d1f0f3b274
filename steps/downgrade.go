package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/schema"
	"gopkg.in/yaml.v3"
)

// Downgrade drives etcd's downgrade API (etcd 3.6+, `etcdctl downgrade`):
// validate that the cluster may go one minor down, enable the downgrade
// (the cluster version drops to the target at once and every member
// migrates its storage to it), or cancel it. The target is the playbook's
// `to`; etcd itself accepts only the minor below the cluster version.
// docs/downgrades.md says how a downgrade playbook uses the three.
type Downgrade struct {
	Action  string       `yaml:"action" json:"action" jsonschema:"required,enum=validate|enable|cancel" doc:"validate (read-only), enable (the cluster starts downgrading) or cancel"`
	Version schema.Minor `yaml:"version" json:"version,omitempty" doc:"the target minor, quoted: \"3.5\"; default the playbook's to (cancel takes none)"`

	pos, versionPos schema.Pos
}

func (*Downgrade) Kind() string { return "downgrade" }

func (g *Downgrade) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	g.pos = d.Pos(schema.Resolve(n))
	set := map[string]bool{}
	if !d.Fields(n, "downgrade", g, func(key string, v *yaml.Node) {
		set[key] = true
		switch key {
		case "action":
			g.Action = d.Enum(v, "downgrade.action", "validate", "enable", "cancel")
		case "version":
			g.versionPos = d.Pos(schema.Resolve(v))
			g.Version = d.Minor(v, "downgrade.version")
		}
	}) {
		return
	}
	switch {
	case !set["action"]:
		d.Hintf(n, `e.g. downgrade: {action: validate}`, "downgrade: missing required key \"action\"")
	case g.Action == "cancel" && set["version"]:
		d.Errorf(n, "downgrade: cancel takes no version (it cancels whatever downgrade is in flight)")
	}
}

// CheckContext: validate and enable belong to a downgrade playbook and
// aim at its `to`; enable changes the cluster, so it has no place in
// preflight (a refused run changes nothing) nor in rollback.
func (g *Downgrade) CheckContext(d *schema.Decoder, c schema.StepContext) {
	p := c.Playbook
	if g.Action == "cancel" || g.Action == "" || p == nil || p.From.IsZero() || p.To.IsZero() {
		return
	}
	if !p.IsDowngrade() {
		d.ErrorAt(g.pos, "downgrade validate/enable belong in a playbook whose to is one minor below its from",
			"downgrade %s in a playbook that goes up from %s to %s", g.Action, p.From, p.To)
		return
	}
	if !g.Version.IsZero() && g.Version != p.To {
		d.ErrorAt(g.versionPos, fmt.Sprintf("write version: %q, or leave it out", p.To.String()),
			"downgrade %s targets %s, but the playbook downgrades to %s", g.Action, g.Version, p.To)
	}
	if g.Action == "enable" && (c.Phase == schema.PhasePreflight || c.Phase == schema.PhaseRollback) {
		d.ErrorAt(g.pos, "enable it as the first of members.steps: it runs once the whole preflight (backup, staged releases) has passed",
			"downgrade enable changes the cluster; it cannot run in %s", c.Phase)
	}
}

// Bound: one RPC through raft, then a few probes until every member says
// so; longer means the cluster is struggling.
func (*Downgrade) Bound() time.Duration { return time.Minute }

// target is the minor the step aims at.
func (g *Downgrade) target(p *schema.Playbook) schema.Minor {
	if !g.Version.IsZero() || p == nil {
		return g.Version
	}
	return p.To
}

func (g *Downgrade) Plan(c *PlanContext) (Plan, error) {
	if c.api() != "v3" {
		return Plan{}, fmt.Errorf("downgrade needs the v3 API (etcd 3.6+), but the inventory says api: %s", c.api())
	}
	t := g.target(c.Playbook)
	args := map[string]string{"action": g.Action}
	if g.Action != "cancel" {
		args["version"] = t.String()
	}
	var text string
	switch g.Action {
	case "validate":
		text = fmt.Sprintf("etcdctl downgrade validate %s: etcd confirms the cluster may go down to %s (changes nothing)", t, t)
	case "enable":
		text = fmt.Sprintf("etcdctl downgrade enable %s, unless already enabled: the cluster version drops to %s and storage migrates", t, t)
	case "cancel":
		text = "etcdctl downgrade cancel, unless none is in flight: members on the newer binary may then raise the cluster version again"
	}
	return Plan{Text: text, Args: args}, nil
}

// Run sends the request and proves its effect: validate passes only when
// etcd says yes; enable and cancel are idempotent (a resumed or repeated
// run finds the downgrade already enabled, or none left to cancel) and
// end once every reachable 3.6+ member reports the new downgrade state.
func (g *Downgrade) Run(ctx context.Context, env *Env) error {
	t := g.target(env.Playbook).String()
	switch g.Action {
	case "validate":
		cv, err := env.Cluster.Downgrade(ctx, etcdprobe.DowngradeValidate, t)
		if errors.Is(err, etcdprobe.ErrDowngradeInProgress) {
			return fmt.Errorf("%w: a downgrade is already enabled; continue it with `etcdplay resume`, or cancel it with `etcdplay rollback`", err)
		}
		if err != nil {
			return err
		}
		env.info("downgrade validate success", "cluster", cv, "target", t)
		return nil
	case "enable":
		return g.enable(ctx, env, t)
	case "cancel":
		return g.cancel(ctx, env)
	}
	return fmt.Errorf("downgrade: unknown action %q", g.Action)
}

func (g *Downgrade) enable(ctx context.Context, env *Env, t string) error {
	c, err := env.Cluster.Cluster(ctx)
	if err != nil {
		return fmt.Errorf("downgrade enable %s: %w", t, err)
	}
	if enabledFor(c, t) {
		env.info("downgrade already enabled; nothing to do", "target", t, "cluster", c.Version)
		return nil
	}
	if matchMinorString(t, c.Version) {
		return fmt.Errorf("downgrade enable %s: the cluster version is already %s but no downgrade is enabled (it was cancelled while a member ran %s): put every member back on %s with `etcdplay rollback`, then run again",
			t, c.Version, t, env.Playbook.From)
	}
	cv, err := env.Cluster.Downgrade(ctx, etcdprobe.DowngradeEnable, t)
	if err != nil {
		return err
	}
	env.info("downgrade enabled", "target", t, "cluster was", cv)
	return g.await(ctx, env, "enabled with target "+t, func(c *etcdprobe.Cluster) bool { return enabledFor(c, t) })
}

func (g *Downgrade) cancel(ctx context.Context, env *Env) error {
	cv, err := env.Cluster.Downgrade(ctx, etcdprobe.DowngradeCancel, "")
	switch {
	case errors.Is(err, etcdprobe.ErrNoDowngrade):
		env.info("no downgrade in flight; nothing to cancel")
		return nil
	case err != nil:
		return err
	}
	env.info("downgrade cancelled", "cluster", cv)
	return g.await(ctx, env, "no downgrade enabled", func(c *etcdprobe.Cluster) bool {
		for _, m := range c.Members {
			if m.Reachable && m.Downgrade.Enabled {
				return false
			}
		}
		return true
	})
}

// await polls until every member's Status agrees with the request's
// effect (the guide's "confirm endpoint status on all members").
func (g *Downgrade) await(ctx context.Context, env *Env, want string, ok func(*etcdprobe.Cluster) bool) error {
	var last string
	start := time.Now()
	err := poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		c, err := env.Cluster.Cluster(ctx)
		if err != nil {
			note(ctx, &last, err.Error())
			return false, nil
		}
		note(ctx, &last, downgradeStates(c))
		return ok(c), nil
	})
	if err != nil {
		return pollErr(err, fmt.Sprintf("downgrade %s: after %s the members report %s (expected %s)", g.Action, since(start), last, want))
	}
	return nil
}

// enabledFor: a reachable member reports the downgrade enabled towards t,
// and none reports anything else. 3.5 and older members report nothing
// and are not counted.
func enabledFor(c *etcdprobe.Cluster, t string) bool {
	seen := false
	for _, m := range c.Members {
		if !m.Reachable || !reportsDowngrade(m.Server) {
			continue
		}
		if !m.Downgrade.Enabled || !matchMinorString(t, m.Downgrade.Target) {
			return false
		}
		seen = true
	}
	return seen
}

// reportsDowngrade: Status carries downgrade info from etcd 3.6 on.
func reportsDowngrade(server string) bool {
	v, ok := reportedVersion(server)
	return ok && (v.Major > 3 || (v.Major == 3 && v.Minor >= 6))
}

func downgradeStates(c *etcdprobe.Cluster) string {
	var parts []string
	for _, m := range c.Members {
		switch {
		case !m.Reachable:
			parts = append(parts, m.DisplayName()+" unreachable")
		case !reportsDowngrade(m.Server):
			parts = append(parts, m.DisplayName()+" on "+m.Server+" (reports no downgrade)")
		case m.Downgrade.Enabled:
			parts = append(parts, m.DisplayName()+" enabled to "+m.Downgrade.Target)
		default:
			parts = append(parts, m.DisplayName()+" not enabled")
		}
	}
	return strings.Join(parts, ", ")
}

// matchMinorString: version ("3.5.0") is on minor m ("3.5").
func matchMinorString(m, version string) bool {
	p, err := schema.ParsePattern(m)
	return err == nil && version != "" && p.Match(version)
}
