package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/etcdplay/etcdplay/internal/shell"
)

// Options describe the cluster Start brings up.
type Options struct {
	// Version is an exact version or a role from versions.txt ("3.5",
	// "3.5-below-floor", "3.5.35"). Required.
	Version string
	// Members is the number of hosts (default 3).
	Members int
	// Dir is the run folder. Empty means a fresh folder under Dir()/run that
	// Close removes; a given folder is created if needed and left in place
	// by Close (its processes are still stopped). It and its parents must be
	// traversable by the bed user, so t.TempDir() (0700) does not work.
	Dir string
	// ExtraFlags are added to every member's etcd flags ("--enable-v2",
	// "--snapshot-count=100").
	ExtraFlags []string
	// Env is added to every member's environment.
	Env map[string]string
	// Timeout bounds Start when ctx has no deadline (default 90 s).
	Timeout time.Duration
	// Logf, when set, receives progress lines (tests pass t.Logf).
	Logf func(format string, args ...any)
}

// Host is one bed "machine": an sshd on its own loopback address and an
// etcd member bound to the same address, run by a service script. Paths are
// absolute; all hosts share one filesystem and one user.
type Host struct {
	Name      string // host1, host2, ... (also the etcd member name)
	Addr      string // 127.0.k.11, ...
	SSHPort   int    // 2222
	ClientURL string // http://127.0.k.11:2379
	PeerURL   string // http://127.0.k.11:2380
	Dir       string // the host's folder (owned by the bed user)
	BinDir    string // the host's /opt/etcd/bin: etcd, etcdctl[, etcdutl]
	DataDir   string // --data-dir
	BackupDir string // where v2 `etcdctl backup` may write
	Service   string // the service script: "<Service> start|stop|status"

	version    string // the version installed in BinDir
	sshdPID    int
	sshdExited chan error
	hostKey    string
}

// Binary is the host's etcd binary (what an inventory calls `binary`).
func (h *Host) Binary() string { return filepath.Join(h.BinDir, "etcd") }

// Etcdctl is the host's etcdctl.
func (h *Host) Etcdctl() string { return filepath.Join(h.BinDir, "etcdctl") }

// Version is the etcd version installed in BinDir (changed by InstallVersion).
func (h *Host) Version() string { return h.version }

func (h *Host) sshdDir(parts ...string) string {
	return filepath.Join(append([]string{h.Dir, "sshd"}, parts...)...)
}

func (h *Host) pidFile() string { return filepath.Join(h.Dir, "etcd.pid") }

// Cluster is a running bed cluster. Close it (StartT does so through
// t.Cleanup).
type Cluster struct {
	Name           string // bed-<version>-<id>: the inventory's cluster name and the etcd cluster token
	Version        string // exact version every host started with
	API            string // "v2" or "v3"
	Slot           int
	Hosts          []*Host
	Dir            string // run folder
	InventoryPath  string // inventory.yaml (docs/architecture.md shape)
	KnownHostsPath string
	IdentityPath   string // the bed's private key (authorized for User on every host)
	SSHConfigPath  string // ssh_config for the system ssh client
	StartTime      time.Duration

	acc        account
	slot       *slot
	ownDir     bool
	logf       func(string, ...any)
	closeOnce  sync.Once
	closeErr   error
	mu         sync.Mutex
	keys       map[string]string // written by WriteKeys: key -> value
	keySeq     int
	writers    []*Writer
	clientOnce sync.Once
	v3         *v3Client
	v3err      error
}

// Endpoints returns every member's client URL.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, h := range c.Hosts {
		out = append(out, h.ClientURL)
	}
	return out
}

// Addrs returns every host's address.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, h := range c.Hosts {
		out = append(out, h.Addr)
	}
	return out
}

