package steps

import (
	"reflect"
	"testing"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/schema"
)

func TestFactsFrom(t *testing.T) {
	c := &etcdprobe.Cluster{
		API: "v3", Version: "3.4.0", Leader: "b", DBSize: 60 << 20, Healthy: true,
		Alarms: []etcdprobe.Alarm{{Member: "a", Type: "NOSPACE"}},
		Members: []etcdprobe.Member{
			{Name: "a", Endpoint: "a", Server: "3.4.23", RaftIndex: 10, RaftAppliedIndex: 9, Healthy: true},
			{Name: "etcd-b", Endpoint: "b", Server: "3.5.35", IsLeader: true, DBSize: 60 << 20, Healthy: true},
		},
	}
	pb := &schema.Playbook{Name: "etcd 3.4 to 3.5", From: schema.Minor{Major: 3, Minor: 4}, To: schema.Minor{Major: 3, Minor: 5}}
	f := FactsFrom(c, "b", pb, map[string]any{"x": 1}, nil)

	if f.Member.Name != "b" || !f.Member.IsLeader || f.Member.Server != "3.5.35" {
		t.Errorf("member facts = %+v, want b, the leader on 3.5.35 (matched by inventory name)", f.Member)
	}
	if len(f.Cluster.Members) != 2 || f.Cluster.Members[0].AppliedIndex != 9 {
		t.Errorf("cluster members = %+v", f.Cluster.Members)
	}
	if len(f.Cluster.Alarms) != 1 || f.Cluster.Alarms[0] != "NOSPACE" {
		t.Errorf("alarms = %v, want [NOSPACE]", f.Cluster.Alarms)
	}
	if f.Playbook.From != "3.4" || f.Playbook.To != "3.5" || f.Vars["x"] != 1 {
		t.Errorf("playbook/vars = %+v %v", f.Playbook, f.Vars)
	}
	if g := FactsFrom(c, "", pb, nil, nil); !reflect.DeepEqual(g.Member, schema.MemberFacts{}) || g.Vars == nil {
		t.Errorf("outside a member phase: member = %+v, vars = %v; want zero member and non-nil vars", g.Member, g.Vars)
	}
}

// A member whose options were read carries them; one never read has them
// unknown, never empty-and-known.
func TestFactsFromOptions(t *testing.T) {
	c := &etcdprobe.Cluster{Members: []etcdprobe.Member{{Name: "a", Endpoint: "a"}, {Name: "b", Endpoint: "b"}}}
	opts := map[string]MemberOptions{"a": {Options: map[string]string{"enable-v2": "true"}, Sources: map[string]string{"enable-v2": "env"}}}
	f := FactsFrom(c, "a", nil, nil, opts)
	if f.Member.Options["enable-v2"] != "true" || f.Member.OptionSources["enable-v2"] != "env" || f.Member.OptionsUnknown != "" {
		t.Errorf("member a = %+v", f.Member)
	}
	if b := f.Cluster.Members[1]; b.OptionsUnknown == "" || b.Options == nil {
		t.Errorf("member b, never read: %+v; want unknown and a non-nil map", b)
	}
}
