package testbed

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// A production-shaped cluster (Options.Production) is laid out the way a
// hardened site runs etcd, so etcdplay is proven against least privilege,
// not only against a bed user who owns everything:
//
//   - SSH logs in as LoginUser, who owns nothing of etcd's; etcd runs as
//     EtcdUser, who owns the data folder (0700) and the member's TLS key;
//   - the binary folder and the service script are root's (0755);
//   - the service script runs as root through sudo, starts etcd as
//     EtcdUser from its --config-file, and writes the pid file;
//   - sudo grants LoginUser exactly Options.SudoRules (or
//     DefaultSudoRules), never a shell;
//   - TLS with client certificates on client and peer URLs;
//   - non-default ports, and every member reached through a bastion.

// The production shape's accounts and ports.
const (
	LoginUser            = "etcdlogin" // the SSH login user (provision.sh creates it)
	EtcdUser             = "etcdsvc"   // etcd's own system user (provision.sh creates it)
	ProductionSSHPort    = 2022        // every member's sshd and the bastion's
	ProductionClientPort = 23790
	ProductionPeerPort   = 23800
)

// bastionAddr is slot k's jump host: below the members' 127.0.k.11, ...
func bastionAddr(k int) string { return fmt.Sprintf("127.0.%d.10", k) }

// prodConfig is the subset of etcd's --config-file the bed writes; the
// keys are etcd's own (etcd.conf.yml.sample), the same from 3.4 to 3.7.
type prodConfig struct {
	Name                     string         `yaml:"name"`
	DataDir                  string         `yaml:"data-dir"`
	ListenClientURLs         string         `yaml:"listen-client-urls"`
	AdvertiseClientURLs      string         `yaml:"advertise-client-urls"`
	ListenPeerURLs           string         `yaml:"listen-peer-urls"`
	InitialAdvertisePeerURLs string         `yaml:"initial-advertise-peer-urls"`
	InitialCluster           string         `yaml:"initial-cluster"`
	InitialClusterState      string         `yaml:"initial-cluster-state"`
	InitialClusterToken      string         `yaml:"initial-cluster-token"`
	Logger                   string         `yaml:"logger"`
	ClientTransportSecurity  prodTLS        `yaml:"client-transport-security"`
	PeerTransportSecurity    prodTLS        `yaml:"peer-transport-security"`
	Extra                    map[string]any `yaml:",inline"`
}

type prodTLS struct {
	CertFile       string `yaml:"cert-file"`
	KeyFile        string `yaml:"key-file"`
	ClientCertAuth bool   `yaml:"client-cert-auth"`
	TrustedCAFile  string `yaml:"trusted-ca-file"`
}

