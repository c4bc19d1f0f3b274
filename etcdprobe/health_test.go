package etcdprobe

import (
	"reflect"
	"testing"
)

// TestUnhealthyWording: the one place that says why a member or a cluster
// is not healthy; gates, actions and status all print these words.
func TestUnhealthyWording(t *testing.T) {
	members := []struct {
		m    Member
		want string
	}{
		{Member{Reachable: true, Healthy: true}, ""},
		{Member{ClientURL: "https://10.0.0.10:2379", Error: "connection refused"}, "unreachable at https://10.0.0.10:2379 (connection refused)"},
		{Member{}, "unreachable (no answer)"},
		{Member{Reachable: true, HealthError: "etcdserver: no leader"}, "unhealthy (etcdserver: no leader)"},
		{Member{Reachable: true, Error: "status: deadline exceeded"}, "unhealthy (status: deadline exceeded)"},
		{Member{Reachable: true}, "unhealthy (health check failed)"},
	}
	for _, c := range members {
		if got := c.m.Unhealthy(); got != c.want {
			t.Errorf("%+v: Unhealthy() = %q, want %q", c.m, got, c.want)
		}
	}

	ok := Member{Name: "infra0", Endpoint: "infra0", Reachable: true, Healthy: true}
	down := Member{Name: "etcd-1", Endpoint: "infra1", Error: "connection refused"}
	clusters := []struct {
		name string
		c    Cluster
		want []string
	}{
		{"healthy", Cluster{Members: []Member{ok}, Leader: "infra0", LeaderID: 1, Healthy: true}, nil},
		{"a member down, named as the inventory names it", Cluster{Members: []Member{ok, down}, Leader: "infra0", LeaderID: 1},
			[]string{"infra1 unreachable (connection refused)"}},
		{"no leader and an alarm", Cluster{Members: []Member{ok}, Alarms: []Alarm{{Member: "infra0", Type: "NOSPACE"}}},
			[]string{"no leader", "alarm NOSPACE on infra0"}},
		{"unhealthy for no reason the probe names", Cluster{Members: []Member{ok}, Leader: "infra0", LeaderID: 1},
			[]string{"the probe reports the cluster unhealthy"}},
	}
	for _, c := range clusters {
		if got := c.c.Problems(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Problems() = %q, want %q", c.name, got, c.want)
		}
	}
}
