package sshserver

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
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/etcdplay/etcdplay/transport/ssh"
)

// fixture is a server on a free loopback port with a client key and a
// known_hosts file naming its host key, written as the sandbox writes them.
type fixture struct {
	srv        *Server
	user       string
	host, port string
	signer     xssh.Signer
	keyPath    string
	knownHosts string
}

func newKey(t *testing.T) (xssh.Signer, []byte) {
	t.Helper()
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := xssh.NewSignerFromKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	block, err := xssh.MarshalPrivateKey(sk, "test")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := pemEncode(&buf, block); err != nil {
		t.Fatal(err)
	}
	return signer, buf.Bytes()
}

func start(t *testing.T) *fixture {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	signer, priv := newKey(t)
	srv, err := Start(Config{Addr: "127.0.0.1:0", User: u.Username, Authorized: signer.PublicKey(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	dir := t.TempDir()
	f := &fixture{srv: srv, user: u.Username, signer: signer}
	f.host, f.port, _ = net.SplitHostPort(srv.Addr())
	f.keyPath = filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(f.keyPath, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	f.knownHosts = filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{srv.Addr()}, srv.HostKey())
	if err := os.WriteFile(f.knownHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// dial connects with x/crypto/ssh, verifying the host key strictly.
func (f *fixture) dial(t *testing.T, user string, signer xssh.Signer) (*xssh.Client, error) {
	t.Helper()
	cb, err := knownhosts.New(f.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	return xssh.Dial("tcp", f.srv.Addr(), &xssh.ClientConfig{
		User: user, Auth: []xssh.AuthMethod{xssh.PublicKeys(signer)},
		HostKeyCallback: cb, Timeout: 5 * time.Second,
	})
}

// transport is etcdplay's own SSH transport, as a run uses it.
func (f *fixture) transport(t *testing.T) *ssh.Client {
	t.Helper()
	var port int
	fmt.Sscan(f.port, &port)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ssh.Dial(ctx, ssh.Config{
		Host: f.host, Port: port, User: f.user,
		IdentityFiles: []string{f.keyPath}, KnownHostsFiles: []string{f.knownHosts},
		SSHConfigFile: "none", AgentSocket: "none", HomeDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestExecStatusAndStreams(t *testing.T) {
	f := start(t)
	c := f.transport(t)
	ctx := context.Background()
	res, err := c.Run(ctx, ssh.Command{Script: "id -un; echo oops >&2; exit 4"})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitStatus != 4 || string(res.Stdout) != f.user+"\n" || string(res.Stderr) != "oops\n" {
		t.Fatalf("got exit %d, stdout %q, stderr %q; want 4, %q, \"oops\\n\"", res.ExitStatus, res.Stdout, res.Stderr, f.user+"\n")
	}
	res, err = c.Run(ctx, ssh.Command{Script: "tr a-z A-Z", Stdin: strings.NewReader("stdin reaches the command\n")})
	if err != nil || res.ExitStatus != 0 || string(res.Stdout) != "STDIN REACHES THE COMMAND\n" {
		t.Fatalf("stdin: %+v %v", res, err)
	}
	// A daemon started with its fds redirected does not hold the session,
	// as svc.sh starts etcd.
	began := time.Now()
	res, err = c.Run(ctx, ssh.Command{Script: "sleep 3 </dev/null >/dev/null 2>&1 & echo started"})
	if err != nil || string(res.Stdout) != "started\n" {
		t.Fatalf("background: %+v %v", res, err)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Fatalf("a backgrounded daemon held the session for %v", d)
	}
	t.Logf("exec: exit status, stdout, stderr, stdin, and a backgrounded daemon (%v) all as over sshd", time.Since(began).Round(time.Millisecond))
}

func TestUploadThroughTransport(t *testing.T) {
	f := start(t)
	c := f.transport(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	body := bytes.Repeat([]byte("etcd binary "), 200000) // 2.4 MB, several windows
	if err := os.WriteFile(src, body, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "dst")
	if err := c.Upload(context.Background(), src, dst, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("uploaded file differs (%d bytes, %v)", len(got), err)
	}
	if st, _ := os.Stat(dst); st.Mode().Perm() != 0o755 {
		t.Fatalf("mode %v, want 0755", st.Mode().Perm())
	}
}

func TestCancelKillsTheRemoteCommand(t *testing.T) {
	f := start(t)
	c := f.transport(t)
	mark := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := c.Run(ctx, ssh.Command{Script: "echo $$ >" + mark + "; sleep 30"})
	if err == nil {
		t.Fatal("a cancelled run returned no error")
	}
	var pid int
	b, _ := os.ReadFile(mark)
	fmt.Sscan(string(b), &pid)
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("remote shell %d still running 5 s after the run was cancelled", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSignalRequest(t *testing.T) {
	f := start(t)
	cl, err := f.dial(t, f.user, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.Start("exec sleep 30"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := sess.Signal(xssh.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = sess.Wait()
	var ee *xssh.ExitError
	if !errors.As(err, &ee) || ee.Signal() != "TERM" {
		t.Fatalf("want exit-signal TERM, got %v", err)
	}
}

func TestRefusesWrongKeyUserAndUnknownHostKey(t *testing.T) {
	f := start(t)
	other, _ := newKey(t)
	if cl, err := f.dial(t, f.user, other); err == nil {
		cl.Close()
		t.Fatal("a key the server does not authorize logged in")
	} else if !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("wrong key: %v", err)
	}
	if cl, err := f.dial(t, "someone-else", f.signer); err == nil {
		cl.Close()
		t.Fatal("another user name logged in")
	}
	// The host key is the one known_hosts names: a client that knows
	// another key for the address refuses the server.
	wrongHost, _ := newKey(t)
	line := knownhosts.Line([]string{f.srv.Addr()}, wrongHost.PublicKey())
	if err := os.WriteFile(f.knownHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cl, err := f.dial(t, f.user, f.signer); err == nil {
		cl.Close()
		t.Fatal("a changed host key was accepted")
	} else {
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) || len(ke.Want) == 0 {
			t.Fatalf("changed host key: %v", err)
		}
	}
}

func TestRefusesShellAndPty(t *testing.T) {
	f := start(t)
	cl, err := f.dial(t, f.user, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm", 24, 80, xssh.TerminalModes{}); err == nil {
		t.Fatal("pty granted")
	}
	if err := sess.Shell(); err == nil {
		t.Fatal("shell granted")
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func pemEncode(w *bytes.Buffer, b *pem.Block) error { return pem.Encode(w, b) }
