package target

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdplay/etcdplay/target/lock"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// Locker is the cluster's one-run lock the inventory's API calls for: on
// v3 a lease in the cluster, taken through an etcd client over every
// member's client URL with the same TLS and credentials as the prober; on
// v2 a folder on every member host, taken over the same pooled SSH
// connections as the actions. The same Locker is returned on every call;
// Close closes its client.
func (t *Target) Locker() lock.Locker {
	t.lockOnce.Do(func() { t.locker = t.newLocker() })
	return t.locker
}

// HostLocker is the lock taken on every member host (the v2 lock, whatever
// the API): a restore takes it, because the cluster that would hold a v3
// lease may be down and is about to be replaced (docs/restore.md).
func (t *Target) HostLocker() lock.Locker { return t.hostLocker() }

func (t *Target) newLocker() lock.Locker {
	if t.inv.API == "v2" {
		return t.hostLocker()
	}
	return lock.NewV3Locker(t.inv.Cluster, 0, t.lockClient)
}

func (t *Target) hostLocker() *lock.V2Locker {
	var targets []lock.Target
	for _, m := range t.inv.Members {
		cfg := t.members[m.Name]
		// Only a backup_dir the operator wrote puts the lock folder
		// there; otherwise it goes in lock.DefaultV2Dir.
		dir := ""
		if m.BackupDir != "" || t.inv.BackupDir != "" {
			dir = cfg.BackupDir
		}
		targets = append(targets, lock.Target{Name: m.Name, Dir: dir, Runner: hostRunner{t: t, member: m.Name}})
	}
	return lock.NewV2Locker(t.inv.Cluster, targets)
}

// lockClient opens an etcd client for the v3 lock on every member's
// client URL but avoid's ("": every member), with the prober's TLS config
// and credentials. It dials lazily: a dead cluster shows up as the lock's
// timeout, not here.
func (t *Target) lockClient(avoid string) (*clientv3.Client, error) {
	var eps []string
	for _, m := range t.inv.Members {
		if m.Name != avoid {
			eps = append(eps, m.Client)
		}
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("etcd client for the lock of %s: no member but %s to reach the cluster through", t.inv.Cluster, avoid)
	}
	cfg := clientv3.Config{
		Endpoints: eps, TLS: t.tls, Username: t.opts.Username, Password: t.opts.Password,
		DialTimeout: 5 * time.Second, DialKeepAliveTime: 10 * time.Second, DialKeepAliveTimeout: 5 * time.Second,
		Logger: zap.NewNop(),
	}
	cfg.Endpoints = votersOnly(cfg)
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd client for the lock of %s: %w", t.inv.Cluster, err)
	}
	return cli, nil
}

// votersOnly returns cfg's endpoints without learners: a learner answers
// the lock's lease and transaction calls with "rpc not supported for
// learner", and a client balanced onto one fails the lock. Each endpoint is
// asked for its own status, which says whether it is a learner: the member
// list cannot say it reliably, because a learner that has not yet published
// itself is listed without client URLs. An endpoint that does not answer is
// kept (the lock's own errors then say what happened), and so is the whole
// list when every endpoint would be dropped.
func votersOnly(cfg clientv3.Config) []string {
	learner := make([]bool, len(cfg.Endpoints))
	var wg sync.WaitGroup
	for i, ep := range cfg.Endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			one := cfg
			one.Endpoints = []string{ep}
			cli, err := clientv3.New(one)
			if err != nil {
				return
			}
			defer cli.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			if st, err := cli.Status(ctx, ep); err == nil {
				learner[i] = st.IsLearner
			}
		}()
	}
	wg.Wait()
	var keep []string
	for i, ep := range cfg.Endpoints {
		if !learner[i] {
			keep = append(keep, ep)
		}
	}
	if len(keep) == 0 {
		return cfg.Endpoints
	}
	return keep
}

// hostRunner runs the v2 lock's commands on a member's host.
type hostRunner struct {
	t      *Target
	member string
}

func (h hostRunner) Run(ctx context.Context, argv []string) ([]byte, []byte, int, error) {
	host, err := h.t.Host(ctx, h.member)
	if err != nil {
		return nil, nil, 0, err
	}
	res, err := host.Run(ctx, ssh.Command{Argv: argv})
	return res.Stdout, res.Stderr, res.ExitStatus, err
}
