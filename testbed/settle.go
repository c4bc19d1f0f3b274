package testbed

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/etcdplay/etcdplay/schema"
)

// A fresh cluster is healthy before it is settled: for a moment it reports
// cluster version 3.0.0 (2.1+: "not_decided"), and on 3.6+ a follower's
// storage version is unset. A test that reads either at once flakes under
// load, so Start waits for WaitSettled, and a test that restarts members
// can call it again.

// WaitSettled waits until every member answers /version with the version
// installed on its host, the cluster version X.Y.0 of the oldest of them
// (2.0 reports none), and on 3.6+ members a storage version equal to it.
// Without a deadline in ctx it waits at most 60 s, then says which member
// reported what.
func (c *Cluster) WaitSettled(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, 60*time.Second)
	defer cancel()
	want := settledClusterVersion(c.Hosts)
	return parallel(c.Hosts, func(h *Host) error {
		var last string
		for {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			v, err := serverVersion(pctx, c.http(), h.ClientURL)
			pcancel()
			if err == nil {
				last = settled(h.version, want, v)
				if last == "" {
					return nil
				}
			} else {
				last = err.Error()
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: not settled: %s (%w): %s", h.Name, last, ctx.Err(), logExcerpt(filepath.Join(h.Dir, "etcd.log")))
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// settledClusterVersion is the cluster version a cluster of these hosts
// settles on: X.Y.0 of the oldest member, or "" when a member runs 2.0
// (whose /version has no cluster version).
func settledClusterVersion(hosts []*Host) string {
	var oldest schema.Version
	for _, h := range hosts {
		v, err := schema.ParseVersion(h.version)
		if err != nil || v.MinorLine() == (schema.Minor{Major: 2, Minor: 0}) {
			return ""
		}
		if oldest.IsZero() || v.Less(oldest) {
			oldest = v
		}
	}
	return fmt.Sprintf("%d.%d.0", oldest.Major, oldest.Minor)
}

// settled says what is not settled yet in one member's /version, or "".
func settled(installed, cluster string, v VersionInfo) string {
	if v.Server != installed {
		return fmt.Sprintf("server %s, want %s", v.Server, installed)
	}
	if cluster == "" {
		return ""
	}
	if v.Cluster != cluster {
		return fmt.Sprintf("cluster version %q, want %s", v.Cluster, cluster)
	}
	if iv, _ := schema.ParseVersion(installed); !iv.Less(schema.Version{Major: 3, Minor: 6}) && v.Storage != cluster {
		return fmt.Sprintf("storage version %q, want %s", v.Storage, cluster)
	}
	return ""
}
