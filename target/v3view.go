package target

import (
	"context"
	"strconv"
	"strings"

	"github.com/etcdplay/etcdplay/etcdprobe"
)

// A cluster upgraded from 2.3 to 3.0 keeps its v2 inventory (the run
// started on 2.3, and 3.0 still serves the v2 API), yet the 3.0 guide
// finishes on the v3 API (`ETCDCTL_API=3 etcdctl endpoint health`) and
// every 3.x guide warns that 3.2+ panics on restart when the cluster
// migrated from v2 holds no v3 data (etcd issue 9480). addV3View asks
// the v3 API for both, as cluster.v3Healthy and cluster.v3Keys.

// addV3View fills c.V3Revision, c.V3Healthy and c.V3Keys from a v3 probe of the
// same members, once the cluster version is 3.x: before that a 3.0
// member serves no v3 API (etcd enables it with the cluster version) and
// a 2.x member none at all, so a 2.x cluster never pays for the probe.
// A v3 probe that fails leaves both zero: no v3 API answered.
func (t *Target) addV3View(ctx context.Context, c *etcdprobe.Cluster) {
	if t.v3 == nil || major(c.Version) < 3 {
		return
	}
	v3, err := t.v3.Cluster(ctx)
	if err != nil || v3 == nil {
		return
	}
	c.V3Revision, c.V3Healthy, c.V3Keys = v3.Revision, v3.Healthy, v3.V3Keys
}

// major is the major version of "3.0.0"; 0 when unknown.
func major(version string) int {
	s, _, _ := strings.Cut(version, ".")
	n, _ := strconv.Atoi(s)
	return n
}

// V3View is the same cluster as a v2 inventory's target, spoken to over
// the v3 API: what a route's hops from 3.0 on use once the cluster has
// crossed the major (runner.HopInventory; docs/architecture.md
// "Routes"). It shares this target's members, client URLs, TLS,
// credentials and SSH connections, probes with the v3 prober, and its
// Locker is the v3 lease lock. nil on a v3 inventory. Close this target,
// never the view.
func (t *Target) V3View() *Target {
	if t.v3 == nil {
		return nil
	}
	inv := *t.inv
	inv.API = etcdprobe.APIv3
	return &Target{Prober: t.v3, inv: &inv, dir: t.dir, opts: t.opts, pool: t.pool, members: t.members, tls: t.tls}
}
