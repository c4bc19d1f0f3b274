package steps

import (
	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/schema"
)

// FactsFrom turns one probe of the cluster into the facts guards read.
// member names the member being upgraded ("" outside per-member phases);
// vars are the playbook's vars with the inventory's merged over them;
// opts are the members' options as ReadOptions last read them, by
// inventory name (nil when not read: every member's options are unknown).
func FactsFrom(c *etcdprobe.Cluster, member string, pb *schema.Playbook, vars map[string]any, opts map[string]MemberOptions) schema.Facts {
	f := schema.Facts{Vars: vars}
	if pb != nil {
		f.Playbook = schema.PlaybookFacts{Name: pb.Name, From: pb.From.String(), To: pb.To.String()}
	}
	if f.Vars == nil {
		f.Vars = map[string]any{}
	}
	if c == nil {
		return f
	}
	f.Cluster = schema.ClusterFacts{
		Version:     c.Version,
		Leader:      c.Leader,
		DBSize:      c.DBSize,
		API:         c.API,
		AuthEnabled: c.AuthEnabled,
		Healthy:     c.Healthy,
		V3Keys:      c.V3Keys,
		V3Healthy:   c.V3Healthy,
		Members:     make([]schema.MemberFacts, 0, len(c.Members)),
		Alarms:      make([]string, 0, len(c.Alarms)),
	}
	for _, a := range c.Alarms {
		f.Cluster.Alarms = append(f.Cluster.Alarms, a.Type)
	}
	for i := range c.Members {
		m := memberFacts(&c.Members[i])
		withOptions(&m, opts)
		f.Cluster.Members = append(f.Cluster.Members, m)
		if member != "" && (c.Members[i].Endpoint == member || (c.Members[i].Endpoint == "" && c.Members[i].Name == member)) {
			f.Member = m
		}
	}
	return f
}

func memberFacts(m *etcdprobe.Member) schema.MemberFacts {
	name := m.Endpoint
	if name == "" {
		name = m.Name
	}
	return schema.MemberFacts{
		Name:         name,
		Server:       m.Server,
		IsLeader:     m.IsLeader,
		DBSize:       m.DBSize,
		RaftIndex:    m.RaftIndex,
		AppliedIndex: m.RaftAppliedIndex,
		Healthy:      m.Healthy,
		Storage:      m.Storage,
		IsLearner:    m.IsLearner,
	}
}

// withOptions adds a member's options to its facts. A member whose
// options were never read has them unknown, so a check cannot mistake
// "not read" for "not set".
func withOptions(m *schema.MemberFacts, opts map[string]MemberOptions) {
	o, ok := opts[m.Name]
	if !ok {
		m.Options, m.OptionSources = map[string]string{}, map[string]string{}
		m.OptionsUnknown = "options not read"
		return
	}
	m.Options, m.OptionSources, m.OptionsUnknown = o.Options, o.Sources, o.Unknown
	if m.Options == nil {
		m.Options = map[string]string{}
	}
	if m.OptionSources == nil {
		m.OptionSources = map[string]string{}
	}
}
