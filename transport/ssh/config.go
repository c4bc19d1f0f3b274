package ssh

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	sshconfig "github.com/kevinburke/ssh_config"
)

// Config says how to reach one host. Zero fields are filled from the
// ssh_config file, then from OpenSSH's defaults; a non-zero field always
// wins over the ssh_config file (the inventory overrides ~/.ssh/config).
type Config struct {
	// Host is the host as the inventory writes it: an address or a Host
	// alias from the ssh_config file. Required.
	Host string
	// HostName overrides the address to connect to (ssh_config HostName).
	HostName string
	Port     int
	User     string
	// IdentityFiles are tried after the agent's keys, before the config's
	// IdentityFile lines and the default ~/.ssh/id_{ed25519,ecdsa,rsa}.
	IdentityFiles []string
	// KnownHostsFiles are read in addition to ~/.ssh/known_hosts,
	// /etc/ssh/ssh_known_hosts and the config's UserKnownHostsFile. The first
	// of them is where AcceptNewHostKeys writes.
	KnownHostsFiles []string
	// AcceptNewHostKeys records the key of a host that no known_hosts file
	// mentions (like StrictHostKeyChecking=accept-new). A changed key is
	// still refused.
	AcceptNewHostKeys bool
	// ProxyJump is a chain of jump hosts, "[user@]host[:port][,...]", or
	// "none" to ignore the config's ProxyJump.
	ProxyJump string
	// SSHConfigFile is the ssh_config file to read; "" means ~/.ssh/config
	// when it exists, "none" means no file.
	SSHConfigFile string
	// Sudo runs Privileged commands as "sudo -n ARGV..." (never a shell);
	// every other command runs as the login user.
	Sudo bool

	// ConnectTimeout bounds TCP connect plus handshake, per hop (default 15s).
	ConnectTimeout time.Duration
	// KeepAliveInterval is how often keepalive@openssh.com is sent (default
	// 15s; negative disables); KeepAliveTimeout is how long a reply may take
	// before the connection is declared dead and closed (default 15s).
	KeepAliveInterval time.Duration
	KeepAliveTimeout  time.Duration

	// AgentSocket overrides $SSH_AUTH_SOCK; "none" disables the agent.
	AgentSocket string
	// HomeDir overrides the home folder used for ~ and the default files
	// (tests use it so they never read or write the real ~/.ssh).
	HomeDir string
}

// target is a Config resolved against its ssh_config file: every value the
// dialer needs, concrete.
type target struct {
	alias          string
	hostName       string
	port           int
	user           string
	identityFiles  []string // explicit ones first; defaults flagged below
	explicitIDs    int      // how many of identityFiles were asked for explicitly
	identitiesOnly bool     // ssh_config IdentitiesOnly: agent keys only if they match a file
	knownHosts     []string // all files to read, in order
	appendTo       []string // where accept-new writes: the first that works
	acceptNew      bool
	jumps          []*target
	sudo           bool
	connectTimeout time.Duration
	keepAlive      time.Duration
	keepAliveWait  time.Duration
	agentSocket    string
	home           string
}

// addr is host:port as dialled and as looked up in known_hosts.
func (t *target) addr() string { return net.JoinHostPort(t.hostName, strconv.Itoa(t.port)) }

// String names the host in errors: the alias and, when it differs, where it
// points.
func (t *target) String() string {
	a := t.user + "@" + t.addr()
	if t.alias != "" && t.alias != t.hostName {
		return t.alias + " (" + a + ")"
	}
	return a
}

func (c Config) resolve() (*target, error) {
	if c.Host == "" {
		return nil, errors.New("ssh: no host given")
	}
	home := c.HomeDir
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("ssh: cannot find the home folder for ~/.ssh: %w", err)
		}
		home = h
	}
	cfgFile := c.SSHConfigFile
	if cfgFile == "" {
		cfgFile = filepath.Join(home, ".ssh", "config")
		if _, err := os.Stat(cfgFile); err != nil {
			cfgFile = "none"
		}
	}
	var sc *sshconfig.Config
	if cfgFile != "none" {
		var err error
		if sc, err = loadSSHConfig(expandTilde(cfgFile, home)); err != nil {
			return nil, err
		}
	}
	t, err := resolveHost(c, sc, home, c.Host)
	if err != nil {
		return nil, err
	}
	jump := c.ProxyJump
	if jump == "" {
		jump = get(sc, c.Host, "ProxyJump")
	}
	if jump != "" && jump != "none" {
		for _, hop := range strings.Split(jump, ",") {
			hc, err := parseJump(strings.TrimSpace(hop))
			if err != nil {
				return nil, fmt.Errorf("ssh: %s: ProxyJump %q: %w", c.Host, jump, err)
			}
			// A hop shares the credentials and known_hosts of the target
			// but takes its user, port and HostName from the jump spec and
			// its own ssh_config entry, like OpenSSH's -J.
			hc.IdentityFiles = c.IdentityFiles
			hc.KnownHostsFiles = c.KnownHostsFiles
			hc.AcceptNewHostKeys = c.AcceptNewHostKeys
			hc.ConnectTimeout, hc.KeepAliveInterval, hc.KeepAliveTimeout = c.ConnectTimeout, c.KeepAliveInterval, c.KeepAliveTimeout
			hc.AgentSocket = c.AgentSocket
			ht, err := resolveHost(hc, sc, home, hc.Host)
			if err != nil {
				return nil, err
			}
			t.jumps = append(t.jumps, ht)
		}
	}
	return t, nil
}

