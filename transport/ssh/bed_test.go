package ssh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/internal/exit"
	xssh "golang.org/x/crypto/ssh"

	"github.com/etcdplay/etcdplay/testbed"
)

// The tests below run against the real test bed: OpenSSH servers on
// 127.0.k.11-12:2222, user etcdtest. Where the bed is not provisioned they are
// skipped, naming provision.sh (a failure with ETCDPLAY_REQUIRE_BED=1, as
// in CI). One cluster serves every subtest to keep the bed cheap.

// bedConfig reaches host i of c with the bed's key and known_hosts only.
func bedConfig(t testing.TB, c *testbed.Cluster, i int) Config {
	h := c.Hosts[i]
	return Config{
		Host: h.Addr, Port: h.SSHPort, User: testbed.User,
		IdentityFiles:   []string{c.IdentityPath},
		KnownHostsFiles: []string{c.KnownHostsPath},
		SSHConfigFile:   "none", AgentSocket: "none",
		HomeDir:        t.TempDir(), // never the real ~/.ssh
		ConnectTimeout: 10 * time.Second,
	}
}

// bedHostKey reads host i's key from the bed's known_hosts.
func bedHostKey(t testing.TB, c *testbed.Cluster, i int) xssh.PublicKey {
	t.Helper()
	b, err := os.ReadFile(c.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("[%s]:%d ", c.Hosts[i].Addr, c.Hosts[i].SSHPort)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			k, _, _, _, err := xssh.ParseAuthorizedKey([]byte(strings.TrimPrefix(l, prefix)))
			if err != nil {
				t.Fatal(err)
			}
			return k
		}
	}
	t.Fatalf("no known_hosts line for %s", prefix)
	return nil
}

