package steps

import (
	"fmt"
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
	Timeout  schema.Duration `yaml:"timeout" json:"timeout,omitempty" doc:"give up after this long (default: healthy 2m, caught-up 5m, cluster-version 5m)"`

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

// CheckContext: a step-level timeout and wait's own would disagree.
func (w *Wait) CheckContext(d *schema.Decoder, c schema.StepContext) {
	if w.Timeout != 0 && c.Step.Timeout != 0 {
		d.ErrorAt(w.pos, "keep one: wait's timeout bounds the wait", "wait has two timeouts, its own and the step's")
	}
}

// JSONSchemaShortForm: `wait: 2m`.
func (*Wait) JSONSchemaShortForm() map[string]any { return schema.Duration(0).JSONSchema() }

// Bound is how long the wait may take at most.
func (w *Wait) Bound(step schema.Duration) time.Duration {
	switch {
	case w.Duration != 0:
		return time.Duration(w.Duration)
	case w.Timeout != 0:
		return time.Duration(w.Timeout)
	case step != 0:
		return time.Duration(step)
	}
	return waitDefaults[w.For]
}

func (w *Wait) Plan(c *PlanContext) (Plan, error) {
	if w.Duration != 0 {
		return Plan{Text: "wait " + w.Duration.String(), Args: map[string]string{"duration": w.Duration.String()}}, nil
	}
	bound := schema.Duration(w.Bound(0)).String()
	args := map[string]string{"for": w.For, "timeout": bound}
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
	return Plan{Text: text + " (at most " + bound + ")", Args: args}, nil
}
