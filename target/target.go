package target

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/target/lock"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// Options tune how a Target reaches the cluster. The zero value is what an
// operator gets by default: strict host keys, ~/.ssh/config, the probe's
// default timeouts.
type Options struct {
	// AcceptNewHostKeys records the key of a host no known_hosts file
	// mentions (--accept-new-host-keys); a changed key is still refused.
	AcceptNewHostKeys bool
	// SSHConfigFile overrides the inventory's ssh.config ("none": read no
	// ssh_config file).
	SSHConfigFile string
	// HomeDir replaces the operator's home for ~ and SSH's default files
	// (tests use it so they never touch the real ~/.ssh).
	HomeDir string
	// AgentSocket overrides $SSH_AUTH_SOCK ("none" disables the agent).
	AgentSocket string
	// ConnectTimeout bounds one SSH connect and handshake (default 15s).
	ConnectTimeout time.Duration
	// DialTimeout and RequestTimeout bound each etcd connection and member
	// probe (etcdprobe's defaults when zero).
	DialTimeout, RequestTimeout time.Duration
	// Username and Password authenticate the v3 client when auth is on;
	// empty means the inventory's auth section. Never logged.
	Username, Password string
	// V2DataSize measures each 2.x member's data size over SSH in
	// Cluster (see v2size.go). run, resume, rollback and plan set it;
	// status, which promises no SSH, does not.
	V2DataSize bool
}

// Target is one inventory's cluster, ready to probe and to reach over SSH.
// It forwards steps.Cluster to its prober.
type Target struct {
	*etcdprobe.Prober

	inv     *schema.Inventory
	dir     string
	opts    Options
	pool    *ssh.Pool
	members map[string]schema.MemberConfig
	// tls is the inventory's client TLS, read once by Open: the prober and
	// the lock's client use this one config.
	tls *tls.Config
	// v3 probes a v2 inventory's members over the v3 API (nil on v3).
	v3 *etcdprobe.Prober

	lockOnce sync.Once
	locker   lock.Locker
}

var (
	_ steps.Cluster = (*Target)(nil)
	_ steps.Hosts   = (*Target)(nil)
)

// Open builds the prober and the SSH pool for inv. It connects to nothing;
// it fails only on an inventory it cannot use (TLS files that do not load,
// a client URL the prober refuses).
func Open(ctx context.Context, inv *schema.Inventory, opts Options) (*Target, error) {
	if inv == nil || len(inv.Members) == 0 {
		return nil, errors.New("open target: the inventory lists no members")
	}
	t := &Target{inv: inv, dir: inventoryDir(inv), opts: opts, members: map[string]schema.MemberConfig{}}
	eps := make([]etcdprobe.Endpoint, 0, len(inv.Members))
	for _, m := range inv.Members {
		t.members[m.Name] = inv.Resolve(m)
		eps = append(eps, etcdprobe.Endpoint{Name: m.Name, URL: m.Client})
	}
	tc, err := tlsConfig(inv.TLS, t.dir, opts.HomeDir)
	if err != nil {
		return nil, fmt.Errorf("open target %s: %w", inv.Cluster, err)
	}
	t.tls = tc
	if inv.Auth != nil && opts.Username == "" {
		opts.Username = inv.Auth.User
		if opts.Password, err = inv.Auth.Password(t.dir); err != nil {
			return nil, fmt.Errorf("open target %s: %w", inv.Cluster, err)
		}
		t.opts = opts
	}
	p, err := etcdprobe.New(eps, etcdprobe.Options{
		API:            inv.API,
		TLS:            tc,
		DialTimeout:    opts.DialTimeout,
		RequestTimeout: opts.RequestTimeout,
		Username:       opts.Username,
		Password:       opts.Password,
		OwnPrefix:      lock.KeyPrefix,
	})
	if err != nil {
		return nil, fmt.Errorf("open target %s: %w", inv.Cluster, err)
	}
	t.Prober = p
	if inv.API == etcdprobe.APIv2 {
		// The same members over the v3 API, for a v2 inventory whose
		// cluster has reached 3.0 (v3view.go).
		if t.v3, err = etcdprobe.New(eps, etcdprobe.Options{
			API:            etcdprobe.APIv3,
			TLS:            tc,
			DialTimeout:    opts.DialTimeout,
			RequestTimeout: opts.RequestTimeout,
			Username:       opts.Username,
			Password:       opts.Password,
			OwnPrefix:      lock.KeyPrefix,
		}); err != nil {
			return nil, fmt.Errorf("open target %s: %w", inv.Cluster, err)
		}
	}
	t.pool = ssh.NewPool()
	return t, nil
}

