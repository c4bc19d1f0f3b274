package etcdprobe

import (
	"io"
	"sort"
)

// memberProbe is what probing one endpoint found: the member's own view
// plus the cluster-wide things it reported (member list, alarms, auth).
type memberProbe struct {
	m         Member
	clusterID ID
	list      []listedMember // nil when the member list could not be read
	alarms    []Alarm
	auth      bool  // auth is enabled, as far as this member tells
	v3Keys    int64 // keys outside Options.OwnPrefix, from this member's store
}

// listedMember is one entry of MemberList or /v2/members.
type listedMember struct {
	ID         ID
	Name       string
	ClientURLs []string
	IsLearner  bool
}

// assemble joins per-endpoint probes into one Cluster. It is pure.
//
// Names: an endpoint's member is named by the inventory, always. It is
// matched to the member list by client URL (or, when the member advertises
// another URL, by the ID that answered at the inventory's URL), and the
// list's name is kept as EtcdName. So one mapping, inventory name -> the
// member that answers at that client URL, is what every lookup by name
// uses: an inventory whose names differ from etcd's, or cross them, can
// never make a gate inspect another machine than the one it stops. A member in the list that matches no endpoint is
// appended unprobed with an error, and makes the cluster unhealthy: the
// runner must not reason about a member the inventory does not know.
func assemble(api string, eps []Endpoint, probes []memberProbe) *Cluster {
	c := &Cluster{API: api, Members: []Member{}, Alarms: []Alarm{}}

	// The member list: the leader's if it answered, else the first one.
	var list []listedMember
	for _, pr := range probes {
		if pr.list != nil && (list == nil || pr.m.IsLeader) {
			list = pr.list
		}
	}
	matched := make([]bool, len(list))
	for i, pr := range probes {
		m := pr.m
		m.Name, m.Endpoint, m.ClientURL = eps[i].Name, eps[i].Name, eps[i].URL
		if j := matchListed(list, m); j >= 0 {
			matched[j] = true
			m.EtcdName = list[j].Name
			if m.ID == 0 {
				m.ID = list[j].ID
			}
			m.IsLearner = m.IsLearner || list[j].IsLearner
		}
		c.Members = append(c.Members, m)
		if c.ID == 0 {
			c.ID = pr.clusterID
		}
		c.AuthEnabled = c.AuthEnabled || pr.auth
	}
	for j, lm := range list {
		if matched[j] {
			continue
		}
		m := Member{Name: lm.Name, EtcdName: lm.Name, ID: lm.ID, IsLearner: lm.IsLearner,
			Error: "member " + lm.Name + " (" + lm.ID.String() + ") is in the cluster's member list but not in the inventory: not probed"}
		if lm.Name == "" && len(lm.ClientURLs) == 0 {
			m.Error = "member " + lm.ID.String() + " is in the cluster's member list but has not started (no name, no client URL): not probed"
		}
		if len(lm.ClientURLs) > 0 {
			m.ClientURL = lm.ClientURLs[0]
		}
		c.Members = append(c.Members, m)
	}
	nameOf := func(id ID) string {
		for _, m := range c.Members {
			if m.ID == id && id != 0 {
				return m.Name
			}
		}
		return ""
	}

	// The leader: a reachable member that says it leads (the highest term
	// wins if a stale leader still thinks so), else the one most members
	// name.
	var leader *Member
	for i := range c.Members {
		m := &c.Members[i]
		if m.Reachable && m.IsLeader && (leader == nil || m.RaftTerm > leader.RaftTerm) {
			leader = m
		}
	}
	if leader != nil {
		for i := range c.Members {
			if &c.Members[i] != leader {
				c.Members[i].IsLeader = false
			}
		}
		c.LeaderID = leader.ID
	} else {
		votes := map[ID]int{}
		for _, m := range c.Members {
			if m.Reachable && m.LeaderID != 0 {
				votes[m.LeaderID]++
			}
		}
		for id, n := range votes {
			if n > votes[c.LeaderID] || (n == votes[c.LeaderID] && id < c.LeaderID) {
				c.LeaderID = id
			}
		}
	}
	c.Leader = nameOf(c.LeaderID)

	// Versions: the leader's view of the cluster version, else the most
	// common one.
	if leader != nil && leader.ClusterVersion != "" {
		c.Version = leader.ClusterVersion
	} else {
		c.Version = mostCommon(c.Members, func(m Member) string { return m.ClusterVersion })
	}
	if c.Version == "" && api == APIv2 {
		// 2.0's /version has no cluster version. A cluster whose every
		// reachable member runs 2.0.x has cluster version 2.0.0 (etcd 2.1
		// itself assumes so when it first meets a 2.0 peer).
		all20, any := true, false
		for _, m := range c.Members {
			if m.Reachable {
				any = true
				all20 = all20 && is20(m.Server)
			}
		}
		if any && all20 {
			c.Version = "2.0.0"
		}
	}

	seen := map[Alarm]bool{}
	for _, pr := range probes {
		for _, a := range pr.alarms {
			a.Member = nameOf(a.MemberID)
			if !seen[a] {
				seen[a] = true
				c.Alarms = append(c.Alarms, a)
			}
		}
	}
	sort.Slice(c.Alarms, func(i, j int) bool {
		if c.Alarms[i].Member != c.Alarms[j].Member {
			return c.Alarms[i].Member < c.Alarms[j].Member
		}
		return c.Alarms[i].Type < c.Alarms[j].Type
	})

	c.Healthy = len(c.Members) > 0 && c.LeaderID != 0 && len(c.Alarms) == 0
	for _, m := range c.Members {
		c.Healthy = c.Healthy && m.Healthy
		c.DBSize = max(c.DBSize, m.DBSize)
		c.Revision = max(c.Revision, m.Revision)
	}
	if api == APIv3 {
		c.V3Revision, c.V3Healthy = c.Revision, c.Healthy
		for _, pr := range probes {
			c.V3Keys = max(c.V3Keys, pr.v3Keys)
		}
	}
	return c
}

// matchListed finds m in the list by client URL, then by ID; -1 if absent.
func matchListed(list []listedMember, m Member) int {
	want := normURL(m.ClientURL)
	for j, lm := range list {
		for _, u := range lm.ClientURLs {
			if normURL(u) == want {
				return j
			}
		}
	}
	if m.ID != 0 {
		for j, lm := range list {
			if lm.ID == m.ID {
				return j
			}
		}
	}
	return -1
}

// mostCommon returns the most frequent non-empty value (ties: the smaller).
func mostCommon(ms []Member, f func(Member) string) string {
	n := map[string]int{}
	best := ""
	for _, m := range ms {
		v := f(m)
		if v == "" {
			continue
		}
		n[v]++
		if n[v] > n[best] || (n[v] == n[best] && v < best) {
			best = v
		}
	}
	return best
}

// readLimited reads at most limit bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, limit))
}
