package testbed

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// User is the unprivileged account every bed host logs in as and runs etcd
// as. provision.sh creates it.
const User = "etcdtest"

// SSHPort is the port every bed sshd listens on (each on its own address).
const SSHPort = 2222

// sshdPath is Debian's openssh-server daemon.
const sshdPath = "/usr/sbin/sshd"

type account struct {
	uid, gid int
	home     string
	name     string
}

func lookupAccount(name string) (account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return account{}, fmt.Errorf("testbed: user %s: %w: run testbed/provision.sh as root", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return account{uid: uid, gid: gid, home: u.HomeDir, name: u.Username}, nil
}

// checkTraversable makes sure the account can walk down to dir: sshd reads
// authorized_keys and the members exec their binaries as that user, and a
// 0700 parent (like /root) makes both fail in confusing ways.
func checkTraversable(acc account, dir string) error {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		sys := st.Sys().(*syscall.Stat_t)
		m := st.Mode().Perm()
		ok := m&0o001 != 0 ||
			(int(sys.Uid) == acc.uid && m&0o100 != 0) ||
			(int(sys.Gid) == acc.gid && m&0o010 != 0)
		if !ok {
			return fmt.Errorf("testbed: user %s cannot enter %s (mode %v): put the bed where every user may enter (ETCDPLAY_BED; the default is %s), then run testbed/provision.sh as root", acc.name, d, m, SystemDir)
		}
		if d == "/" {
			return nil
		}
	}
}

// clientKey makes sure the bed's one client key pair exists in Dir()/ssh
// and that the account's authorized_keys holds it. Parallel test binaries
// share it, so the work happens under a file lock.
func clientKey(acc account) (identity string, err error) {
	dir := filepath.Join(Dir(), "ssh")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	identity = filepath.Join(dir, "id_ed25519")
	pubBytes, err := os.ReadFile(identity + ".pub")
	if _, statErr := os.Stat(identity); err != nil || statErr != nil {
		priv, pub, err := newKey("etcdplay-bed")
		if err != nil {
			return "", err
		}
		if err := writeFileAtomic(identity, priv, 0o600); err != nil {
			return "", err
		}
		if err := writeFileAtomic(identity+".pub", pub, 0o644); err != nil {
			return "", err
		}
		pubBytes = pub
	}
	sshDir := filepath.Join(acc.home, ".ssh")
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		return "", err
	}
	// StrictModes: home not group/world writable, .ssh 0700, the file 0600,
	// all owned by the user.
	if err := os.Chmod(acc.home, 0o755); err != nil {
		return "", err
	}
	// The key is added, never put in place of the others: beds in other
	// folders (ETCDPLAY_BED) share the user and keep their own keys.
	ak := filepath.Join(sshDir, "authorized_keys")
	cur, _ := os.ReadFile(ak)
	if !slices.Contains(strings.Split(string(cur), "\n"), strings.TrimSpace(string(pubBytes))) {
		if len(cur) > 0 && !bytes.HasSuffix(cur, []byte("\n")) {
			cur = append(cur, '\n')
		}
		if err := writeFileAtomic(ak, append(cur, pubBytes...), 0o600); err != nil {
			return "", err
		}
	}
	for _, p := range []string{acc.home, sshDir, ak} {
		if err := os.Chown(p, acc.uid, acc.gid); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(sshDir, 0o700); err != nil {
		return "", err
	}
	return identity, nil
}