func dialBed(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := Dial(ctx(t), cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sessionSSHD returns the pid of the sshd process serving the connection
// (the parent of the command's shell): killing it drops the connection,
// stopping it makes the peer silent.
func sessionSSHD(t testing.TB, c *Client) int {
	t.Helper()
	res, err := c.Run(ctx(t), Command{Script: "echo $PPID"})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
	if err != nil {
		t.Fatal(err)
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if !bytes.HasPrefix(comm, []byte("sshd: "+testbed.User)) {
		t.Fatalf("pid %d is %q, not the session's sshd", pid, comm)
	}
	return pid
}

func TestRealSSHD(t *testing.T) {
	bed := testbed.StartT(t, testbed.Options{Version: "3.5", Members: 2})
	h1, h2 := bed.Hosts[0], bed.Hosts[1]

	t.Run("run captures exit status, stdout, stderr", func(t *testing.T) {
		c := dialBed(t, bedConfig(t, bed, 0))
		res, err := c.Run(ctx(t), Command{Script: "whoami; echo oops >&2; exit 4"})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitStatus != 4 || string(res.Stdout) != testbed.User+"\n" || string(res.Stderr) != "oops\n" {
			t.Fatalf("%+v", res)
		}
	})

	t.Run("an inventory value stays inert", func(t *testing.T) {
		c := dialBed(t, bedConfig(t, bed, 0))
		pwned := filepath.Join(h1.Dir, "pwned")
		dataDir := h1.DataDir + "; touch " + pwned
		res, err := c.Run(ctx(t), Command{Argv: []string{"ls", "-d", "--", dataDir}})
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitStatus == 0 || !strings.Contains(string(res.Stderr), "; touch") {
			t.Fatalf("ls saw something else than one odd path: %+v", res)
		}
		for _, v := range []string{"$(touch " + pwned + ")", "`touch " + pwned + "`", "x'; touch " + pwned + "; '"} {
			res, err := c.Run(ctx(t), Command{Argv: []string{"printf", "%s", v}})
			if err != nil || string(res.Stdout) != v {
				t.Fatalf("printf %q gave %q %v", v, res.Stdout, err)
			}
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Fatal("an inventory value ran as a command on the host")
		}
	})

	t.Run("unknown host refused with the fingerprint ssh-keyscan shows", func(t *testing.T) {
		cfg := bedConfig(t, bed, 0)
		cfg.KnownHostsFiles = []string{filepath.Join(t.TempDir(), "empty")}
		_, err := Dial(ctx(t), cfg)
		var u *UnknownHostKeyError
		if !errors.As(err, &u) {
			t.Fatalf("want UnknownHostKeyError, got %v", err)
		}
		want := xssh.FingerprintSHA256(bedHostKey(t, bed, 0))
		if u.Fingerprint != want {
			t.Fatalf("fingerprint %s, host has %s", u.Fingerprint, want)
		}
		// The check the message suggests, run as written, shows the same.
		check := u.CheckCommand()
		if !strings.Contains(exit.Format(err), "'"+check+"'") {
			t.Fatalf("the message does not show the check %q", check)
		}
		out, err2 := exec.Command("sh", "-c", check).CombinedOutput()
		if err2 != nil || !strings.Contains(string(out), want) {
			t.Fatalf("suggested check %q printed %q (%v), want %s", check, out, err2, want)
		}
		t.Logf("refusal: %v", err)
	})

	t.Run("changed host key refused loudly", func(t *testing.T) {
		cfg := bedConfig(t, bed, 0)
		kh := filepath.Join(t.TempDir(), "kh")
		// host2's key recorded for host1: what a MITM or a reinstall looks like.
		os.WriteFile(kh, []byte(fmt.Sprintf("[%s]:%d %s", h1.Addr, h1.SSHPort, xssh.MarshalAuthorizedKey(bedHostKey(t, bed, 1)))), 0o600)
		cfg.KnownHostsFiles = []string{kh}
		cfg.AcceptNewHostKeys = true
		_, err := Dial(ctx(t), cfg)
		var ch *HostKeyChangedError
		if !errors.As(err, &ch) || !strings.Contains(err.Error(), kh+":1") {
			t.Fatalf("want HostKeyChangedError naming %s:1, got %v", kh, err)
		}
	})

	t.Run("accept-new writes a line OpenSSH accepts", func(t *testing.T) {
		cfg := bedConfig(t, bed, 0)
		kh := filepath.Join(t.TempDir(), "kh")
		cfg.KnownHostsFiles = []string{kh}
		cfg.AcceptNewHostKeys = true
		dialBed(t, cfg)
		cfg.AcceptNewHostKeys = false
		dialBed(t, cfg)
		out, err := exec.Command("ssh", "-i", bed.IdentityPath, "-p", strconv.Itoa(h1.SSHPort), "-o", "UserKnownHostsFile="+kh,
			"-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
			"-o", "IdentitiesOnly=yes", testbed.User+"@"+h1.Addr, "echo ok").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "ok" {
			t.Fatalf("OpenSSH refused the line we wrote: %s %v", out, err)
		}
	})

	t.Run("hashed known_hosts from ssh-keygen -H", func(t *testing.T) {
		cfg := bedConfig(t, bed, 0)
		kh := filepath.Join(t.TempDir(), "kh")
		b, _ := os.ReadFile(bed.KnownHostsPath)
		os.WriteFile(kh, b, 0o600)
		if out, err := exec.Command("ssh-keygen", "-H", "-f", kh).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen -H: %s %v", out, err)
		}
		if b, _ := os.ReadFile(kh); !bytes.HasPrefix(b, []byte("|1|")) {
			t.Fatalf("not hashed: %s", b)
		}
		cfg.KnownHostsFiles = []string{kh}
		dialBed(t, cfg)
	})

	t.Run("ssh-agent", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "agent.sock")
		agent := exec.Command("ssh-agent", "-D", "-a", sock)
		if err := agent.Start(); err != nil {
			t.Fatalf("ssh-agent: %v", err)
		}
		t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
		eventually(t, 5*time.Second, "agent socket", func() bool { _, err := os.Stat(sock); return err == nil })
		add := exec.Command("ssh-add", bed.IdentityPath)
		add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
		if out, err := add.CombinedOutput(); err != nil {
			t.Fatalf("ssh-add: %s %v", out, err)
		}
		cfg := bedConfig(t, bed, 0)
		cfg.IdentityFiles = nil
		cfg.AgentSocket = sock
		c := dialBed(t, cfg)
		if _, err := c.Run(ctx(t), Command{Argv: []string{"true"}}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ssh_config file with an alias", func(t *testing.T) {
		dir := t.TempDir()
		cfgFile := filepath.Join(dir, "config")
		os.WriteFile(cfgFile, []byte(fmt.Sprintf(`Host bed-two
  HostName %s
  User %s
  Port %d
  IdentityFile %s
  UserKnownHostsFile %s
`, h2.Addr, testbed.User, h2.SSHPort, bed.IdentityPath, bed.KnownHostsPath)), 0o600)
		c := dialBed(t, Config{Host: "bed-two", SSHConfigFile: cfgFile, HomeDir: dir, AgentSocket: "none"})
		res, err := c.Run(ctx(t), Command{Script: "echo $USER $SSH_CONNECTION"})
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(res.Stdout)); len(f) != 5 || f[0] != testbed.User || f[3] != h2.Addr || f[4] != "2222" {
			t.Fatalf("landed elsewhere: %q", res.Stdout)
		}
	})

	t.Run("jump host", func(t *testing.T) {
		// host1's sshd gains one connection child while we are connected
		// to host2 through it: the traffic really goes through the hop.
		before := sshdChildren(t, h1)
		cfg := bedConfig(t, bed, 1)
		cfg.ProxyJump = fmt.Sprintf("%s@%s:%d", testbed.User, h1.Addr, h1.SSHPort)
		c := dialBed(t, cfg)
		res, err := c.Run(ctx(t), Command{Script: "echo $SSH_CONNECTION"})
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(res.Stdout)); len(f) != 4 || f[2] != h2.Addr {
			t.Fatalf("landed elsewhere: SSH_CONNECTION %q", res.Stdout)
		}
		if after := sshdChildren(t, h1); after != before+1 {
			t.Fatalf("host1's sshd has %d connections, had %d: the hop was not used", after, before)
		}
		t.Logf("reached %s through %s", h2.Addr, h1.Addr)

		t.Run("the hop's host key is verified", func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "kh")
			os.WriteFile(kh, []byte(fmt.Sprintf("[%s]:%d %s", h2.Addr, h2.SSHPort, xssh.MarshalAuthorizedKey(bedHostKey(t, bed, 1)))), 0o600)
			cfg := cfg
			cfg.KnownHostsFiles = []string{kh}
			_, err := Dial(ctx(t), cfg)
			var u *UnknownHostKeyError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), "jump host") || u.Addr != fmt.Sprintf("%s:%d", h1.Addr, h1.SSHPort) {
				t.Fatalf("an unknown hop was not refused: %v", err)
			}
		})
	})

	t.Run("sudo that wants a password fails at once", func(t *testing.T) {
		if _, err := exec.LookPath("sudo"); err != nil {
			t.Fatal("sudo is not installed on the bed: apt-get install sudo (.ci/run must install it)")
		}
		cfg := bedConfig(t, bed, 0)
		cfg.Sudo = true
		c := dialBed(t, cfg)
		start := time.Now()
		_, err := c.Run(ctx(t), Command{Argv: []string{"true"}, Privileged: true})
		var se *SudoError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "a password is required") || !strings.Contains(exit.Format(err), "NOPASSWD") {
			t.Fatalf("want SudoError, got %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("sudo took %s to refuse", d)
		}
		t.Logf("%v", err)
	})

	t.Run("cancel kills sleep 300 on the host", func(t *testing.T) {
		c := dialBed(t, bedConfig(t, bed, 0))
		for _, signal := range []bool{true, false} {
			// Without the signal request (sshd before 8.1 ignores it), the
			// kill-switch wrapper alone must take the command down.
			testNoSignal = !signal
			pidFile := filepath.Join(h1.Dir, "sleep.pid")
			os.Remove(pidFile)
			cctx, cancel := context.WithTimeout(ctx(t), 500*time.Millisecond)
			start := time.Now()
			// sleep is a grandchild inside a compound command.
			_, err := c.Run(cctx, Command{Argv: []string{"sh", "-c", `sh -c 'echo $$ > "$1"; exec sleep 300' x "$0"; echo never`, pidFile}})
			cancel()
			testNoSignal = false
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("want deadline exceeded, got %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("Run returned %s after start", d)
			}
			pid := readPid(t, pidFile)
			eventually(t, 5*time.Second, fmt.Sprintf("signal=%v: sleep 300 (pid %d) still in the process table", signal, pid), func() bool { return !alive(pid) })
		}
		if res, err := c.Run(ctx(t), Command{Argv: []string{"true"}}); err != nil || res.ExitStatus != 0 {
			t.Fatalf("the connection did not survive a cancel: %v", err)
		}
	})

	t.Run("dropped connection: next command reconnects, in-flight one is reported", func(t *testing.T) {
		c := dialBed(t, bedConfig(t, bed, 0))
		syscall.Kill(sessionSSHD(t, c), syscall.SIGKILL)
		res, err := c.Run(ctx(t), Command{Argv: []string{"echo", "back"}})
		if err != nil || string(res.Stdout) != "back\n" {
			t.Fatalf("after the drop: %q %v", res.Stdout, err)
		}
		sshd := sessionSSHD(t, c)
		done := make(chan error, 1)
		pidFile := filepath.Join(h1.Dir, "inflight.pid")
		os.Remove(pidFile)
		go func() {
			_, err := c.Run(ctx(t), Command{Argv: []string{"sh", "-c", `sh -c 'echo $$ > "$1"; exec sleep 300' x "$0"; echo never`, pidFile}})
			done <- err
		}()
		eventually(t, 5*time.Second, "command started", func() bool { _, err := os.Stat(pidFile); return err == nil })
		pid := readPid(t, pidFile)
		syscall.Kill(sshd, syscall.SIGKILL)
		select {
		case err = <-done:
		case <-time.After(4 * time.Second):
			t.Fatal("Run did not notice the dropped connection")
		}
		var lost *ConnectionLostError
		if !errors.As(err, &lost) {
			t.Fatalf("want ConnectionLostError, got %v", err)
		}
		t.Logf("%v", err)
		// Without a pty sshd would leave the orphan running; the wrapper
		// sees its stdin close and kills it.
		eventually(t, 5*time.Second, fmt.Sprintf("orphaned sleep 300 (pid %d) still running", pid), func() bool { return !alive(pid) })
	})

	t.Run("keepalive: OpenSSH answers, a frozen peer is detected", func(t *testing.T) {
		cfg := bedConfig(t, bed, 0)
		cfg.KeepAliveInterval, cfg.KeepAliveTimeout = 100*time.Millisecond, 500*time.Millisecond
		c := dialBed(t, cfg)
		time.Sleep(time.Second)
		c.mu.Lock()
		cn := c.conn
		c.mu.Unlock()
		if cn.isDead() {
			t.Fatalf("OpenSSH's keepalive replies were not understood: %v", cn.deadErr)
		}
		sshd := sessionSSHD(t, c)
		syscall.Kill(sshd, syscall.SIGSTOP)
		defer syscall.Kill(sshd, syscall.SIGKILL)
		eventually(t, 5*time.Second, "frozen peer not detected", cn.isDead)
		syscall.Kill(sshd, syscall.SIGKILL)
		syscall.Kill(sshd, syscall.SIGCONT)
		if _, err := c.Run(ctx(t), Command{Argv: []string{"true"}}); err != nil {
			t.Fatalf("after the frozen peer: %v", err)
		}
	})

	t.Run("upload 100 MB streamed, atomic, mode kept", func(t *testing.T) {
		c := dialBed(t, bedConfig(t, bed, 0))
		local := filepath.Join(t.TempDir(), "big")
		f, _ := os.Create(local)
		h := sha256.New()
		// 100 MB, not all zeros (so no layer can shortcut it), written in chunks.
		chunk := make([]byte, 1<<20)
		for i := 0; i < 100; i++ {
			for j := range chunk {
				chunk[j] = byte(i*31 + j*7)
			}
			f.Write(chunk)
			h.Write(chunk)
		}
		f.Close()
		os.Chmod(local, 0o750)
		want := hex.EncodeToString(h.Sum(nil))
		dst := filepath.Join(h1.Dir, "uploaded-etcd")
		os.WriteFile(dst, []byte("old"), 0o644)
		os.Chown(dst, bedUID(t), -1)

		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		stop := make(chan struct{})
		go func() {
			var m runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}()
		start := time.Now()
		err := c.Upload(ctx(t), local, dst, 0)
		close(stop)
		if err != nil {
			t.Fatal(err)
		}
		grew := int64(peak.Load()) - int64(base.HeapInuse)
		t.Logf("100 MB in %s, heap in use grew by at most %.1f MB", time.Since(start).Round(time.Millisecond), float64(grew)/(1<<20))
		if grew > 24<<20 {
			t.Fatalf("upload held %d MB of heap: not streamed", grew>>20)
		}
		res, err := c.Run(ctx(t), Command{Argv: []string{"sha256sum", dst}})
		if err != nil || !strings.HasPrefix(string(res.Stdout), want) {
			t.Fatalf("remote sum %q, want %s (%v)", res.Stdout, want, err)
		}
		if st, _ := os.Stat(dst); st.Mode().Perm() != 0o750 {
			t.Fatalf("mode %v", st.Mode().Perm())
		}
		if l := leftovers(t, h1.Dir); len(l) != 0 {
			t.Fatalf("temporary files left: %v", l)
		}

		t.Run("a corrupted stream leaves the old file", func(t *testing.T) {
			uploadStreamHook = func(r io.Reader) io.Reader { return &corrupt{r: r} }
			defer func() { uploadStreamHook = nil }()
			small := filepath.Join(t.TempDir(), "small")
			writeRandom(t, small, 64<<10, 0o755)
			err := c.Upload(ctx(t), small, dst, 0)
			if err == nil || !strings.Contains(err.Error(), "sha256 mismatch") {
				t.Fatalf("want sha256 mismatch, got %v", err)
			}
			res, _ := c.Run(ctx(t), Command{Argv: []string{"sha256sum", dst}})
			if !strings.HasPrefix(string(res.Stdout), want) {
				t.Fatal("the previous file was replaced")
			}
			if l := leftovers(t, h1.Dir); len(l) != 0 {
				t.Fatalf("temporary files left: %v", l)
			}
		})
		os.Remove(dst)
	})
}

// sshdChildren counts the connection processes of host h's listening sshd.
func sshdChildren(t testing.TB, h *testbed.Host) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.Dir, "sshd", "sshd.pid"))
	if err != nil {
		t.Fatalf("sshd pid: %v", err)
	}
	ppid := strings.TrimSpace(string(b))
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	n := 0
	for _, p := range stats {
		s, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(s, ')')
		if f := strings.Fields(string(s[i+1:])); len(f) > 1 && f[1] == ppid && f[0] != "Z" {
			n++
		}
	}
	return n
}

func readPid(t testing.TB, file string) int {
	t.Helper()
	b, _ := os.ReadFile(file)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid == 0 {
		t.Fatalf("no pid in %s", file)
	}
	return pid
}

func bedUID(t testing.TB) int {
	out, err := exec.Command("id", "-u", testbed.User).Output()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}
