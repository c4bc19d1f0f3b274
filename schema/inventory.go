package schema

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Inventory describes one real cluster: how to reach each member over SSH
// and etcd's client API, how its service is started and stopped, and where
// each release's binary comes from. The host settings (Overrides) written
// at the top apply to every member; a member may override them, because
// hosts differ in real fleets. Resolve merges the two.
type Inventory struct {
	File      string              `yaml:"-" json:"file"`
	Cluster   string              `yaml:"cluster" json:"cluster" jsonschema:"required" doc:"names the state folder and the lock"`
	API       string              `yaml:"api" json:"api" jsonschema:"enum=v3|v2" doc:"etcd API the cluster speaks: v3 (default) or v2"`
	TLS       *TLS                `yaml:"tls" json:"tls,omitempty" doc:"client TLS for etcd's client URLs"`
	Auth      *Auth               `yaml:"auth" json:"auth,omitempty" doc:"etcd v3 user for every client call (status, locks, snapshots, move-leader) when auth is enabled"`
	Overrides `yaml:",inline"`    // every member's, unless the member says otherwise
	Releases  map[string]*Release `yaml:"releases" json:"releases,omitempty" jsonschema:"keypattern=version" doc:"exact version -> where its binary comes from"`
	Vars      map[string]any      `yaml:"vars" json:"vars,omitempty" doc:"merged over the playbook's vars"`
	Members   []*Member           `yaml:"members" json:"members" jsonschema:"required,minItems=1" doc:"the cluster's members"`

	Pos Pos `yaml:"-" json:"-"`
}

// TLS is the client TLS configuration; paths are on the operator's machine.
type TLS struct {
	CA         string `yaml:"ca" json:"ca,omitempty"`
	Cert       string `yaml:"cert" json:"cert,omitempty"`
	Key        string `yaml:"key" json:"key,omitempty"`
	ServerName string `yaml:"server_name" json:"server_name,omitempty"`
}

// Auth is the etcd v3 user etcdplay logs in as. The password is never in
// the inventory: it is read, when a run opens the cluster, from a file
// (password_file, relative to the inventory) or an environment variable
// (password_env), and never printed, journaled or reported. Snapshots and
// move-leader need the root role.
type Auth struct {
	User         string `yaml:"user" json:"user"`
	PasswordFile string `yaml:"password_file" json:"password_file,omitempty" doc:"file holding the password (first line); relative to the inventory"`
	PasswordEnv  string `yaml:"password_env" json:"password_env,omitempty" doc:"environment variable holding the password"`
}

