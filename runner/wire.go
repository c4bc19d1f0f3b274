package runner

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdplay/etcdplay/schema"
)

// NewLocker returns the lock the inventory's API calls for: on v3 a lease
// in the cluster, through clients on the members' client URLs (the held
// lock owns its client; the returned func closes what is left); on v2 a
// folder on every member host.
func NewLocker(o *Options) (Locker, func(), error) {
	if o.Inventory.API == "v2" {
		return NewV2Locker(o), func() {}, nil
	}
	dial, err := V3Dialer(o.Inventory)
	if err != nil {
		return nil, nil, err
	}
	return &V3Locker{Cluster: o.Inventory.Cluster, Dial: dial}, func() {}, nil
}

// V3Dialer reads the inventory's TLS files once and returns a func that
// builds a clientv3 over every member's client URL but avoid's ("" for
// none). The clients dial lazily: a dead cluster shows up as the lock's
// timeout, not here.
func V3Dialer(inv *schema.Inventory) (func(avoid string) (*clientv3.Client, error), error) {
	var tc *tls.Config
	if inv.TLS != nil {
		t := *inv.TLS
		dir := filepath.Dir(inv.File)
		t.CA, t.Cert, t.Key = localPath(t.CA, dir), localPath(t.Cert, dir), localPath(t.Key, dir)
		var err error
		if tc, err = TLSConfig(&t); err != nil {
			return nil, err
		}
	}
	return func(avoid string) (*clientv3.Client, error) {
		var eps []string
		for _, m := range inv.Members {
			if m.Name != avoid {
				eps = append(eps, m.Client)
			}
		}
		if len(eps) == 0 {
			return nil, fmt.Errorf("etcd client for the lock: no member but %s to reach the cluster through", avoid)
		}
		cfg := clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second, Logger: zap.NewNop(), TLS: tc,
			DialKeepAliveTime: 10 * time.Second, DialKeepAliveTimeout: 5 * time.Second}
		cfg.Endpoints = votersOnly(cfg)
		cli, err := clientv3.New(cfg)
		if err != nil {
			return nil, fmt.Errorf("etcd client for the lock: %w", err)
		}
		return cli, nil
	}, nil
}

// votersOnly returns cfg's endpoints without learners: a learner answers
// the lock's lease and transaction calls with "rpc not supported for
// learner", and a client balanced onto one fails the lock. When the member
// list cannot be read the endpoints are kept as they are (the lock's own
// errors then say what happened).
func votersOnly(cfg clientv3.Config) []string {
	cli, err := clientv3.New(cfg)
	if err != nil {
		return cfg.Endpoints
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := cli.MemberList(ctx)
	if err != nil {
		return cfg.Endpoints
	}
	learner := map[string]bool{}
	for _, m := range list.Members {
		for _, u := range m.ClientURLs {
			learner[strings.TrimRight(u, "/")] = m.IsLearner
		}
	}
	var keep []string
	for _, ep := range cfg.Endpoints {
		if !learner[strings.TrimRight(ep, "/")] {
			keep = append(keep, ep)
		}
	}
	if len(keep) == 0 {
		return cfg.Endpoints
	}
	return keep
}

// localPath reads a path in an inventory as the target package does:
// ~/ is the home folder, a relative path is relative to the inventory.
func localPath(p, dir string) string {
	switch {
	case p == "" || filepath.IsAbs(p):
		return p
	case strings.HasPrefix(p, "~/"):
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
		return p
	}
	return filepath.Join(dir, p)
}

// TLSConfig reads the inventory's client TLS files.
func TLSConfig(t *schema.TLS) (*tls.Config, error) {
	tc := &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca %s: no PEM certificate in it", t.CA)
		}
		tc.RootCAs = pool
	}
	if t.Cert != "" {
		kp, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("tls.cert/tls.key: %w", err)
		}
		tc.Certificates = []tls.Certificate{kp}
	}
	return tc, nil
}
