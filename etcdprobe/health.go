package etcdprobe

import "cmp"

// This file owns the words for "why is this member (or the cluster) not
// healthy": the runner's safety gates, the health and wait actions and
// `etcdplay status` all say it the same way, from the same probe.

// Unhealthy says why m is not healthy, or "" when it is:
// "unreachable at <client URL> (<error>)" when it did not answer, else
// "unhealthy (<why the health check failed>)".
func (m *Member) Unhealthy() string {
	switch {
	case !m.Reachable:
		at := ""
		if m.ClientURL != "" {
			at = " at " + m.ClientURL
		}
		return "unreachable" + at + " (" + cmp.Or(m.Error, "no answer") + ")"
	case !m.Healthy:
		return "unhealthy (" + cmp.Or(m.HealthError, m.Error, "health check failed") + ")"
	}
	return ""
}

// DisplayName is the inventory's name for m, else etcd's, else its ID:
// the name an operator finds in their inventory.
func (m *Member) DisplayName() string { return cmp.Or(m.Endpoint, m.Name, m.ID.String()) }

// Problems lists every reason c is not healthy, each readable alone: every
// unhealthy member with why, no leader, each raised alarm. It is empty
// exactly when c.Healthy holds.
func (c *Cluster) Problems() []string {
	var out []string
	for i := range c.Members {
		if why := c.Members[i].Unhealthy(); why != "" {
			out = append(out, c.Members[i].DisplayName()+" "+why)
		}
	}
	if c.Leader == "" && c.LeaderID == 0 {
		out = append(out, "no leader")
	}
	for _, a := range c.Alarms {
		out = append(out, "alarm "+a.Type+" on "+cmp.Or(a.Member, a.MemberID.String()))
	}
	if len(out) == 0 && !c.Healthy {
		out = append(out, "the probe reports the cluster unhealthy")
	}
	return out
}
