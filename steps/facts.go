package steps

import (
	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/schema"
)

// FactsFrom turns one probe of the cluster into the facts guards read.
// member names the member being upgraded ("" outside per-member phases);
// vars are the playbook's vars with the inventory's merged over them.
func FactsFrom(c *etcdprobe.Cluster, member string, pb *schema.Playbook, vars map[string]any) schema.Facts {
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
		Members:     make([]schema.MemberFacts, 0, len(c.Members)),
		Alarms:      make([]string, 0, len(c.Alarms)),
	}
	for _, a := range c.Alarms {
		f.Cluster.Alarms = append(f.Cluster.Alarms, a.Type)
	}
	for i := range c.Members {
		m := memberFacts(&c.Members[i])
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
