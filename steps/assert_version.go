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

// AssertVersion checks the versions etcd reports: the cluster version, every
// member's server version, one member's, the storage version (3.6+), and a
// patch floor every member must have reached before the minor upgrade (the
// guides' "upgrade to 2.0.3+ first" kind of rule).
type AssertVersion struct {
	Cluster schema.Pattern `yaml:"cluster" json:"cluster,omitempty" doc:"pattern the cluster version must match, e.g. \"3.4\""`
	Servers schema.Pattern `yaml:"servers" json:"servers,omitempty" doc:"pattern every member's server version must match"`
	Member  string         `yaml:"member" json:"member,omitempty" jsonschema:"enum=self" doc:"self: check the member being upgraded (with server/storage)"`
	Server  schema.Pattern `yaml:"server" json:"server,omitempty" doc:"pattern the member's server version must match (needs member: self)"`
	Storage schema.Pattern `yaml:"storage" json:"storage,omitempty" doc:"pattern the storage version must match (etcd 3.6+)"`
	Min     schema.Version `yaml:"min" json:"min,omitempty" doc:"patch floor: every member must run at least this exact version"`
	Message string         `yaml:"message" json:"message,omitempty" doc:"what to tell the operator when min is not met"`
}

func (*AssertVersion) Kind() string { return "assert-version" }

func (a *AssertVersion) DecodeArgs(d *schema.Decoder, n *yaml.Node) {
	if !d.Fields(n, "assert-version", a, func(key string, v *yaml.Node) {
		switch key {
		case "cluster":
			a.Cluster = d.Pattern(v, "assert-version.cluster")
		case "servers":
			a.Servers = d.Pattern(v, "assert-version.servers")
		case "member":
			a.Member = d.Enum(v, "assert-version.member", "self")
		case "server":
			a.Server = d.Pattern(v, "assert-version.server")
		case "storage":
			a.Storage = d.Pattern(v, "assert-version.storage")
		case "min":
			a.Min = d.Version(v, "assert-version.min")
		case "message":
			a.Message = d.String(v, "assert-version.message")
		}
	}) {
		return
	}
	keys := setKeys(n)
	switch {
	case len(keys) == 0 || (len(keys) == 1 && keys["message"]):
		d.Hintf(n, "e.g. assert-version: {cluster: \"3.4\", servers: \"3.4.*\"}", "assert-version checks nothing: give cluster, servers, server, storage or min")
	case keys["server"] && !keys["member"]:
		d.Hintf(n, "add member: self, or use servers: to check every member", "assert-version: server needs member: self")
	case keys["member"] && !keys["server"] && !keys["storage"]:
		d.Hintf(n, "add server: \"X.Y.*\"", "assert-version: member: self without server or storage checks nothing")
	case keys["message"] && !keys["min"]:
		d.Errorf(n, "assert-version: message goes with min")
	}
}

// setKeys lists the keys a mapping node holds.
func setKeys(n *yaml.Node) map[string]bool {
	out := map[string]bool{}
	n = schema.Resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = true
	}
	return out
}

func (a *AssertVersion) NeedsMember() bool { return a.Member == "self" }

// FloorMessage is what the operator reads when a member is below Min.
func (a *AssertVersion) FloorMessage() string {
	if a.Message != "" {
		return a.Message
	}
	return fmt.Sprintf("every member must run %s or newer first: do that patch upgrade before this one", a.Min)
}

// Bound: one probe of the cluster; a slow answer is a problem to report.
func (*AssertVersion) Bound() time.Duration { return 30 * time.Second }

func (a *AssertVersion) Plan(c *PlanContext) (Plan, error) {
	var parts []string
	args := map[string]string{}
	add := func(k, v, text string) {
		args[k] = v
		parts = append(parts, text)
	}
	if !a.Cluster.IsZero() {
		add("cluster", a.Cluster.String(), fmt.Sprintf("cluster version is %s", a.Cluster))
	}
	if !a.Servers.IsZero() {
		add("servers", a.Servers.String(), fmt.Sprintf("every member runs %s", a.Servers))
	}
	if a.Member == "self" {
		args["member"] = c.who()
	}
	if !a.Server.IsZero() {
		add("server", a.Server.String(), fmt.Sprintf("%s runs %s", c.who(), a.Server))
	}
	if !a.Storage.IsZero() {
		who := "every member's"
		if a.Member == "self" {
			who = c.who() + "'s"
		}
		add("storage", a.Storage.String(), fmt.Sprintf("%s storage version is %s", who, a.Storage))
	}
	if !a.Min.IsZero() {
		add("min", a.Min.String(), fmt.Sprintf("every member runs %s or newer (else: %s)", a.Min, a.FloorMessage()))
	}
	return Plan{Text: "assert " + strings.Join(parts, "; "), Args: args}, nil
}

// Run probes the cluster and checks every pattern the step gives. Each
// failing member is named with the version it reports and the one
// expected, all at once, so one run shows the whole drift.
func (a *AssertVersion) Run(ctx context.Context, env *Env) error {
	c, err := env.Cluster.Cluster(ctx)
	if err != nil {
		return fmt.Errorf("assert-version: %w", err)
	}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if !a.Cluster.IsZero() && !a.Cluster.Match(c.Version) {
		fail("cluster version is %s (expected %s)", orNone(c.Version), a.Cluster)
	}
	if !a.Servers.IsZero() {
		for i := range c.Members {
			m := &c.Members[i]
			switch {
			case !m.Reachable:
				fail("%s is unreachable (expected server %s)", m.DisplayName(), a.Servers)
			case !a.Servers.Match(m.Server):
				fail("%s runs %s (expected %s)", m.DisplayName(), orNone(m.Server), a.Servers)
			}
		}
	}
	// Storage applies to the member (member: self) or to every member.
	scope := c.Members
	if a.Member == "self" {
		me, err := needMember(env, "assert-version: {member: self}")
		if err != nil {
			return err
		}
		m := c.MemberByName(me.Name)
		if m == nil {
			return fmt.Errorf("%s is not in the cluster's member list (expected server %s)", me.Name, a.Server)
		}
		scope = []etcdprobe.Member{*m}
		if !a.Server.IsZero() {
			switch {
			case !m.Reachable:
				fail("%s is unreachable (expected server %s)", me.Name, a.Server)
			case !a.Server.Match(m.Server):
				fail("%s runs %s (expected %s)", me.Name, orNone(m.Server), a.Server)
			}
		}
	}
	if !a.Storage.IsZero() {
		for i := range scope {
			m := &scope[i]
			if !a.Storage.Match(m.Storage) {
				fail("%s's storage version is %s (expected %s)", m.DisplayName(), orNone(m.Storage), a.Storage)
			}
		}
	}
	if !a.Min.IsZero() {
		var below []string
		for i := range c.Members {
			m := &c.Members[i]
			v, ok := reportedVersion(m.Server)
			switch {
			case !m.Reachable:
				below = append(below, m.DisplayName()+" unreachable")
			case !ok:
				below = append(below, m.DisplayName()+" reports no version")
			case v.Less(a.Min):
				below = append(below, m.DisplayName()+" runs "+m.Server)
			}
		}
		if len(below) > 0 {
			fail("%s (%s; expected %s or newer)", a.FloorMessage(), strings.Join(below, ", "), a.Min)
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	env.info("versions as expected", "cluster", c.Version)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none reported)"
	}
	return s
}