// Start brings up a cluster: takes a slot, lays out one folder per host,
// starts one sshd per host (as root) and then every etcd member through
// `ssh host svc.sh start` (so members run as the bed user, as they would
// under an operator), and waits until each member reports healthy on the
// expected version. On failure everything started is torn down.
func Start(ctx context.Context, o Options) (*Cluster, error) {
	began := time.Now()
	if o.Version == "" {
		return nil, errors.New("testbed: Options.Version is required")
	}
	version, err := Resolve(o.Version)
	if err != nil {
		return nil, err
	}
	if err := CheckBinaries(version); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("testbed: must run as root (it starts sshd and switches to the bed user)")
	}
	if _, err := os.Stat(sshdPath); err != nil {
		return nil, fmt.Errorf("testbed: %s missing (openssh-server): run testbed/provision.sh as root", sshdPath)
	}
	acc, err := lookupAccount()
	if err != nil {
		return nil, err
	}
	if o.Members <= 0 {
		o.Members = 3
	}
	if o.Timeout <= 0 {
		o.Timeout = 90 * time.Second
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if err := checkTraversable(acc, BinDir(version)); err != nil {
		return nil, err
	}
	// sshd's privilege separation folder; /run may be a fresh tmpfs.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, err
	}

	c := &Cluster{Version: version, API: apiOf(version), acc: acc, logf: logf, keys: map[string]string{}}
	id := randomID()
	c.Name = "bed-" + version + "-" + id
	if o.Dir == "" {
		if err := os.MkdirAll(filepath.Join(Dir(), "run"), 0o755); err != nil {
			return nil, err
		}
		c.Dir = filepath.Join(Dir(), "run", version+"-"+id)
		c.ownDir = true
	} else {
		c.Dir, err = filepath.Abs(o.Dir)
		if err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "host1")); err == nil {
		// Old data dirs would make the members rejoin an old cluster.
		return nil, fmt.Errorf("testbed: %s already holds a cluster: remove it or pick another folder", c.Dir)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(c.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := checkTraversable(acc, c.Dir); err != nil {
		if c.ownDir {
			os.RemoveAll(c.Dir)
		}
		return nil, err
	}
	c.slot, err = acquireSlot(ctx, o.Members, c.Dir)
	if err != nil {
		if c.ownDir {
			os.RemoveAll(c.Dir)
		}
		return nil, err
	}
	c.Slot = c.slot.k
	if err := c.start(ctx, o); err != nil {
		cerr := c.Close(context.WithoutCancel(ctx))
		return nil, errors.Join(fmt.Errorf("testbed: start %s (slot %d, %s): %w", version, c.Slot, c.Dir, err), cerr)
	}
	c.StartTime = time.Since(began)
	logf("testbed: %s up in %v: slot %d, %s, inventory %s", c.Name, c.StartTime.Round(time.Millisecond), c.Slot,
		strings.Join(c.Endpoints(), ","), c.InventoryPath)
	return c, nil
}

func (c *Cluster) start(ctx context.Context, o Options) error {
	if err := os.WriteFile(filepath.Join(c.Dir, "slot"), []byte(strconv.Itoa(c.Slot)+"\n"), 0o644); err != nil {
		return err
	}
	c.InventoryPath = filepath.Join(c.Dir, "inventory.yaml")
	c.KnownHostsPath = filepath.Join(c.Dir, "known_hosts")
	c.SSHConfigPath = filepath.Join(c.Dir, "ssh_config")
	identity, err := clientKey(c.acc)
	if err != nil {
		return fmt.Errorf("client key: %w", err)
	}
	c.IdentityPath = identity

	for i := 0; i < o.Members; i++ {
		addr := slotAddr(c.Slot, i)
		dir := filepath.Join(c.Dir, fmt.Sprintf("host%d", i+1))
		h := &Host{
			Name:      fmt.Sprintf("host%d", i+1),
			Addr:      addr,
			SSHPort:   SSHPort,
			ClientURL: "http://" + addr + ":2379",
			PeerURL:   "http://" + addr + ":2380",
			Dir:       dir,
			BinDir:    filepath.Join(dir, "bin"),
			DataDir:   filepath.Join(dir, "data"),
			BackupDir: filepath.Join(dir, "backup"),
			Service:   filepath.Join(dir, "svc.sh"),
		}
		c.Hosts = append(c.Hosts, h)
	}
	for _, h := range c.Hosts {
		if err := c.layoutHost(h, o); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	if err := parallel(c.Hosts, func(h *Host) error { return c.startSSHD(ctx, h) }); err != nil {
		return err
	}
	if err := c.writeSSHFiles(); err != nil {
		return err
	}
	if err := c.writeInventory(); err != nil {
		return err
	}
	c.logf("testbed: %d sshd up for %s", len(c.Hosts), c.Name)
	if err := parallel(c.Hosts, func(h *Host) error {
		out, err := c.SSH(ctx, c.index(h), shell.Join(h.Service, "start"))
		if err != nil {
			return fmt.Errorf("%s: %s: %s", h.Name, firstLine(out, err), logExcerpt(filepath.Join(h.Dir, "etcd.log")))
		}
		return nil
	}); err != nil {
		return err
	}
	return c.WaitHealthy(ctx)
}

// layoutHost makes hostN/{bin,backup,svc.sh,etcd.flags,etcd.env}, all owned
// by the bed user, so the members and anything a test runs over SSH can
// write there as an operator's etcd user would.
func (c *Cluster) layoutHost(h *Host, o Options) error {
	for _, d := range []string{h.Dir, h.BinDir, h.BackupDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := installBinaries(h, c.Version); err != nil {
		return err
	}
	files := map[string]string{
		h.Service:                          svcScript,
		filepath.Join(h.Dir, "etcd.flags"): c.memberFlags(h, o.ExtraFlags),
		filepath.Join(h.Dir, "etcd.env"):   envFile(o.Env),
	}
	for p, body := range files {
		mode := os.FileMode(0o644)
		if p == h.Service {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			return err
		}
	}
	for _, p := range []string{h.Dir, h.BinDir, h.BackupDir, h.Service,
		filepath.Join(h.Dir, "etcd.flags"), filepath.Join(h.Dir, "etcd.env")} {
		if err := os.Chown(p, c.acc.uid, c.acc.gid); err != nil {
			return err
		}
	}
	return nil
}

// InstallVersion puts version's binaries into host h's bin folder (each
// file replaced atomically; etcdutl removed when the version has none), as
// a stand-in for a machine that drifted to another version. It does not
// restart the member.
func InstallVersion(h *Host, version string) error {
	v, err := Resolve(version)
	if err != nil {
		return err
	}
	if err := CheckBinaries(v); err != nil {
		return err
	}
	return installBinaries(h, v)
}

// installBinaries hard-links the cached binaries into the host (they are
// 20-90 MB each; a link is instant and the cache files stay root-owned, so
// the bed user can only replace them by rename, never write through them),
// and falls back to a copy across filesystems.
func installBinaries(h *Host, version string) error {
	names := binaryNames(version)
	for _, name := range names {
		src := filepath.Join(BinDir(version), name)
		dst := filepath.Join(h.BinDir, name)
		tmp := dst + ".bed-tmp"
		os.Remove(tmp)
		if err := os.Link(src, tmp); err != nil {
			if err := copyFile(src, tmp, 0o755); err != nil {
				return fmt.Errorf("install %s %s: %w", version, name, err)
			}
		}
		if err := os.Rename(tmp, dst); err != nil {
			return err
		}
	}
	if !hasEtcdutl(version) {
		if err := os.Remove(filepath.Join(h.BinDir, "etcdutl")); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	h.version = version
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

func (c *Cluster) index(h *Host) int {
	for i, o := range c.Hosts {
		if o == h {
			return i
		}
	}
	return -1
}

// Host returns host i (0-based).
func (c *Cluster) Host(i int) *Host { return c.Hosts[i] }

// MemberPID returns the pid in host i's etcd.pid, 0 when stopped.
func (c *Cluster) MemberPID(i int) int {
	p := readPIDFile(c.Hosts[i].pidFile())
	if !alive(p) {
		return 0
	}
	return p
}

// StopMember stops member i through its service script over SSH (SIGTERM,
// then wait): a graceful stop, as an operator's `systemctl stop`.
func (c *Cluster) StopMember(ctx context.Context, i int) error {
	_, err := c.SSH(ctx, i, shell.Join(c.Hosts[i].Service, "stop"))
	return err
}

// StartMember starts member i through its service script over SSH and
// waits until it reports healthy on the version installed on that host.
func (c *Cluster) StartMember(ctx context.Context, i int) error {
	if _, err := c.SSH(ctx, i, shell.Join(c.Hosts[i].Service, "start")); err != nil {
		return err
	}
	return c.waitMember(ctx, c.Hosts[i])
}

// KillMember SIGKILLs member i (no graceful leadership transfer) and waits
// until it is gone.
func (c *Cluster) KillMember(ctx context.Context, i int) error {
	p := c.MemberPID(i)
	if p == 0 {
		return fmt.Errorf("%s: etcd not running", c.Hosts[i].Name)
	}
	return terminate(ctx, []int{p}, 0)
}

// WaitHealthy waits until every member answers /health true on the version
// installed on its host. A member whose process died fails the wait at once,
// with the end of its log.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, 60*time.Second)
	defer cancel()
	return parallel(c.Hosts, func(h *Host) error { return c.waitMember(ctx, h) })
}

func (c *Cluster) waitMember(ctx context.Context, h *Host) error {
	ctx, cancel := withDefaultTimeout(ctx, 60*time.Second)
	defer cancel()
	var last error
	for {
		pid := readPIDFile(h.pidFile())
		if !alive(pid) {
			return fmt.Errorf("%s: etcd (pid %d) is not running: %s", h.Name, pid, logExcerpt(filepath.Join(h.Dir, "etcd.log")))
		}
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		last = memberReady(pctx, h)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not healthy: %v (%w): %s", h.Name, last, ctx.Err(), logExcerpt(filepath.Join(h.Dir, "etcd.log")))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func memberReady(ctx context.Context, h *Host) error {
	ok, err := Health(ctx, h.ClientURL)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("/health is false")
	}
	v, err := ServerVersion(ctx, h.ClientURL)
	if err != nil {
		return err
	}
	if v.Server != h.version {
		return fmt.Errorf("/version says %s, want %s", v.Server, h.version)
	}
	return nil
}

// Close tears the cluster down: stops writers and clients, SIGTERMs every
// etcd and sshd the cluster started (by pid, plus anything still running
// from its folder and sshd's session children), SIGKILLs what is left
// after a short grace, then checks that no process of the cluster lives and no port
// on its addresses listens, removes the run folder (kept when
// ETCDPLAY_BED_KEEP=1, or when Options.Dir was given) and frees the slot.
// It is safe to call more than once.
func (c *Cluster) Close(ctx context.Context) error {
	c.closeOnce.Do(func() { c.closeErr = c.close(ctx) })
	return c.closeErr
}

func (c *Cluster) close(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, 60*time.Second)
	defer cancel()
	began := time.Now()
	c.mu.Lock()
	writers := c.writers
	c.writers = nil
	c.mu.Unlock()
	for _, w := range writers {
		w.Stop()
	}
	if c.v3 != nil {
		c.v3.Close()
	}
	var errs []error
	var pids []int
	for _, h := range c.Hosts {
		pids = append(pids, readPIDFile(h.pidFile()))
		if h.sshdPID > 0 {
			pids = append(pids, h.sshdPID)
			pids = append(pids, descendants(h.sshdPID)...)
		}
	}
	if c.Dir != "" {
		for _, p := range procsUnder(c.Dir) {
			pids = append(pids, p)
			pids = append(pids, descendants(p)...)
		}
	}
	// Only pids that still point into our folder (or are sshd's session
	// children) are ours; a stale pid file must not kill a stranger.
	var mine []int
	for _, p := range uniq(pids) {
		if alive(p) {
			mine = append(mine, p)
		}
	}
	if err := terminate(ctx, mine, teardownGrace); err != nil {
		errs = append(errs, err)
	}
	for _, h := range c.Hosts {
		if h.sshdExited != nil {
			select {
			case <-h.sshdExited:
			case <-time.After(2 * time.Second):
			}
		}
	}
	if c.Dir != "" {
		if left := procsUnder(c.Dir); len(left) > 0 {
			errs = append(errs, fmt.Errorf("processes still running from %s: %v", c.Dir, left))
		}
	}
	if err := c.waitPortsFree(ctx); err != nil {
		errs = append(errs, err)
	}
	if c.Dir != "" {
		keep := os.Getenv("ETCDPLAY_BED_KEEP") == "1"
		switch {
		case keep:
			_ = os.WriteFile(filepath.Join(c.Dir, "keep"), nil, 0o644)
			c.logf("testbed: kept %s (ETCDPLAY_BED_KEEP=1)", c.Dir)
		case c.ownDir:
			if err := os.RemoveAll(c.Dir); err != nil {
				errs = append(errs, err)
			}
		default:
			_ = os.Remove(filepath.Join(c.Dir, "slot"))
		}
	}
	c.slot.release()
	c.logf("testbed: %s torn down in %v", c.Name, time.Since(began).Round(time.Millisecond))
	if len(errs) > 0 {
		return fmt.Errorf("testbed: teardown of %s: %w", c.Name, errors.Join(errs...))
	}
	return nil
}

// waitPortsFree waits (briefly: the processes are already gone) until
// nothing listens on the cluster's addresses.
func (c *Cluster) waitPortsFree(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ls, err := Listening(c.Addrs())
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("still listening after teardown: %s", strings.Join(ls, " "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// teardownGrace is how long Close lets members stop on SIGTERM before
// SIGKILL. A follower of 3.5+ stops in about 1 s, but a leader whose peers
// are stopping at the same moment waits for a leadership transfer that
// cannot happen (7 s, measured), and a follower needs about 1 s; the data is thrown away, so teardown does
// not wait for it. StopMember is the graceful stop.
const teardownGrace = 1500 * time.Millisecond

// parallel runs f for every host at once and joins the errors.
func parallel(hosts []*Host, f func(*Host) error) error {
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(h)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func randomID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