// configFile is host h's etcd.yaml. etcd ignores every flag and ETCD_*
// variable once --config-file is given, so Options.ExtraFlags
// ("--snapshot-count=100") become keys of the file instead.
func (c *Cluster) configFile(h *Host, extra []string) ([]byte, error) {
	var peers []string
	for _, o := range c.Hosts {
		peers = append(peers, o.Name+"="+o.PeerURL)
	}
	sec := prodTLS{CertFile: filepath.Join(h.Dir, "tls", "member.crt"), KeyFile: filepath.Join(h.Dir, "tls", "member.key"),
		ClientCertAuth: true, TrustedCAFile: filepath.Join(h.Dir, "tls", "ca.crt")}
	cfg := prodConfig{
		Name: h.Name, DataDir: h.DataDir,
		ListenClientURLs: h.ClientURL, AdvertiseClientURLs: h.ClientURL,
		ListenPeerURLs: h.PeerURL, InitialAdvertisePeerURLs: h.PeerURL,
		InitialCluster: strings.Join(peers, ","), InitialClusterState: "new", InitialClusterToken: c.Name,
		Logger:                  "zap",
		ClientTransportSecurity: sec, PeerTransportSecurity: sec,
		Extra: map[string]any{},
	}
	for _, f := range extra {
		k, v, ok := strings.Cut(strings.TrimLeft(f, "-"), "=")
		if !strings.HasPrefix(f, "--") || k == "" {
			return nil, fmt.Errorf("extra flag %q: want --name=value (it becomes a key of etcd's config file)", f)
		}
		var val any = true // "--enable-v2" alone
		if ok {
			if err := yaml.Unmarshal([]byte(v), &val); err != nil {
				val = v
			}
		}
		cfg.Extra[k] = val
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return append([]byte("# etcd configuration of "+h.Name+", written by the etcdplay test bed\n"), b...), nil
}

// layoutProductionHost lays out host h the production way. Owners and
// modes are the point: hostN/, bin/, the service script, the config and
// tls/ are root's; data/ is EtcdUser's 0700 and so is the member key;
// backup/ and stage/ are LoginUser's 0700.
func (c *Cluster) layoutProductionHost(h *Host, o Options, ca *certAuthority) error {
	for _, d := range []string{h.Dir, h.BinDir, filepath.Join(h.Dir, "tls")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	if err := installBinaries(h, c.Version); err != nil {
		return err
	}
	crt, key, err := ca.issue(h.Name, []string{h.Addr, "127.0.0.1"}, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return err
	}
	cfg, err := c.configFile(h, o.ExtraFlags)
	if err != nil {
		return err
	}
	files := []struct {
		path     string
		body     []byte
		mode     os.FileMode
		uid, gid int
	}{
		{filepath.Join(h.Dir, "tls", "ca.crt"), ca.pem, 0o644, 0, 0},
		{filepath.Join(h.Dir, "tls", "member.crt"), crt, 0o644, 0, 0},
		{filepath.Join(h.Dir, "tls", "member.key"), key, 0o600, c.svc.uid, c.svc.gid},
		{h.ConfigFile, cfg, 0o644, 0, 0},
		{filepath.Join(h.Dir, "etcd.env"), []byte(envFile(o.Env)), 0o644, 0, 0},
		{h.Service, []byte(c.productionService(h)), 0o755, 0, 0},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, f.body, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(f.path, f.mode); err != nil {
			return err
		}
		if err := os.Chown(f.path, f.uid, f.gid); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		path string
		acc  account
	}{{h.DataDir, c.svc}, {h.BackupDir, c.acc}, {h.StageDir, c.acc}} {
		if err := os.MkdirAll(d.path, 0o700); err != nil {
			return err
		}
		if err := os.Chmod(d.path, 0o700); err != nil {
			return err
		}
		if err := os.Chown(d.path, d.acc.uid, d.acc.gid); err != nil {
			return err
		}
	}
	return nil
}

// productionService is host h's root-owned service script: the bed's
// stand-in for a systemd unit with User=etcdsvc. It refuses to run as
// anyone but root (sudo gives it root), closes every inherited file
// descriptor in the child (an fd of the SSH session left open in etcd
// makes the session hang), starts etcd through setpriv as EtcdUser with
// its config file and the environment of etcd.env, and keeps the pid file
// where only root can write. start|stop|status behave as svc.sh.
func (c *Cluster) productionService(h *Host) string {
	return fmt.Sprintf(`#!/bin/bash
# etcd service script of %[1]s, written by the etcdplay test bed (production shape).
# Run as root (through sudo). start: exit 0 when running, 1 when etcd died at once;
# stop: SIGTERM, wait up to 15 s, then SIGKILL; status: exit 0 running, 3 stopped.
set -u
H=%[2]s
BIN=%[3]s
CONF=%[4]s
PIDF=$H/etcd.pid
LOG=$H/etcd.log
[ "$(id -u)" = 0 ] || { echo "$0: must run as root (through sudo)" >&2; exit 4; }
alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [ "${st%%%% *}" != Z ] && grep -qF "$BIN" "/proc/$1/cmdline" 2>/dev/null
}
running() { [ -f "$PIDF" ] && alive "$(cat "$PIDF")"; }
child() {
  local fd
  for fd in /proc/self/fd/*; do
    fd=${fd##*/}
    case $fd in 0|1|2) ;; *) eval "exec $fd>&-" 2>/dev/null ;; esac
  done
  ENVS=()
  [ -f "$H/etcd.env" ] && mapfile -t ENVS < <(grep -v -e '^#' -e '^$' "$H/etcd.env")
  exec setsid env -i PATH=/usr/bin:/bin "${ENVS[@]}" setpriv --reuid=%[5]d --regid=%[6]d --init-groups -- "$BIN" --config-file "$CONF"
}
case "${1:-}" in
start)
  running && { echo "already running pid $(cat "$PIDF")"; exit 0; }
  cd "$H" || exit 1
  echo "=== $(date +%%T.%%N) start $BIN" >>"$LOG"
  child </dev/null >>"$LOG" 2>&1 &
  echo $! >"$PIDF"
  sleep 0.3
  if running; then echo "started pid $(cat "$PIDF")"; else
    echo "FAILED to start"; tail -5 "$LOG"; rm -f "$PIDF"; exit 1; fi ;;
stop)
  running || { echo "not running"; rm -f "$PIDF"; exit 0; }
  p=$(cat "$PIDF"); kill -TERM "$p"
  for _ in $(seq 150); do alive "$p" || break; sleep 0.1; done
  alive "$p" && { kill -KILL "$p"; echo "killed pid $p after 15 s"; }
  rm -f "$PIDF"; echo "stopped pid $p" ;;
status)
  if running; then echo "running pid $(cat "$PIDF")"; else echo stopped; exit 3; fi ;;
*)
  echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
`, h.Name, h.Dir, h.Binary(), h.ConfigFile, c.svc.uid, c.svc.gid)
}

// runService runs host h's service script as root on this machine, as
// sudo would run it for the login user: the bed's own starts and stops
// do not depend on the sudo rules under test.
func (c *Cluster) runService(ctx context.Context, h *Host, verb string) (string, error) {
	ctx, cancel := withDefaultTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.Service, verb)
	cmd.Dir = "/"
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", h.Service, verb, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// lookupProductionAccounts finds the two production users, naming provision.sh
// when they are missing.
func lookupProductionAccounts() (login, svc account, err error) {
	if login, err = lookupAccount(LoginUser); err != nil {
		return
	}
	svc, err = lookupAccount(EtcdUser)
	return
}

// jumpSpec is the bastion in ProxyJump syntax, as the inventory's ssh.jump
// and the bed's ssh_config name it.
func (c *Cluster) jumpSpec() string {
	return c.acc.name + "@" + c.Bastion.Addr + ":" + strconv.Itoa(c.Bastion.SSHPort)
}
