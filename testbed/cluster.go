package testbed

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
	// Name is the cluster's name (the inventory's cluster and the etcd
	// cluster token); default bed-<version>-<id>.
	Name string
	// SSHServer, when set, serves every host's SSH endpoint in place of
	// OpenSSH's sshd (see SSHServerFunc): the cluster then needs neither
	// root, nor sshd, nor the bed user.
	SSHServer SSHServerFunc
	// Production shapes the cluster like a hardened site (doc.go, "A
	// production-shaped cluster"): TLS with client certificates on client
	// and peer URLs, etcd started as EtcdUser from a --config-file by a
	// root-owned service script, a root-owned binary folder, SSH as
	// LoginUser through a bastion, sudo limited to SudoRules, ports 23790,
	// 23800 and 2022. It needs a 3.4+ version and root (no SSHServer).
	Production bool
	// SudoRules are the sudoers lines a Production cluster installs for
	// LoginUser (e.g. what `etcdplay sudoers -i INVENTORY` prints for it);
	// nil means the cluster's DefaultSudoRules. They cannot name the
	// cluster's paths before it exists, so a test that derives them from
	// the inventory starts with the defaults and calls SetSudoRules.
	SudoRules []string
	// Auth turns etcd's v3 authentication on once the cluster is up: user
	// root (root role) with a random password in a 0600 file
	// (Cluster.Auth). Every v3 client of the bed logs in with it. v3 only.
	Auth bool
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
	// ConfigFile is etcd's --config-file (Production; "" otherwise: flags
	// in etcd.flags).
	ConfigFile string
	// StageDir is the login user's staging folder on this host
	// (Production: the inventory's per-member ssh.stage_dir). All hosts
	// share one home, so each gets its own folder in the run folder.
	StageDir string

	version    string       // the version installed in BinDir
	stopSSH    func() error // the built-in server's stop (Options.SSHServer)
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
	// Production is Options.Production. Such a cluster also has TLS (its
	// client files), Bastion (the jump host every SSH goes through) and
	// SudoersPath (the sudo rules Close removes).
	Production  bool
	TLS         *TLSFiles
	Bastion     *Host
	SudoersPath string
	// Auth is the etcd login when Options.Auth turned authentication on.
	Auth *AuthInfo

	acc        account // who SSH logs in as (and, not Production, runs etcd)
	svc        account // Production: who runs etcd
	tlsConfig  *tls.Config
	httpOnce   sync.Once
	httpc      *http.Client
	builtin    SSHServerFunc // Options.SSHServer: no sshd, commands over x/crypto/ssh
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
	var acc, svc account
	if o.Auth && apiOf(version) != "v3" {
		return nil, fmt.Errorf("testbed: Options.Auth is etcd's v3 authentication; %s speaks %s", version, apiOf(version))
	}
	if o.Production {
		if o.SSHServer != nil {
			return nil, errors.New("testbed: a Production cluster runs real sshd and sudo: it cannot take Options.SSHServer")
		}
		if apiOf(version) != "v3" {
			return nil, fmt.Errorf("testbed: a Production cluster needs etcd 3.4 or later (TLS from a config file); %s is %s", version, apiOf(version))
		}
		if _, err := exec.LookPath("visudo"); err != nil {
			return nil, errors.New("testbed: visudo missing (package sudo): run testbed/provision.sh as root")
		}
	}
	if o.SSHServer != nil {
		if acc, err = currentAccount(); err != nil {
			return nil, err
		}
	} else {
		if os.Geteuid() != 0 {
			return nil, errors.New("testbed: must run as root (it starts sshd and switches to the bed user)")
		}
		if _, err := os.Stat(sshdPath); err != nil {
			return nil, fmt.Errorf("testbed: %s missing (openssh-server): run testbed/provision.sh as root", sshdPath)
		}
		if o.Production {
			acc, svc, err = lookupProductionAccounts()
		} else {
			acc, err = lookupAccount(User)
		}
		if err != nil {
			return nil, err
		}
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
	if o.SSHServer == nil {
		// sshd's privilege separation folder; /run may be a fresh tmpfs.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return nil, err
		}
	}

	c := &Cluster{Version: version, API: apiOf(version), acc: acc, svc: svc, Production: o.Production,
		builtin: o.SSHServer, logf: logf, keys: map[string]string{}}
	id := randomID()
	c.Name = "bed-" + version + "-" + id
	if o.Name != "" {
		c.Name = o.Name
	}
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
	identity, err := c.clientKey()
	if err != nil {
		return fmt.Errorf("client key: %w", err)
	}
	c.IdentityPath = identity

	scheme, sshPort, clientPort, peerPort := "http", SSHPort, 2379, 2380
	if c.Production {
		scheme, sshPort, clientPort, peerPort = "https", ProductionSSHPort, ProductionClientPort, ProductionPeerPort
	}
	for i := 0; i < o.Members; i++ {
		addr := slotAddr(c.Slot, i)
		dir := filepath.Join(c.Dir, fmt.Sprintf("host%d", i+1))
		h := &Host{
			Name:      fmt.Sprintf("host%d", i+1),
			Addr:      addr,
			SSHPort:   sshPort,
			ClientURL: fmt.Sprintf("%s://%s:%d", scheme, addr, clientPort),
			PeerURL:   fmt.Sprintf("%s://%s:%d", scheme, addr, peerPort),
			Dir:       dir,
			BinDir:    filepath.Join(dir, "bin"),
			DataDir:   filepath.Join(dir, "data"),
			BackupDir: filepath.Join(dir, "backup"),
			Service:   filepath.Join(dir, "svc.sh"),
		}
		if c.Production {
			h.ConfigFile = filepath.Join(dir, "etcd.yaml")
			h.StageDir = filepath.Join(dir, "stage")
		}
		c.Hosts = append(c.Hosts, h)
	}
	if c.Production {
		ca, err := c.writeClusterTLS()
		if err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		for _, h := range c.Hosts {
			if err := c.layoutProductionHost(h, o, ca); err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
		}
		c.Bastion = &Host{Name: "bastion", Addr: bastionAddr(c.Slot), SSHPort: sshPort, Dir: filepath.Join(c.Dir, "bastion")}
	} else {
		for _, h := range c.Hosts {
			if err := c.layoutHost(h, o); err != nil {
				return fmt.Errorf("%s: %w", h.Name, err)
			}
		}
	}
	if err := parallel(c.sshHosts(), func(h *Host) error { return c.startSSHD(ctx, h) }); err != nil {
		return err
	}
	if err := c.writeSSHFiles(); err != nil {
		return err
	}
	if c.Production {
		if err := c.writeSudoers(ctx, o.SudoRules); err != nil {
			return err
		}
	}
	if err := c.writeInventory(); err != nil {
		return err
	}
	c.logf("testbed: %d sshd up for %s", len(c.sshHosts()), c.Name)
	if err := parallel(c.Hosts, func(h *Host) error {
		var out string
		var err error
		if c.Production {
			out, err = c.runService(ctx, h, "start")
		} else {
			out, err = c.SSH(ctx, c.index(h), shell.Join(h.Service, "start"))
		}
		if err != nil {
			return fmt.Errorf("%s: %s: %s", h.Name, firstLine(out, err), logExcerpt(filepath.Join(h.Dir, "etcd.log")))
		}
		return nil
	}); err != nil {
		return err
	}
	if err := c.WaitHealthy(ctx); err != nil {
		return err
	}
	if o.Auth {
		if err := c.enableAuth(ctx); err != nil {
			return err
		}
		// Now the inventory can name the login.
		if err := c.writeInventory(); err != nil {
			return err
		}
	}
	return c.WaitSettled(ctx)
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

func (c *Cluster) index(h *Host) int {
	for i, o := range c.Hosts {
		if o == h {
			return i
		}
	}
	return -1
}

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