// Password reads the password from where the inventory says; baseDir
// resolves a relative password_file.
func (a *Auth) Password(baseDir string) (string, error) {
	switch {
	case a.PasswordEnv != "":
		v, ok := os.LookupEnv(a.PasswordEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("auth: environment variable %s (auth.password_env) is not set", a.PasswordEnv)
		}
		return v, nil
	case a.PasswordFile != "":
		p := a.PasswordFile
		if strings.HasPrefix(p, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				p = filepath.Join(home, p[2:])
			}
		} else if !filepath.IsAbs(p) {
			p = filepath.Join(baseDir, p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("auth: read auth.password_file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimRight(line, "\r"), nil
	}
	return "", errors.New("auth: set auth.password_file or auth.password_env")
}

// SSH settings. Every field is optional; ~/.ssh/config supplies the rest.
type SSH struct {
	User       string `yaml:"user" json:"user,omitempty"`
	Port       int    `yaml:"port" json:"port,omitempty" jsonschema:"minimum=1,maximum=65535"`
	Identity   string `yaml:"identity" json:"identity,omitempty"`
	KnownHosts string `yaml:"known_hosts" json:"known_hosts,omitempty"`
	Jump       string `yaml:"jump" json:"jump,omitempty" doc:"ProxyJump syntax: [user@]host[:port][,...]"`
	Config     string `yaml:"config" json:"config,omitempty" doc:"ssh_config file to read"`
	Sudo       *bool  `yaml:"sudo" json:"sudo,omitempty" doc:"run the service commands and the binary install as exact commands under sudo -n (see etcdplay sudoers)"`
	StageDir   string `yaml:"stage_dir" json:"stage_dir,omitempty" doc:"folder the login user owns where releases are uploaded and checked before any member stops (default ~/.cache/etcdplay/stage/<cluster>)"`
}

// Service holds the shell commands that control etcd on a member.
type Service struct {
	Start  string `yaml:"start" json:"start,omitempty"`
	Stop   string `yaml:"stop" json:"stop,omitempty"`
	Status string `yaml:"status" json:"status,omitempty"`

	// pos is where each command was written, for validation messages.
	pos map[string]Pos
}

// ShellSyntax is what a service command may not contain when ssh.sudo is
// on: it is then split into words and run as one program under sudo -n,
// never through a shell (a rule allowing a shell allows everything), so
// anything a shell would interpret would silently mean something else.
const ShellSyntax = "|&;<>()$`\\\"'*?[]#~{}\n\t"

// CheckServiceCommand is the rule for service commands under sudo: plain
// words, the first the program.
func CheckServiceCommand(cmd string) error {
	if strings.TrimSpace(cmd) == "" {
		return fmt.Errorf("empty command")
	}
	if i := strings.IndexAny(cmd, ShellSyntax); i >= 0 {
		return fmt.Errorf("%q has shell syntax (%q), but with ssh.sudo it runs as one program with its arguments under sudo -n, never through a shell", cmd, cmd[i:i+1])
	}
	return nil
}

// Release says where one exact version's binary comes from: a path already
// on the member (remote) or a local file to upload (upload).
type Release struct {
	Version Version `yaml:"-" json:"version"`
	Remote  string  `yaml:"remote" json:"remote,omitempty"`
	Upload  string  `yaml:"upload" json:"upload,omitempty"`
	SHA256  string  `yaml:"sha256" json:"sha256,omitempty" jsonschema:"pattern=^[0-9a-fA-F]{64}$" doc:"etcd's sha256; checked locally before an upload and on the host in preflight and before the install"`
	Etcdctl string  `yaml:"etcdctl" json:"etcdctl,omitempty"`
	// EtcdctlSHA256 pins the release's etcdctl as SHA256 pins etcd.
	EtcdctlSHA256 string `yaml:"etcdctl_sha256" json:"etcdctl_sha256,omitempty" jsonschema:"pattern=^[0-9a-fA-F]{64}$"`
	Etcdutl       string `yaml:"etcdutl" json:"etcdutl,omitempty" doc:"the release's etcdutl: a path on the members with remote, a local file with upload (staged and checked in preflight like etcd); check-v2store runs it"`
	// EtcdutlSHA256 pins the release's etcdutl as SHA256 pins etcd.
	EtcdutlSHA256 string `yaml:"etcdutl_sha256" json:"etcdutl_sha256,omitempty" jsonschema:"pattern=^[0-9a-fA-F]{64}$"`
	Pos           Pos    `yaml:"-" json:"-"`
}

// Overrides are the settings that describe a member's host. Written at the
// top of an inventory they apply to every member; written on a member they
// override the top's for that member, field by field (inside ssh and
// service too). Resolve is the one place that merges them.
type Overrides struct {
	SSH       *SSH     `yaml:"ssh" json:"ssh,omitempty" doc:"SSH settings; ~/.ssh/config fills the rest"`
	Service   *Service `yaml:"service" json:"service,omitempty" doc:"shell commands that start and stop etcd"`
	Binary    string   `yaml:"binary" json:"binary,omitempty" doc:"path of the running etcd binary"`
	Etcdctl   string   `yaml:"etcdctl" json:"etcdctl,omitempty" doc:"path of etcdctl on the members (v2 backups)"`
	DataDir   string   `yaml:"data_dir" json:"data_dir,omitempty" doc:"etcd's data directory (v2 backups)"`
	BackupDir string   `yaml:"backup_dir" json:"backup_dir,omitempty" doc:"remote folder for v2 etcdctl backup"`
}

// Member is one etcd member: its name, where to reach it, and any host
// setting that differs from the inventory's top.
type Member struct {
	Name      string `yaml:"name" json:"name" jsonschema:"required"`
	Host      string `yaml:"host" json:"host" jsonschema:"required" doc:"SSH host or ssh_config Host alias"`
	Client    string `yaml:"client" json:"client" jsonschema:"required" doc:"etcd client URL, http:// or https://"`
	Overrides `yaml:",inline"`
	Pos       Pos `yaml:"-" json:"-"`
}

// DefaultBackupDir is where v2 backups go on a member when the inventory
// does not say.
const DefaultBackupDir = "/var/tmp/etcdplay-backup"

var sha256Re = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

func (d *Decoder) decodeInventory(n *yaml.Node) *Inventory {
	inv := &Inventory{File: d.file, API: "v3", Pos: d.Pos(n)}
	set := map[string]bool{}
	if !d.Fields(n, "inventory", inv, func(key string, v *yaml.Node) {
		set[key] = true
		switch key {
		case "cluster":
			inv.Cluster = d.Name(v, "cluster")
		case "api":
			inv.API = d.Enum(v, "api", "v3", "v2")
		case "tls":
			inv.TLS = d.decodeTLS(v)
		case "auth":
			inv.Auth = d.decodeAuth(v)
		case "releases":
			inv.Releases = d.decodeReleases(v)
		case "vars":
			inv.Vars = d.Vars(v)
		case "members":
			inv.Members = d.decodeMemberList(v)
		default:
			d.decodeOverride(&inv.Overrides, key, v, "")
		}
	}) {
		return nil
	}
	d.Require(n, "inventory", set, "cluster", "members")
	d.checkInventory(inv)
	return inv
}

// decodeAuth refuses an inline password: inventories are reviewed,
// committed and printed; a password in one leaks.
func (d *Decoder) decodeAuth(n *yaml.Node) *Auth {
	a := &Auth{}
	inline := false
	if rn := resolve(n); rn != nil && rn.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(rn.Content); i += 2 {
			if k := resolve(rn.Content[i]); k.Value == "password" {
				// Error snippets quote the source line: mask the value first.
				if v := resolve(rn.Content[i+1]); v != nil && v.Value != "" && v.Line >= 1 && v.Line <= len(d.lines) {
					d.lines[v.Line-1] = strings.ReplaceAll(d.lines[v.Line-1], v.Value, "<redacted>")
				}
				d.Hintf(k, "move it to a file only you can read and name that file in auth.password_file, or to an environment variable named in auth.password_env",
					"auth: an inline password is not allowed in the inventory")
				rn.Content = append(rn.Content[:i:i], rn.Content[i+2:]...)
				inline = true
				break
			}
		}
	}
	set := map[string]bool{}
	if !d.Fields(n, "auth", a, func(key string, v *yaml.Node) {
		set[key] = true
		switch key {
		case "user":
			a.User = d.NonEmpty(v, "auth.user")
		case "password_file":
			a.PasswordFile = d.NonEmpty(v, "auth.password_file")
		case "password_env":
			a.PasswordEnv = d.NonEmpty(v, "auth.password_env")
		}
	}) {
		return a
	}
	d.Require(n, "auth", set, "user")
	if set["password_file"] == set["password_env"] && !inline {
		d.Hintf(n, "e.g. auth: {user: etcdplay, password_file: etcd-password}", "auth needs exactly one of password_file and password_env")
	}
	return a
}

// decodeOverride decodes one host setting, at the top (prefix "") or on a
// member (prefix "members[i].").
func (d *Decoder) decodeOverride(o *Overrides, key string, v *yaml.Node, prefix string) {
	switch key {
	case "ssh":
		o.SSH = d.decodeSSH(v, prefix+"ssh")
	case "service":
		o.Service = d.decodeService(v, prefix+"service")
	case "binary":
		o.Binary = d.RemotePath(v, prefix+"binary")
	case "etcdctl":
		o.Etcdctl = d.RemotePath(v, prefix+"etcdctl")
	case "data_dir":
		o.DataDir = d.RemotePath(v, prefix+"data_dir")
	case "backup_dir":
		o.BackupDir = d.RemotePath(v, prefix+"backup_dir")
	}
}

func (d *Decoder) decodeTLS(n *yaml.Node) *TLS {
	t := &TLS{}
	d.Fields(n, "tls", t, func(key string, v *yaml.Node) {
		switch key {
		case "ca":
			t.CA = d.String(v, "tls.ca")
		case "cert":
			t.Cert = d.String(v, "tls.cert")
		case "key":
			t.Key = d.String(v, "tls.key")
		case "server_name":
			t.ServerName = d.String(v, "tls.server_name")
		}
	})
	if (t.Cert == "") != (t.Key == "") {
		d.Errorf(n, "tls: cert and key go together; set both or neither")
	}
	return t
}

func (d *Decoder) decodeSSH(n *yaml.Node, what string) *SSH {
	s := &SSH{}
	d.Fields(n, what, s, func(key string, v *yaml.Node) {
		switch key {
		case "user":
			s.User = d.String(v, what+".user")
		case "port":
			s.Port = d.Int(v, what+".port")
			if s.Port < 0 || s.Port > 65535 || (s.Port == 0 && !d.lastWasAt(v)) {
				d.Errorf(v, "%s.port must be between 1 and 65535, got %d", what, s.Port)
			}
		case "identity":
			s.Identity = d.String(v, what+".identity")
		case "known_hosts":
			s.KnownHosts = d.String(v, what+".known_hosts")
		case "jump":
			s.Jump = d.String(v, what+".jump")
		case "config":
			s.Config = d.String(v, what+".config")
		case "sudo":
			b := d.Bool(v, what+".sudo")
			s.Sudo = &b
		case "stage_dir":
			s.StageDir = d.String(v, what+".stage_dir")
			if s.StageDir != "" && !strings.HasPrefix(s.StageDir, "/") && s.StageDir != "~" && !strings.HasPrefix(s.StageDir, "~/") {
				d.Hintf(v, "e.g. stage_dir: ~/.cache/etcdplay/stage or /var/tmp/etcdplay-stage", "%s.stage_dir must be absolute or start with ~/, got %q", what, s.StageDir)
			}
		}
	})
	return s
}

func (d *Decoder) decodeService(n *yaml.Node, what string) *Service {
	s := &Service{pos: map[string]Pos{}}
	d.Fields(n, what, s, func(key string, v *yaml.Node) {
		s.pos[key] = d.Pos(resolve(v))
		switch key {
		case "start":
			s.Start = d.String(v, what+".start")
		case "stop":
			s.Stop = d.String(v, what+".stop")
		case "status":
			s.Status = d.String(v, what+".status")
		}
	})
	return s
}

func (d *Decoder) decodeReleases(n *yaml.Node) map[string]*Release {
	n = resolve(n)
	if IsNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, "releases must be a mapping of version to release, got %s", kindName(n))
		return nil
	}
	out := map[string]*Release{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		ver := d.Version(k, "releases key")
		if ver.IsZero() {
			continue
		}
		if _, dup := out[ver.String()]; dup {
			d.Errorf(k, "releases: %s is listed twice", ver)
			continue
		}
		r := &Release{Version: ver, Pos: d.Pos(k)}
		what := fmt.Sprintf("releases[%s]", ver)
		if !d.Fields(v, what, r, func(key string, v *yaml.Node) {
			switch key {
			case "remote":
				r.Remote = d.RemotePath(v, what+".remote")
			case "upload":
				r.Upload = d.String(v, what+".upload")
			case "sha256":
				r.SHA256 = d.String(v, what+".sha256")
				if !sha256Re.MatchString(r.SHA256) && !d.lastWasAt(v) {
					d.Errorf(v, "%s.sha256 must be 64 hex digits, got %d characters", what, len(r.SHA256))
				}
			case "etcdctl_sha256":
				r.EtcdctlSHA256 = d.String(v, what+".etcdctl_sha256")
				if !sha256Re.MatchString(r.EtcdctlSHA256) && !d.lastWasAt(v) {
					d.Errorf(v, "%s.etcdctl_sha256 must be 64 hex digits, got %d characters", what, len(r.EtcdctlSHA256))
				}
			case "etcdctl":
				r.Etcdctl = d.String(v, what+".etcdctl")
			case "etcdutl":
				r.Etcdutl = d.String(v, what+".etcdutl")
			case "etcdutl_sha256":
				r.EtcdutlSHA256 = d.String(v, what+".etcdutl_sha256")
				if !sha256Re.MatchString(r.EtcdutlSHA256) && !d.lastWasAt(v) {
					d.Errorf(v, "%s.etcdutl_sha256 must be 64 hex digits, got %d characters", what, len(r.EtcdutlSHA256))
				}
			}
		}) {
			continue
		}
		switch {
		case r.Remote != "" && r.Upload != "":
			d.Hintf(k, "remote is a path already on the members; upload is a local file etcdplay copies; pick one",
				"%s has both remote and upload", what)
		case r.Remote == "" && r.Upload == "":
			d.Hintf(k, "add remote: /path/on/member/etcd or upload: ./local/etcd", "%s says neither remote nor upload", what)
		}
		out[ver.String()] = r
	}
	return out
}

