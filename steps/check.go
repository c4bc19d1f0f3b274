package steps

import (
	"github.com/etcdplay/etcdplay/schema"
	"gopkg.in/yaml.v3"
)

// Check holds when an expression over the facts is true; a guide's "if your
// data is larger than 100MB, contact us" becomes one. fail stops the run,
// warn reports and goes on.
type Check struct {
	That     *schema.Guard `yaml:"that" json:"that" jsonschema:"required" doc:"expression that must hold"`
	Severity string        `yaml:"severity" json:"severity,omitempty" jsonschema:"enum=fail|warn" doc:"fail (default) stops the run; warn reports and continues"`
	Message  string        `yaml:"message" json:"message" jsonschema:"required" doc:"what it means when the expression does not hold"`
}

func (*Check) Kind() string { return "check" }

func (c *Check) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	set := map[string]bool{}
	if !d.Fields(n, "check", c, func(key string, v *yaml.Node) {
		set[key] = true
		switch key {
		case "that":
			c.That = d.Guard(v, "check.that")
		case "severity":
			c.Severity = d.Enum(v, "check.severity", "fail", "warn")
		case "message":
			c.Message = d.NonEmpty(v, "check.message")
		}
	}) {
		return
	}
	if schema.IsNull(n) {
		d.Hintf(n, `e.g. check: {that: "cluster.dbSize < 100 * MB", message: "..."}`, "check needs that: and message:")
		return
	}
	d.Require(schema.Resolve(n), "check", set, "that", "message")
	if c.Severity == "" {
		c.Severity = "fail"
	}
}

func (c *Check) Plan(*PlanContext) (Plan, error) {
	return Plan{
		Text: "check " + c.That.String() + " (" + c.Severity + ": " + c.Message + ")",
		Args: map[string]string{"that": c.That.String(), "severity": c.Severity, "message": c.Message},
	}, nil
}
