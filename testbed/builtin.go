package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// A cluster whose SSH endpoints are not OpenSSH's sshd but servers the
// caller provides (Options.SSHServer): `etcdplay sandbox` on a laptop,
// where there is no root to start sshd and no bed user to switch to. The
// layout, service script, inventory, slots and teardown are the same as
// with sshd; what differs is who the hosts' user is (the current one),
// which client key is authorized (one of the cluster's own, in Dir/ssh,
// never the user's ~/.ssh), and that the bed reaches its hosts with
// golang.org/x/crypto/ssh rather than the system ssh client, which such a
// machine may lack.

// SSHServerFunc starts one host's SSH endpoint on h.Addr:h.SSHPort. The
// server must accept clientKey and nothing else, run each exec request with
// `/bin/sh -c` as the current user, and return its host key (written to the
// cluster's known_hosts, so clients verify it strictly) and a stop that
// returns once it no longer listens.
type SSHServerFunc func(ctx context.Context, h *Host, clientKey ssh.PublicKey) (hostKey ssh.PublicKey, stop func() error, err error)

// User is the account the hosts' SSH endpoints log in as: the bed user
// with sshd, the current user with Options.SSHServer, LoginUser in a
// production-shaped cluster.
func (c *Cluster) User() string { return c.acc.name }

func currentAccount() (account, error) {
	u, err := user.Current()
	if err != nil {
		return account{}, fmt.Errorf("testbed: current user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return account{uid: uid, gid: gid, home: u.HomeDir, name: u.Username}, nil
}

// clientKey returns the private key the inventory names: the bed's shared
// one (authorized for the bed user) with sshd, or the cluster's own.
func (c *Cluster) clientKey() (string, error) {
	if c.builtin == nil {
		return clientKey(c.acc)
	}
	dir := filepath.Join(c.Dir, "ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	identity := filepath.Join(dir, "id_ed25519")
	priv, pub, err := newKey(c.Name)
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(identity, priv, 0o600); err != nil {
		return "", err
	}
	if err := writeFileAtomic(identity+".pub", pub, 0o644); err != nil {
		return "", err
	}
	return identity, nil
}

// startBuiltin starts h's endpoint through Options.SSHServer, authorizing
// the cluster's client key only, and waits until it accepts connections.
func (c *Cluster) startBuiltin(ctx context.Context, h *Host) error {
	pubBytes, err := os.ReadFile(c.IdentityPath + ".pub")
	if err != nil {
		return err
	}
	clientPub, _, _, _, err := ssh.ParseAuthorizedKey(pubBytes)
	if err != nil {
		return fmt.Errorf("client key: %w", err)
	}
	hostKey, stop, err := c.builtin(ctx, h, clientPub)
	if err != nil {
		return fmt.Errorf("%s: start ssh server: %w", h.Name, err)
	}
	h.stopSSH = stop
	h.hostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostKey)))
	addr := net.JoinHostPort(h.Addr, strconv.Itoa(h.SSHPort))
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: ssh server on %s not listening: %w", h.Name, addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// goSSH is SSH over golang.org/x/crypto/ssh, with the cluster's key and
// known_hosts (strict), for clusters served by Options.SSHServer.
func (c *Cluster) goSSH(ctx context.Context, h *Host, cmd string) (string, error) {
	keyBytes, err := os.ReadFile(c.IdentityPath)
	if err != nil {
		return "", err
	}
	signer, err := ssh.ParsePrivateKey(keyBytes)
	if err != nil {
		return "", err
	}
	hostKeys, err := knownhosts.New(c.KnownHostsPath)
	if err != nil {
		return "", err
	}
	addr := net.JoinHostPort(h.Addr, strconv.Itoa(h.SSHPort))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("ssh %s %q: %w", h.Name, cmd, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User:            c.User(),
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys,
		Timeout:         5 * time.Second,
	})
	if err != nil {
		conn.Close()
		return "", fmt.Errorf("ssh %s %q: %w", h.Name, cmd, err)
	}
	client := ssh.NewClient(sc, chans, reqs)
	defer client.Close()
	stop := context.AfterFunc(ctx, func() { client.Close() })
	defer stop()
	sess, err := client.NewSession()
	if err != nil {
		return "", fmt.Errorf("ssh %s %q: %w", h.Name, cmd, err)
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	err = sess.Run(cmd)
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return stdout.String(), &SSHError{Host: h.Name, Cmd: cmd, ExitCode: ee.ExitStatus(), Stderr: stderr.String()}
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("ssh %s %q: %w", h.Name, cmd, err)
	}
	return stdout.String(), nil
}

// ProcessesUnder lists the live processes whose executable or command line
// lies in dir: a cluster's etcd members and sshd daemons, and anything run
// from a host's bin folder. A caller that outlives the cluster's owner (the
// sandbox's `down`) uses it to find what is left.
func ProcessesUnder(dir string) []int { return procsUnder(dir) }

// StopUnder stops, by pid, every process under dir (ProcessesUnder) and
// its descendants: SIGTERM, a short grace, SIGKILL. It errs when one
// survives.
func StopUnder(ctx context.Context, dir string) error {
	var pids []int
	for _, p := range procsUnder(dir) {
		pids = append(pids, p)
		pids = append(pids, descendants(p)...)
	}
	return terminate(ctx, pids, teardownGrace)
}

// Alive reports whether pid is a live process (a zombie is not).
func Alive(pid int) bool { return alive(pid) }

// SSHDPID is the pid of the host's sshd, 0 when Options.SSHServer serves
// it instead.
func (h *Host) SSHDPID() int { return h.sshdPID }