func (d *Decoder) decodeMemberList(n *yaml.Node) []*Member {
	n = resolve(n)
	if IsNull(n) || n.Kind != yaml.SequenceNode {
		d.Errorf(n, "members must be a list of members, got %s", kindName(n))
		return nil
	}
	if len(n.Content) == 0 {
		d.Errorf(n, "members is empty: list at least one member")
	}
	var out []*Member
	for i, c := range n.Content {
		if m := d.decodeMember(c, i); m != nil {
			out = append(out, m)
		}
	}
	return out
}

func (d *Decoder) decodeMember(n *yaml.Node, i int) *Member {
	m := &Member{Pos: d.Pos(resolve(n))}
	what := fmt.Sprintf("members[%d]", i)
	set := map[string]bool{}
	if resolve(n) == nil || resolve(n).Kind != yaml.MappingNode {
		d.Errorf(n, "%s must be a mapping with name, host and client, got %s", what, kindName(n))
		return nil
	}
	d.Fields(n, what, m, func(key string, v *yaml.Node) {
		set[key] = true
		switch key {
		case "name":
			m.Name = d.Name(v, what+".name")
		case "host":
			m.Host = d.NonEmpty(v, what+".host")
		case "client":
			m.Client = d.String(v, what+".client")
			if !d.lastWasAt(v) {
				if err := checkClientURL(m.Client); err != nil {
					d.Hintf(v, "write it like https://10.0.0.10:2379", "%s.client: %v", what, err)
				}
			}
		default:
			d.decodeOverride(&m.Overrides, key, v, what+".")
		}
	})
	d.Require(resolve(n), what, set, "name", "host", "client")
	return m
}

func checkClientURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q must start with http:// or https://", s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if u.User != nil {
		return fmt.Errorf("%q holds a user and password, which would be shown wherever the URL is (use tls client certificates instead)", u.Redacted())
	}
	p := u.Port()
	if p == "" {
		return fmt.Errorf("%q has no port (etcd's client port is usually 2379)", s)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %s is not between 1 and 65535", s, p)
	}
	return nil
}

// checkInventory checks what spans fields: unique names, and that every
// member ends up with a binary and start/stop commands.
func (d *Decoder) checkInventory(inv *Inventory) {
	d.checkLimits(inv)
	names := map[string]bool{}
	seen := map[Pos]bool{}
	for _, m := range inv.Members {
		if m.Name != "" {
			if names[m.Name] {
				d.ErrorAt(m.Pos, "member names are how etcd and the journal tell members apart", "member name %q is used twice", m.Name)
			}
			names[m.Name] = true
		}
		c := inv.Resolve(m)
		if c.Binary == "" {
			d.ErrorAt(m.Pos, "set binary: /usr/local/bin/etcd at the top or on each member", "member %q has no binary path", m.Name)
		}
		if c.Service.Start == "" || c.Service.Stop == "" {
			d.ErrorAt(m.Pos, "set service: {start: ..., stop: ...} at the top or on each member", "member %q has no service start and stop commands", m.Name)
		}
		if c.SSH.Sudo != nil && *c.SSH.Sudo {
			d.checkSudoService(inv, m, c, seen)
		}
	}
}

// checkSudoService refuses, under ssh.sudo, service commands that would
// need a shell; each is reported once, where it was written.
func (d *Decoder) checkSudoService(inv *Inventory, m *Member, c MemberConfig, seen map[Pos]bool) {
	for _, k := range []struct{ key, cmd string }{{"start", c.Service.Start}, {"stop", c.Service.Stop}, {"status", c.Service.Status}} {
		if k.cmd == "" {
			continue
		}
		err := CheckServiceCommand(k.cmd)
		if err == nil {
			continue
		}
		pos := m.Pos
		if m.Service != nil && m.Service.pos[k.key] != (Pos{}) {
			pos = m.Service.pos[k.key]
		} else if inv.Service != nil && inv.Service.pos[k.key] != (Pos{}) {
			pos = inv.Service.pos[k.key]
			if seen[pos] {
				continue
			}
			seen[pos] = true
		}
		d.ErrorAt(pos, "write the logic into a root-owned script and name it (service: {stop: /usr/local/sbin/etcd-stop}), or use systemctl stop etcd", "service.%s: %v", k.key, err)
	}
}
