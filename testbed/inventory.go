package testbed

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/etcdplay/etcdplay/internal/shell"
)

// The inventory the bed writes for the cluster it started, in the shape of
// docs/architecture.md "Inventory". The bed's hosts share one filesystem, so
// service, binary, etcdctl, data_dir and backup_dir are set per member. A
// production-shaped cluster's inventory adds tls (its CA and client
// certificate), ssh.jump (the bastion) and ssh.sudo: true, and per member
// ssh.stage_dir (the hosts share the login user's home, so the default
// staging folder would be one for all); its service commands are the
// root-owned scripts, which etcdplay runs through sudo.

type invSSH struct {
	User       string `yaml:"user"`
	Port       int    `yaml:"port"`
	Identity   string `yaml:"identity"`
	KnownHosts string `yaml:"known_hosts"`
	Jump       string `yaml:"jump,omitempty"`
	Sudo       bool   `yaml:"sudo,omitempty"`
}

type invAuth struct {
	User         string `yaml:"user"`
	PasswordFile string `yaml:"password_file"`
}

type invTLS struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

type invService struct {
	Start  string `yaml:"start"`
	Stop   string `yaml:"stop"`
	Status string `yaml:"status"`
}

type invRelease struct {
	Remote  string `yaml:"remote"`
	Etcdctl string `yaml:"etcdctl,omitempty"`
	Etcdutl string `yaml:"etcdutl,omitempty"`
}

type invMemberSSH struct {
	StageDir string `yaml:"stage_dir,omitempty"`
}

type invMember struct {
	Name      string        `yaml:"name"`
	Host      string        `yaml:"host"`
	Client    string        `yaml:"client"`
	SSH       *invMemberSSH `yaml:"ssh,omitempty"`
	Service   invService    `yaml:"service"`
	Binary    string        `yaml:"binary"`
	Etcdctl   string        `yaml:"etcdctl"`
	DataDir   string        `yaml:"data_dir"`
	BackupDir string        `yaml:"backup_dir"`
}

type inventory struct {
	Cluster  string                `yaml:"cluster"`
	API      string                `yaml:"api"`
	TLS      *invTLS               `yaml:"tls,omitempty"`
	Auth     *invAuth              `yaml:"auth,omitempty"`
	SSH      invSSH                `yaml:"ssh"`
	Releases map[string]invRelease `yaml:"releases"`
	Members  []invMember           `yaml:"members"`
}

// Releases returns, for every provisioned version in versions.txt, where
// its binaries are in the cache (readable by the bed user), in the
// inventory's `releases` shape. Versions whose etcd binary is missing are
// left out.
func releases() map[string]invRelease {
	out := map[string]invRelease{}
	for _, v := range Versions() {
		dir := BinDir(v.Version)
		r := invRelease{Remote: filepath.Join(dir, "etcd")}
		if _, err := os.Stat(r.Remote); err != nil {
			continue
		}
		if p := filepath.Join(dir, "etcdctl"); exists(p) {
			r.Etcdctl = p
		}
		if p := filepath.Join(dir, "etcdutl"); exists(p) {
			r.Etcdutl = p
		}
		out[v.Version] = r
	}
	return out
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// Inventory returns the inventory YAML for the cluster (also written to
// InventoryPath).
func (c *Cluster) Inventory() ([]byte, error) {
	inv := inventory{
		Cluster: c.Name,
		API:     c.API,
		SSH: invSSH{
			User:       c.User(),
			Port:       c.Hosts[0].SSHPort,
			Identity:   c.IdentityPath,
			KnownHosts: c.KnownHostsPath,
		},
		Releases: releases(),
	}
	if c.Production {
		// Every privileged command (the service script, the binary swap)
		// goes through sudo; SSH goes through the bastion.
		inv.TLS = &invTLS{CA: c.TLS.CA, Cert: c.TLS.Cert, Key: c.TLS.Key}
		inv.SSH.Jump = c.jumpSpec()
		inv.SSH.Sudo = true
	}
	if c.Auth != nil {
		inv.Auth = &invAuth{User: c.Auth.User, PasswordFile: c.Auth.PasswordFile}
	}
	for _, h := range c.Hosts {
		var mssh *invMemberSSH
		if h.StageDir != "" {
			mssh = &invMemberSSH{StageDir: h.StageDir}
		}
		inv.Members = append(inv.Members, invMember{
			Name:   h.Name,
			Host:   h.Addr,
			Client: h.ClientURL,
			SSH:    mssh,
			Service: invService{
				Start:  shell.Join(h.Service, "start"),
				Stop:   shell.Join(h.Service, "stop"),
				Status: shell.Join(h.Service, "status"),
			},
			Binary:    h.Binary(),
			Etcdctl:   h.Etcdctl(),
			DataDir:   h.DataDir,
			BackupDir: h.BackupDir,
		})
	}
	var buf bytes.Buffer
	buf.WriteString("# written by the etcdplay test bed (testbed.Start); etcd " + c.Version + ", slot " + strconv.Itoa(c.Slot) + "\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(inv); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (c *Cluster) writeInventory() error {
	b, err := c.Inventory()
	if err != nil {
		return err
	}
	return os.WriteFile(c.InventoryPath, b, 0o644)
}
