package etcdprobe

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DowngradeInfo is one member's view of a cluster downgrade (etcd 3.6+
// reports it in Status; etcdctl endpoint status shows it as DOWNGRADE
// TARGET VERSION and DOWNGRADE ENABLED).
type DowngradeInfo struct {
	Enabled bool   `json:"enabled"`
	Target  string `json:"target,omitempty"` // "3.5.0"
}

// DowngradeAction is one verb of etcd's Maintenance.Downgrade RPC
// (`etcdctl downgrade validate|enable|cancel`).
type DowngradeAction string

const (
	DowngradeValidate DowngradeAction = "validate"
	DowngradeEnable   DowngradeAction = "enable"
	DowngradeCancel   DowngradeAction = "cancel"
)

// ErrNoDowngrade is wrapped when cancel finds no downgrade in flight
// (etcd's "no inflight downgrade job"); test with errors.Is.
var ErrNoDowngrade = errors.New("no downgrade in flight")

// ErrDowngradeInProgress is wrapped when validate or enable finds a
// downgrade already enabled (etcd's "cluster has a downgrade job in
// progress").
var ErrDowngradeInProgress = errors.New("a downgrade is already in progress")

// Downgrade sends one downgrade request to the cluster, the way etcdctl
// downgrade does: validate and enable take the target minor ("3.5"),
// cancel takes none. It returns the cluster version the answering member
// reports. The request goes to the leader (any member would forward it
// through raft; the leader is the member that decides the cluster
// version), or to the first reachable member when no leader answers. v3
// only: etcd 3.5 added the RPC, 3.6 the etcdctl command.
func (p *Prober) Downgrade(ctx context.Context, action DowngradeAction, target string) (string, error) {
	if p.opts.API == APIv2 {
		return "", fmt.Errorf("downgrade %s: %w: the v2 API has no downgrade", action, ErrNotSupported)
	}
	var a clientv3.DowngradeAction
	switch action {
	case DowngradeValidate:
		a = clientv3.DowngradeValidate
	case DowngradeEnable:
		a = clientv3.DowngradeEnable
	case DowngradeCancel:
		a = clientv3.DowngradeCancel
	default:
		return "", fmt.Errorf("downgrade: unknown action %q (validate, enable or cancel)", action)
	}
	c, err := p.Cluster(ctx)
	if err != nil {
		return "", fmt.Errorf("downgrade %s: %w", action, err)
	}
	to := c.LeaderMember()
	if to == nil || !to.Reachable {
		to = nil
		for i := range c.Members {
			if c.Members[i].Reachable && !c.Members[i].IsLearner {
				to = &c.Members[i]
				break
			}
		}
	}
	if to == nil {
		return "", fmt.Errorf("downgrade %s: no reachable voting member", action)
	}
	ep := Endpoint{Name: to.Name, URL: to.ClientURL}
	cli, err := p.client(ep)
	if err != nil {
		return "", fmt.Errorf("downgrade %s: %w", action, err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, p.opts.RequestTimeout)
	defer cancel()
	resp, err := cli.Downgrade(ctx, a, target)
	if err != nil {
		what := fmt.Sprintf("downgrade %s %s on %s (%s)", action, target, ep.Name, ep.URL)
		if action == DowngradeCancel {
			what = fmt.Sprintf("downgrade cancel on %s (%s)", ep.Name, ep.URL)
		}
		switch {
		case errors.Is(err, rpctypes.ErrNoInflightDowngrade) || strings.Contains(err.Error(), "no inflight downgrade"):
			return "", fmt.Errorf("%s: %w", what, ErrNoDowngrade)
		case errors.Is(err, rpctypes.ErrDowngradeInProcess) || strings.Contains(err.Error(), "downgrade job in progress"):
			return "", fmt.Errorf("%s: %w", what, ErrDowngradeInProgress)
		}
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return resp.Version, nil
}
