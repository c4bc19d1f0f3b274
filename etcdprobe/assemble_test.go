package etcdprobe

import "testing"

// assemble is pure: these cases pin the rules that real clusters rarely
// show on demand (a member the inventory lacks, a stale leader, 2.0).
func TestAssemble(t *testing.T) {
	eps := []Endpoint{{"a", "http://127.0.0.1:1"}, {"b", "http://127.0.0.1:2"}, {"c", "http://127.0.0.1:3"}}
	list := []listedMember{
		{ID: 1, Name: "infra-a", ClientURLs: []string{"http://127.0.0.1:1/"}},
		{ID: 2, Name: "infra-b", ClientURLs: []string{"HTTP://127.0.0.1:2"}},
		{ID: 3, Name: "", ClientURLs: nil}, // not started yet: no name, no URLs
		{ID: 4, Name: "d", ClientURLs: []string{"http://127.0.0.1:4"}},
	}
	up := func(id ID, leader bool, term uint64, cluster string) Member {
		return Member{ID: id, Reachable: true, Healthy: true, IsLeader: leader, LeaderID: 1, RaftTerm: term, ClusterVersion: cluster, Server: "3.5.35", DBSize: int64(id) * 100}
	}
	probes := []memberProbe{
		{m: up(1, true, 5, "3.5.0"), clusterID: 9, list: list},
		{m: up(2, true, 4, "3.4.0"), list: list}, // stale leader: lower term
		{m: Member{Error: "c (http://127.0.0.1:3): GET /version: refused"}},
	}
	c := assemble(APIv3, eps, probes)
	if c.Leader != "a" || c.LeaderID != 1 || c.ID != 9 {
		t.Errorf("leader %q (%s), cluster id %s", c.Leader, c.LeaderID, c.ID)
	}
	if c.Version != "3.5.0" {
		t.Errorf("version %q, want the leader's 3.5.0", c.Version)
	}
	if c.Members[1].IsLeader {
		t.Errorf("stale leader b still marked leader")
	}
	names := []string{}
	for _, m := range c.Members {
		names = append(names, m.Name)
	}
	// The unstarted member 3 cannot be matched to the down endpoint c (no
	// URL, no name): it is listed on its own, as is d.
	if got := len(c.Members); got != 5 {
		t.Fatalf("members %v, want a, b, c, the unstarted one and the uninventoried d", names)
	}
	if c.Members[0].Name != "a" || c.Members[1].Name != "b" || c.Members[2].Name != "c" || c.Members[3].ID != 3 || c.Members[4].Name != "d" {
		t.Errorf("names %v: inventory names for inventory members, etcd's for the others", names)
	}
	if c.Members[0].EtcdName != "infra-a" || c.Members[1].EtcdName != "infra-b" || c.MemberByName("infra-a") != nil {
		t.Errorf("etcd names %q %q; lookup by etcd name of an inventory member must fail", c.Members[0].EtcdName, c.Members[1].EtcdName)
	}
	if c.Members[4].Error == "" || c.Members[4].ClientURL != "http://127.0.0.1:4" || c.Members[3].Error == "" {
		t.Errorf("unprobed members: %+v", c.Members[3:])
	}
	if c.Healthy {
		t.Errorf("healthy with one member down")
	}
	if c.DBSize != 200 {
		t.Errorf("dbSize %d, want the largest, 200", c.DBSize)
	}
}

// TestAssembleCrossedNames: an inventory whose names cross etcd's (its
// "a" is etcd's "b" and the other way round) must look members up by the
// machine that answers at the inventory's client URL, never by etcd's
// name, or a gate would inspect the machine it is about to stop.
func TestAssembleCrossedNames(t *testing.T) {
	eps := []Endpoint{{"a", "http://x:1"}, {"b", "http://x:2"}}
	list := []listedMember{{ID: 1, Name: "b", ClientURLs: []string{"http://x:1"}}, {ID: 2, Name: "a", ClientURLs: []string{"http://x:2"}}}
	probes := []memberProbe{
		{m: Member{ID: 1, Reachable: true, Healthy: true, IsLeader: true, LeaderID: 1}, list: list},
		{m: Member{ID: 2, Reachable: false, Error: "down"}, list: nil},
	}
	c := assemble(APIv3, eps, probes)
	if m := c.MemberByName("a"); m == nil || m.ID != 1 || !m.Reachable || m.EtcdName != "b" {
		t.Errorf("a = %+v, want the machine at x:1 (etcd's b, up)", m)
	}
	if m := c.MemberByName("b"); m == nil || m.ID != 2 || m.Reachable {
		t.Errorf("b = %+v, want the machine at x:2 (etcd's a, down)", m)
	}
	if c.Leader != "a" {
		t.Errorf("leader %q, want the inventory name a", c.Leader)
	}
}

func TestAssembleV20ClusterVersion(t *testing.T) {
	eps := []Endpoint{{"a", "http://x:1"}, {"b", "http://x:2"}}
	m := func(server string) memberProbe {
		return memberProbe{m: Member{Reachable: true, Healthy: true, Server: server, LeaderID: 7}}
	}
	if c := assemble(APIv2, eps, []memberProbe{m("2.0.8"), m("2.0.8")}); c.Version != "2.0.0" || !c.Healthy {
		t.Errorf("all 2.0: version %q healthy %v, want 2.0.0 true", c.Version, c.Healthy)
	}
	// 2.1 in a 2.0-led cluster says not_decided (parsed as ""): unknown.
	if c := assemble(APIv2, eps, []memberProbe{m("2.0.8"), m("2.1.1")}); c.Version != "" {
		t.Errorf("mixed 2.0/2.1: version %q, want unknown", c.Version)
	}
}

func TestAssembleAlarms(t *testing.T) {
	eps := []Endpoint{{"a", "http://x:1"}, {"b", "http://x:2"}}
	list := []listedMember{{ID: 1, Name: "a", ClientURLs: []string{"http://x:1"}}, {ID: 2, Name: "b", ClientURLs: []string{"http://x:2"}}}
	alarms := []Alarm{{MemberID: 2, Type: "NOSPACE"}}
	p := func(id ID) memberProbe {
		return memberProbe{m: Member{ID: id, Reachable: true, LeaderID: 1, IsLeader: id == 1}, list: list, alarms: alarms}
	}
	c := assemble(APIv3, eps, []memberProbe{p(1), p(2)})
	if len(c.Alarms) != 1 || c.Alarms[0] != (Alarm{Member: "b", MemberID: 2, Type: "NOSPACE"}) {
		t.Errorf("alarms %+v, want one NOSPACE on b", c.Alarms)
	}
	if c.Healthy {
		t.Errorf("healthy with an alarm")
	}
}