func resolveHost(c Config, sc *sshconfig.Config, home, alias string) (*target, error) {
	t := &target{alias: alias, home: home, acceptNew: c.AcceptNewHostKeys, sudo: c.Sudo}
	t.hostName = first(c.HostName, get(sc, alias, "HostName"), alias)
	if strings.Contains(t.hostName, "%") { // "HostName %h.example.net"
		t.hostName = strings.NewReplacer("%%", "%", "%h", alias).Replace(t.hostName)
	}
	t.port = c.Port
	if t.port == 0 {
		if p := get(sc, alias, "Port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return nil, fmt.Errorf("ssh: %s: ssh_config Port %q is not a port", alias, p)
			}
			t.port = n
		} else {
			t.port = 22
		}
	}
	t.user = first(c.User, get(sc, alias, "User"))
	if t.user == "" {
		u, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("ssh: %s: no user given and the local user is unknown: %w", alias, err)
		}
		t.user = u.Username
	}
	tok := tokens{home: home, host: t.hostName, port: t.port, ruser: t.user, alias: alias}
	for _, f := range c.IdentityFiles {
		t.identityFiles = append(t.identityFiles, tok.expand(f))
	}
	for _, f := range getAll(sc, alias, "IdentityFile") {
		t.identityFiles = append(t.identityFiles, tok.expand(f))
	}
	t.explicitIDs = len(t.identityFiles)
	t.identitiesOnly = strings.EqualFold(get(sc, alias, "IdentitiesOnly"), "yes")
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		t.identityFiles = append(t.identityFiles, filepath.Join(home, ".ssh", n))
	}
	t.identityFiles = dedup(t.identityFiles)

	var kh []string
	for _, f := range c.KnownHostsFiles {
		kh = append(kh, tok.expand(f))
	}
	for _, v := range getAll(sc, alias, "UserKnownHostsFile") {
		for _, f := range strings.Fields(v) {
			if f != "none" {
				kh = append(kh, tok.expand(f))
			}
		}
	}
	kh = append(kh, filepath.Join(home, ".ssh", "known_hosts"))
	t.appendTo = dedup(kh)
	t.knownHosts = dedup(append(kh, "/etc/ssh/ssh_known_hosts"))

	t.connectTimeout = cmp.Or(c.ConnectTimeout, 15*time.Second)
	t.keepAlive = cmp.Or(c.KeepAliveInterval, 15*time.Second)
	t.keepAliveWait = cmp.Or(c.KeepAliveTimeout, 15*time.Second)
	t.agentSocket = c.AgentSocket
	if t.agentSocket == "" {
		t.agentSocket = os.Getenv("SSH_AUTH_SOCK")
	}
	if t.agentSocket == "none" {
		t.agentSocket = ""
	}
	return t, nil
}

// parseJump reads one ProxyJump hop, "[user@]host[:port]" or "[v6]:port".
func parseJump(s string) (Config, error) {
	var c Config
	if s == "" {
		return c, errors.New("empty hop")
	}
	s = strings.TrimPrefix(s, "ssh://")
	if i := strings.LastIndex(s, "@"); i >= 0 {
		c.User, s = s[:i], s[i+1:]
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.Count(s, ":") == 1 {
		return c, fmt.Errorf("bad hop %q", s)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 {
			return c, fmt.Errorf("bad port in hop %q", s)
		}
		c.Port = n
	}
	c.Host = strings.Trim(host, "[]")
	return c, nil
}

func loadSSHConfig(path string) (*sshconfig.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ssh: read ssh_config: %w", err)
	}
	defer f.Close()
	c, err := sshconfig.Decode(f)
	if err != nil {
		// kevinburke/ssh_config refuses Match criteria other than all and
		// host (Match exec on purpose); OpenSSH would accept the file.
		return nil, fmt.Errorf("ssh: parse ssh_config %s: %w; point ssh.config in the inventory at a file without it, or set it to none", path, err)
	}
	return c, nil
}

func get(sc *sshconfig.Config, alias, key string) string {
	if sc == nil {
		return ""
	}
	v, _ := sc.Get(alias, key)
	return v
}

func getAll(sc *sshconfig.Config, alias, key string) []string {
	if sc == nil {
		return nil
	}
	v, _ := sc.GetAll(alias, key)
	return v
}

// tokens expands the ssh_config tokens that make sense for file names.
type tokens struct {
	home, host, ruser, alias string
	port                     int
}

func (t tokens) expand(s string) string {
	s = expandTilde(s, t.home)
	if !strings.Contains(s, "%") {
		return s
	}
	local := ""
	if u, err := user.Current(); err == nil {
		local = u.Username
	}
	r := strings.NewReplacer("%%", "%", "%d", t.home, "%h", t.host, "%p", strconv.Itoa(t.port),
		"%r", t.ruser, "%u", local, "%n", t.alias)
	return r.Replace(s)
}

func expandTilde(s, home string) string {
	if s == "~" {
		return home
	}
	if strings.HasPrefix(s, "~/") {
		return filepath.Join(home, s[2:])
	}
	return s
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func dedup(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