// Cluster probes the cluster. On a v2 inventory it adds what the v2 HTTP
// API cannot tell: each member's data size over SSH (Options.V2DataSize,
// v2size.go) and, once the cluster runs 3.x, its v3 store (v3view.go).
func (t *Target) Cluster(ctx context.Context) (*etcdprobe.Cluster, error) {
	c, err := t.Prober.Cluster(ctx)
	if c == nil || c.API != etcdprobe.APIv2 {
		return c, err
	}
	if t.opts.V2DataSize {
		t.measureV2Sizes(ctx, c)
	}
	t.addV3View(ctx, c)
	return c, err
}

// Inventory is the inventory the target was opened from.
func (t *Target) Inventory() *schema.Inventory { return t.inv }

// MemberConfig returns the named member's settings with its overrides
// applied.
func (t *Target) MemberConfig(name string) (schema.MemberConfig, bool) {
	m, ok := t.members[name]
	return m, ok
}

// Host returns the SSH connection to the member's host, dialling it on
// first use; every later call for the same host shares the connection.
func (t *Target) Host(ctx context.Context, member string) (steps.Host, error) {
	cfg, err := t.SSHConfig(member)
	if err != nil {
		return nil, err
	}
	c, err := t.pool.Get(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ssh to %s (%s): %w", member, cfg.Host, err)
	}
	return c, nil
}

// SSHConfig is the transport configuration for the member's host: the
// member's resolved ssh settings with paths made absolute.
func (t *Target) SSHConfig(member string) (ssh.Config, error) {
	m, ok := t.members[member]
	if !ok {
		return ssh.Config{}, fmt.Errorf("ssh to %s: no such member in inventory %s", member, t.inv.Cluster)
	}
	cfg := ssh.Config{
		Host:              m.Host,
		Port:              m.SSH.Port,
		User:              m.SSH.User,
		ProxyJump:         m.SSH.Jump,
		AcceptNewHostKeys: t.opts.AcceptNewHostKeys,
		ConnectTimeout:    t.opts.ConnectTimeout,
		AgentSocket:       t.opts.AgentSocket,
		HomeDir:           t.opts.HomeDir,
		SSHConfigFile:     t.path(m.SSH.Config),
	}
	if t.opts.SSHConfigFile != "" {
		cfg.SSHConfigFile = t.opts.SSHConfigFile
		if cfg.SSHConfigFile != "none" {
			cfg.SSHConfigFile = t.path(cfg.SSHConfigFile)
		}
	}
	if m.SSH.Identity != "" {
		cfg.IdentityFiles = []string{t.path(m.SSH.Identity)}
	}
	if m.SSH.KnownHosts != "" {
		cfg.KnownHostsFiles = []string{t.path(m.SSH.KnownHosts)}
	}
	if m.SSH.Sudo != nil {
		cfg.Sudo = *m.SSH.Sudo
	}
	return cfg, nil
}

// Close closes every SSH connection and the prober's idle connections.
// Release the lock first.
func (t *Target) Close() error {
	err := errors.Join(t.pool.Close(), t.Prober.Close())
	if t.v3 != nil {
		err = errors.Join(err, t.v3.Close())
	}
	return err
}

// path makes an inventory path absolute: ~ is the home folder, a relative
// path is relative to the inventory's folder.
func (t *Target) path(p string) string { return resolvePath(p, t.dir, t.opts.HomeDir) }

func inventoryDir(inv *schema.Inventory) string {
	if inv.File == "" {
		return "."
	}
	if d, err := filepath.Abs(filepath.Dir(inv.File)); err == nil {
		return d
	}
	return filepath.Dir(inv.File)
}