// newKey returns an OpenSSH private key and its authorized_keys line.
func newKey(comment string) (priv, pub []byte, err error) {
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(sk, comment)
	if err != nil {
		return nil, nil, err
	}
	sp, err := ssh.NewPublicKey(pk)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(block), ssh.MarshalAuthorizedKey(sp), nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := fmt.Sprintf("%s.tmp%d", path, os.Getpid())
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// sshdConfig is one host's daemon configuration. UsePAM no keeps PAM's
// session modules (loginuid, systemd) out of a container; MaxSessions and
// MaxStartups are raised because tests open many connections at once. In
// a production-shaped cluster only the bastion forwards TCP, as a jump
// host must; the members do not.
func (c *Cluster) sshdConfig(h *Host) string {
	forward := "yes"
	if c.Production && h != c.Bastion {
		forward = "no"
	}
	return fmt.Sprintf(`# written by the etcdplay test bed
Port %d
ListenAddress %s
HostKey %s
PidFile %s
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers %s
StrictModes yes
MaxStartups 100:30:200
MaxSessions 64
LoginGraceTime 30
AllowTcpForwarding %s
Subsystem sftp /usr/lib/openssh/sftp-server
`, h.SSHPort, h.Addr, h.sshdDir("hostkey"), h.sshdDir("sshd.pid"), c.acc.name, forward)
}

// startSSHD writes the host's key and config and starts sshd in the
// foreground (-D) as our child, so its pid is known without a race and it is
// reaped when it exits. It returns when the port accepts connections.
func (c *Cluster) startSSHD(ctx context.Context, h *Host) error {
	if c.builtin != nil {
		return c.startBuiltin(ctx, h)
	}
	if err := os.MkdirAll(h.sshdDir(), 0o755); err != nil {
		return err
	}
	priv, pub, err := newKey(h.Name)
	if err != nil {
		return err
	}
	if err := os.WriteFile(h.sshdDir("hostkey"), priv, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(h.sshdDir("hostkey.pub"), pub, 0o644); err != nil {
		return err
	}
	h.hostKey = strings.TrimSpace(string(pub))
	if err := os.WriteFile(h.sshdDir("sshd_config"), []byte(c.sshdConfig(h)), 0o644); err != nil {
		return err
	}
	// -E needs an absolute path: a relative one made every connection die
	// with "kex_exchange_identification: read: Connection reset by peer".
	cmd := exec.Command(sshdPath, "-D", "-f", h.sshdDir("sshd_config"), "-E", h.sshdDir("sshd.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = h.Dir
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start sshd: %w", h.Name, err)
	}
	h.sshdPID = cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	h.sshdExited = exited

	addr := net.JoinHostPort(h.Addr, strconv.Itoa(h.SSHPort))
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case err := <-exited:
			exited <- err
			return fmt.Errorf("%s: sshd exited at start (%v): %s", h.Name, err, Tail(h.sshdDir("sshd.log"), 5))
		case <-ctx.Done():
			return fmt.Errorf("%s: sshd on %s not listening: %w", h.Name, addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// writeSSHFiles writes known_hosts (one line per host, from the keys the
// bed generated, the bastion's too) and an ssh_config for the system ssh
// client. In a production-shaped cluster that config reaches every member
// through the bastion (ProxyJump), as the inventory does.
func (c *Cluster) writeSSHFiles() error {
	var kh, names, aliases, members strings.Builder
	hosts := c.Hosts
	if c.Bastion != nil {
		hosts = append([]*Host{c.Bastion}, hosts...)
	}
	for _, h := range hosts {
		fmt.Fprintf(&kh, "[%s]:%d %s\n", h.Addr, h.SSHPort, h.hostKey)
		names.WriteString(" " + h.Name + " " + h.Addr)
		fmt.Fprintf(&aliases, "Host %s\n  HostName %s\n", h.Name, h.Addr)
		if h != c.Bastion {
			members.WriteString(" " + h.Name + " " + h.Addr)
		}
	}
	if err := os.WriteFile(c.KnownHostsPath, []byte(kh.String()), 0o644); err != nil {
		return err
	}
	if c.Bastion != nil {
		// The first value ssh_config finds wins, so the bastion's "none"
		// comes before the members' jump (or the bastion would jump to
		// itself).
		fmt.Fprintf(&aliases, "Host %s %s\n  ProxyJump none\nHost%s\n  ProxyJump %s\n",
			c.Bastion.Name, c.Bastion.Addr, members.String(), c.jumpSpec())
	}
	// "ssh -F ssh_config host1" works as well as the address.
	cfg := fmt.Sprintf(`# written by the etcdplay test bed for cluster %s
`+aliases.String()+`Host%s
  User %s
  Port %d
  IdentityFile %s
  IdentitiesOnly yes
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 5
  LogLevel ERROR
`, c.Name, names.String(), c.User(), hosts[0].SSHPort, c.IdentityPath, c.KnownHostsPath)
	return os.WriteFile(c.SSHConfigPath, []byte(cfg), 0o644)
}

// SSHError is a remote command that ran and failed (or could not connect:
// ssh itself exits 255).
type SSHError struct {
	Host     string
	Cmd      string
	ExitCode int
	Stderr   string
}

func (e *SSHError) Error() string {
	return fmt.Sprintf("ssh %s %q: exit %d: %s", e.Host, e.Cmd, e.ExitCode, strings.TrimSpace(e.Stderr))
}

// SSH runs cmd on host i (0-based) with the system ssh client, the bed's
// ssh_config, its key and known_hosts (StrictHostKeyChecking yes), and
// returns stdout. A non-zero exit is an *SSHError carrying stderr.
func (c *Cluster) SSH(ctx context.Context, i int, cmd string) (string, error) {
	if i < 0 || i >= len(c.Hosts) {
		return "", fmt.Errorf("testbed: no host %d (cluster has %d)", i, len(c.Hosts))
	}
	h := c.Hosts[i]
	ctx, cancel := withDefaultTimeout(ctx, 60*time.Second)
	defer cancel()
	if c.builtin != nil {
		return c.goSSH(ctx, h, cmd)
	}
	var stdout, stderr strings.Builder
	x := exec.CommandContext(ctx, "ssh", "-F", c.SSHConfigPath, "-T", h.Addr, "--", cmd)
	x.Stdout, x.Stderr = &stdout, &stderr
	x.WaitDelay = time.Second
	err := x.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.String(), &SSHError{Host: h.Name, Cmd: cmd, ExitCode: ee.ExitCode(), Stderr: stderr.String()}
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("ssh %s %q: %w", h.Name, cmd, err)
	}
	return stdout.String(), nil
}

func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// Tail returns the last n lines of a file, prefixed with its path, for
// error messages that should show what a process said before it died.
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return path + ":\n  " + strings.Join(lines, "\n  ")
}

// logExcerpt explains a member that failed: from the log of its last start,
// the lines that look like the reason (etcd prints its whole usage after a
// bad flag, and zap logs are long), else the last lines.
func logExcerpt(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	text := string(b)
	if i := strings.LastIndex(text, "\n=== "); i >= 0 {
		text = text[i+1:]
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	var picked []string
	for _, l := range lines {
		ll := strings.ToLower(l)
		if strings.Contains(ll, "flag provided") || strings.Contains(ll, "panic") || strings.Contains(ll, "fatal") ||
			strings.Contains(ll, `"level":"error"`) || strings.Contains(ll, "error:") || strings.Contains(ll, " e | ") {
			if len(l) > 400 {
				l = l[:400] + "..."
			}
			picked = append(picked, l)
		}
	}
	if len(picked) == 0 {
		return Tail(path, 5)
	}
	if len(picked) > 5 {
		picked = picked[len(picked)-5:]
	}
	return path + ":\n  " + strings.Join(picked, "\n  ")
}

// firstLine is the first line of a command's output, or its error.
func firstLine(out string, err error) string {
	if l := strings.TrimSpace(strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]); l != "" {
		return l
	}
	return err.Error()
}
