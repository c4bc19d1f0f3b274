package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"gopkg.in/yaml.v3"
)

// Wait waits, always bounded: until the cluster is healthy, until the
// member's applied raft index reaches the leader's (caught-up), until the
// cluster version reaches a version, or for a fixed duration (the 2.x
// guides' "wait 2 minutes between members").
type Wait struct {
	For      string          `yaml:"for" json:"for,omitempty" jsonschema:"enum=healthy|caught-up|cluster-version" doc:"condition to wait for (or use duration)"`
	Version  schema.Pattern  `yaml:"version" json:"version,omitempty" doc:"with for: cluster-version, the version to reach, e.g. \"3.5\""`
	Duration schema.Duration `yaml:"duration" json:"duration,omitempty" doc:"wait this long (Go duration), instead of for"`
	Timeout  schema.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"give up after this long (default: healthy 2m, caught-up 5m, cluster-version 5m); the same as the step's timeout"`

	pos schema.Pos
}

// Default bounds, so that no wait is ever unbounded.
var waitDefaults = map[string]time.Duration{
	"healthy":         2 * time.Minute,
	"caught-up":       5 * time.Minute,
	"cluster-version": 5 * time.Minute,
}

func (*Wait) Kind() string { return "wait" }

// DecodeArgs accepts `wait: {for: healthy}` and the short form `wait: 2m`.
func (w *Wait) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	w.pos = d.Pos(schema.Resolve(n))
	if schema.IsScalar(n) {
		w.Duration = d.Duration(n, "wait")
		return
	}
	set := map[string]bool{}
	if !d.Fields(n, "wait", w, func(key string, v *yaml.Node) {
		set[key] = true
		switch key {
		case "for":
			w.For = d.Enum(v, "wait.for", "healthy", "caught-up", "cluster-version")
		case "version":
			w.Version = d.Pattern(v, "wait.version")
		case "duration":
			w.Duration = d.Duration(v, "wait.duration")
		case "timeout":
			w.Timeout = d.Duration(v, "wait.timeout")
		}
	}) {
		return
	}
	switch {
	case set["for"] && set["duration"]:
		d.Hintf(n, "write two wait steps", "wait takes for or duration, not both")
	case !set["for"] && !set["duration"]:
		d.Hintf(n, "e.g. wait: {for: healthy} or wait: {duration: 2m}", "wait needs for or duration")
	case set["duration"] && set["timeout"]:
		d.Errorf(n, "wait: a duration is its own bound; drop timeout")
	case w.For == "cluster-version" && !set["version"]:
		d.Hintf(n, `e.g. wait: {for: cluster-version, version: "3.5"}`, "wait for cluster-version needs version")
	case set["version"] && set["for"] && w.For != "cluster-version" && w.For != "":
		d.Errorf(n, "wait: version goes with for: cluster-version, not %s", w.For)
	}
}

// NeedsMember: caught-up compares this member with the leader.
func (w *Wait) NeedsMember() bool { return w.For == "caught-up" }

// CheckContext: a step-level timeout and wait's own would disagree, and a
// fixed wait is its own bound.
func (w *Wait) CheckContext(d *schema.Decoder, c schema.StepContext) {
	switch {
	case w.Timeout != 0 && c.Step.Timeout != 0:
		d.ErrorAt(w.pos, "keep one: wait's timeout bounds the wait", "wait has two timeouts, its own and the step's")
	case w.Duration != 0 && c.Step.Timeout != 0:
		d.ErrorAt(w.pos, "drop the step's timeout", "wait: a duration is its own bound")
	}
}

// JSONSchemaShortForm: `wait: 2m`.
func (*Wait) JSONSchemaShortForm() map[string]any { return schema.Duration(0).JSONSchema() }

// Bound is how long one attempt of the wait may take when the step gives
// no timeout: wait's own timeout, else the condition's default. A fixed
// wait (duration) ends by itself and has no other bound.
func (w *Wait) Bound() time.Duration {
	switch {
	case w.Duration != 0:
		return 0
	case w.Timeout != 0:
		return time.Duration(w.Timeout)
	}
	return waitDefaults[w.For]
}

func (w *Wait) Plan(c *PlanContext) (Plan, error) {
	if w.Duration != 0 {
		return Plan{Text: "wait " + w.Duration.String(), Args: map[string]string{"duration": w.Duration.String()}}, nil
	}
	args := map[string]string{"for": w.For}
	var text string
	switch w.For {
	case "healthy":
		text = "wait until the cluster is healthy"
		if c.Member != nil {
			text = "wait until " + c.Member.Name + " and the cluster are healthy"
		}
	case "caught-up":
		text = "wait until " + c.who() + "'s applied raft index reaches the leader's"
	case "cluster-version":
		text = "wait until the cluster version is " + w.Version.String()
		args["version"] = w.Version.String()
	default:
		return Plan{}, fmt.Errorf("wait: unknown condition %q", w.For)
	}
	return Plan{Text: text, Args: args}, nil
}

// Run waits for the condition, polling every 100 ms for the first five
// seconds and every half second after (pollQuickly), until ctx ends
// (the runner bounds each attempt by the step's Bound). A fixed duration
// ends early only when the run is interrupted.
func (w *Wait) Run(ctx context.Context, env *Env) error {
	if w.Duration != 0 {
		env.info("waiting", "duration", w.Duration.String())
		t := time.NewTimer(time.Duration(w.Duration))
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("wait %s interrupted: %w", w.Duration, ctx.Err())
		}
	}
	switch w.For {
	case "healthy":
		return w.healthy(ctx, env)
	case "caught-up":
		return w.caughtUp(ctx, env)
	case "cluster-version":
		return w.clusterVersion(ctx, env)
	}
	return fmt.Errorf("wait: unknown condition %q", w.For)
}

const waitInterval = 500 * time.Millisecond

// healthy: in per-member phases the member and the whole cluster; else
// the cluster.
func (w *Wait) healthy(ctx context.Context, env *Env) error {
	start := time.Now()
	var last string
	err := pollQuickly(ctx, waitInterval, func(ctx context.Context) (bool, error) {
		c, err := env.Cluster.Cluster(ctx)
		if err != nil {
			note(ctx, &last, err.Error())
			return false, nil
		}
		var problems []string
		if env.Member != nil {
			m := c.MemberByName(env.Member.Name)
			switch {
			case m == nil:
				problems = append(problems, env.Member.Name+" not in the member list")
			case m.Unhealthy() != "":
				problems = append(problems, env.Member.Name+" "+m.Unhealthy())
			}
		}
		if len(problems) == 0 {
			problems = c.Problems()
		}
		note(ctx, &last, strings.Join(problems, "; "))
		return len(problems) == 0, nil
	})
	who := "the cluster"
	if env.Member != nil {
		who = env.Member.Name + " and the cluster"
	}
	if err != nil {
		return pollErr(err, fmt.Sprintf("%s not healthy after %s: %s (expected healthy)", who, since(start), last))
	}
	env.info("healthy", "who", who, "took", since(start))
	return nil
}

// caughtUp: the member's applied index reaches the leader's committed
// index as it was when the wait began (a moving target would never be
// reached under constant writes), and the member reports no error.
func (w *Wait) caughtUp(ctx context.Context, env *Env) error {
	me, err := needMember(env, "wait for caught-up")
	if err != nil {
		return err
	}
	start := time.Now()
	var leader string
	var mark uint64
	var last string
	err = pollQuickly(ctx, waitInterval, func(ctx context.Context) (bool, error) {
		if leader == "" {
			l, idx, err := env.Cluster.LeaderCommitted(ctx)
			if err != nil {
				note(ctx, &last, err.Error())
				return false, nil
			}
			leader, mark = l, idx
		}
		m, err := env.Cluster.Member(ctx, me.Name)
		if err != nil {
			note(ctx, &last, err.Error())
			return false, nil
		}
		switch {
		case m.Unhealthy() != "":
			note(ctx, &last, me.Name+" "+m.Unhealthy())
			return false, nil
		case m.Error != "":
			note(ctx, &last, me.Name+" reports an error: "+m.Error)
			return false, nil
		case m.RaftAppliedIndex < mark:
			note(ctx, &last, fmt.Sprintf("%s applied index %d, below %d", me.Name, m.RaftAppliedIndex, mark))
			return false, nil
		}
		note(ctx, &last, fmt.Sprintf("applied index %d", m.RaftAppliedIndex))
		return true, nil
	})
	if err != nil {
		if leader == "" {
			return pollErr(err, fmt.Sprintf("no leader's commit index to catch up with after %s: %s", since(start), last))
		}
		return pollErr(err, fmt.Sprintf("%s not caught up after %s: %s (expected applied index >= %d, %s's commit index when the wait began)",
			me.Name, since(start), last, mark, leader))
	}
	env.info("caught up", "member", me.Name, "leader", leader, "mark", mark, "took", since(start))
	return nil
}

// clusterVersion: every member reports the cluster version on the
// pattern's line, and so does the cluster as a whole.
func (w *Wait) clusterVersion(ctx context.Context, env *Env) error {
	start := time.Now()
	var last string
	err := pollQuickly(ctx, waitInterval, func(ctx context.Context) (bool, error) {
		c, err := env.Cluster.Cluster(ctx)
		if err != nil {
			note(ctx, &last, err.Error())
			return false, nil
		}
		var behind []string
		for i := range c.Members {
			m := &c.Members[i]
			switch {
			case !m.Reachable:
				behind = append(behind, m.DisplayName()+" unreachable")
			case !w.Version.Match(m.ClusterVersion):
				behind = append(behind, m.DisplayName()+" reports "+orNone(m.ClusterVersion))
			}
		}
		if len(behind) == 0 && !w.Version.Match(c.Version) {
			behind = append(behind, "cluster version "+orNone(c.Version))
		}
		note(ctx, &last, strings.Join(behind, ", "))
		return len(behind) == 0, nil
	})
	if err != nil {
		return pollErr(err, fmt.Sprintf("cluster version not %s after %s: %s", w.Version, since(start), last))
	}
	env.info("cluster version reached", "version", w.Version.String(), "took", since(start))
	return nil
}
