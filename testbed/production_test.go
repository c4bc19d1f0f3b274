package testbed

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcdplay/etcdplay/schema"
)

// TestProductionBed brings up the production-shaped cluster and proves
// each property its doc promises, against the real processes, sshd and
// sudo, then tears it down and checks nothing is left.
func TestProductionBed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := StartT(t, Options{Version: "3.5", Production: true, ExtraFlags: []string{"--snapshot-count=5000"}})
	checkInventory(t, c)

	t.Run("inventory", func(t *testing.T) {
		src, _ := os.ReadFile(c.InventoryPath)
		inv, err := schema.LoadInventory(c.InventoryPath, src)
		if err != nil {
			t.Fatal(err)
		}
		if inv.TLS == nil || inv.TLS.CA != c.TLS.CA || inv.TLS.Cert != c.TLS.Cert || inv.TLS.Key != c.TLS.Key {
			t.Errorf("tls: %+v, want %+v", inv.TLS, c.TLS)
		}
		s := inv.SSH
		if s == nil || s.User != LoginUser || s.Port != ProductionSSHPort || s.Jump != LoginUser+"@"+c.Bastion.Addr+":2022" || s.Sudo == nil || !*s.Sudo {
			t.Errorf("ssh: %+v", s)
		}
		for i, m := range inv.Members {
			if !strings.HasPrefix(m.Client, "https://") || !strings.HasSuffix(m.Client, ":23790") {
				t.Errorf("%s: client %s", m.Name, m.Client)
			}
			if r := inv.Resolve(m); r.SSH.StageDir != c.Hosts[i].StageDir || r.SSH.Jump != s.Jump {
				t.Errorf("%s: resolved ssh %+v, want stage_dir %s", m.Name, r.SSH, c.Hosts[i].StageDir)
			}
		}
		kh, _ := os.ReadFile(c.KnownHostsPath)
		if !strings.Contains(string(kh), "["+c.Bastion.Addr+"]:2022 ") {
			t.Errorf("known_hosts has no bastion line:\n%s", kh)
		}
	})

	t.Run("TLS with client certificates", func(t *testing.T) {
		if err := c.WriteKeys(ctx, 200); err != nil {
			t.Fatal(err)
		}
		if n, err := c.VerifyKeys(ctx); err != nil || n != 200 {
			t.Fatalf("VerifyKeys: %d, %v", n, err)
		}
		if _, err := c.VerifyKeysOn(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Leader(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range c.Hosts {
			if v, err := c.ServerVersion(ctx, i); err != nil || v.Server != c.Version {
				t.Errorf("%s: version %+v, %v", c.Hosts[i].Name, v, err)
			}
		}
		h := c.Hosts[0]
		// Plain HTTP to a TLS port is no answer.
		if ok, err := Health(ctx, strings.Replace(h.ClientURL, "https://", "http://", 1)); ok || err == nil {
			t.Errorf("plain http was answered: %v %v", ok, err)
		}
		// TLS that trusts the CA but shows no client certificate is refused
		// at the handshake.
		tc, _ := c.TLSConfig()
		tc.Certificates = nil
		noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		if _, _, err := httpGet(ctx, noCert, h.ClientURL+"/health"); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("a client without a certificate got: %v", err)
		} else {
			t.Logf("no client certificate: %v", err)
		}
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{h.ClientURL}, TLS: tc, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
		if err == nil {
			pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
			_, err = cli.Put(pctx, "/etcdplay-bed/intruder", "x")
			pcancel()
			cli.Close()
		}
		if err == nil {
			t.Error("a v3 client without a client certificate could write")
		}
		// The CA of another cluster is not trusted.
		stranger := filepath.Join(t.TempDir(), "ca.crt")
		if err := NewCAFile(stranger); err != nil {
			t.Fatal(err)
		}
		bad, err := clientTLS(&TLSFiles{CA: stranger, Cert: c.TLS.Cert, Key: c.TLS.Key})
		if err != nil {
			t.Fatal(err)
		}
		wrongCA := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: bad}}
		if _, _, err := httpGet(ctx, wrongCA, h.ClientURL+"/health"); err == nil || !strings.Contains(err.Error(), "x509") {
			t.Errorf("a client with the wrong CA got: %v", err)
		}
	})

	t.Run("etcd runs as its own user from its config file", func(t *testing.T) {
		for i, h := range c.Hosts {
			pid := c.MemberPID(i)
			cmd := procCmdline(pid)
			if cmd != h.Binary()+" --config-file "+h.ConfigFile {
				t.Errorf("%s: etcd runs as %q", h.Name, cmd)
			}
			st, err := os.Stat("/proc/" + strconv.Itoa(pid))
			if err != nil || int(st.Sys().(*syscall.Stat_t).Uid) != c.svc.uid {
				t.Errorf("%s: etcd pid %d is not %s's: %v", h.Name, pid, EtcdUser, err)
			}
			assertOwner(t, h.DataDir, c.svc.uid, 0o700)
			assertOwner(t, h.BinDir, 0, 0o755)
			assertOwner(t, h.Binary(), 0, 0o755)
			assertOwner(t, h.Service, 0, 0o755)
			assertOwner(t, filepath.Join(h.Dir, "tls", "member.key"), c.svc.uid, 0o600)
			conf, _ := os.ReadFile(h.ConfigFile)
			if !strings.Contains(string(conf), "snapshot-count: 5000") || !strings.Contains(string(conf), "client-cert-auth: true") {
				t.Errorf("%s: config file:\n%s", h.Name, conf)
			}
		}
		// A fd the caller leaves open must not reach etcd (an SSH session
		// would hang on it).
		fds, _ := os.ReadDir("/proc/" + strconv.Itoa(c.MemberPID(0)) + "/fd")
		for _, fd := range fds {
			if target, _ := os.Readlink("/proc/" + strconv.Itoa(c.MemberPID(0)) + "/fd/" + fd.Name()); strings.HasPrefix(target, "pipe:") {
				t.Errorf("etcd holds an inherited pipe: fd %s -> %s", fd.Name(), target)
			}
		}
	})

	t.Run("sudo grants the service commands only", func(t *testing.T) {
		h := c.Hosts[1]
		_, err := c.SSH(ctx, 1, "sudo -n true")
		var se *SSHError
		if !errors.As(err, &se) || se.ExitCode != 1 {
			t.Fatalf("sudo -n true as %s: %v; want refused", LoginUser, err)
		}
		t.Logf("sudo -n true refused: %s", se.Stderr)
		out, err := c.SSH(ctx, 1, "sudo -n "+h.Service+" status")
		if err != nil || !strings.HasPrefix(out, "running pid ") {
			t.Fatalf("sudo -n svc status: %q, %v", out, err)
		}
		for _, allowed := range []string{
			h.Service + " stop",
			"/usr/bin/install -o root -g root -m 0755 -- " + filepath.Join(h.StageDir, "etcd-3.6.16") + " " + h.Binary() + ".etcdplay-new",
			"/usr/bin/mv -f -- " + h.Binary() + " " + h.Binary() + ".etcdplay-prev",
		} {
			if _, err := c.SSH(ctx, 1, "sudo -n -l "+allowed); err != nil {
				t.Errorf("sudo -n -l %s: %v", allowed, err)
			}
		}
		for _, refused := range []string{"sh -c true", "/usr/bin/install -m 0755 /tmp/x /usr/bin/etcd", h.Service + " restart"} {
			if _, err := c.SSH(ctx, 1, "sudo -n -l "+refused); err == nil {
				t.Errorf("sudo -n -l %s: allowed", refused)
			}
		}
		// The service script refuses to run without root.
		if _, err := c.SSH(ctx, 1, h.Service+" stop"); err == nil || c.MemberPID(1) == 0 {
			t.Errorf("the login user stopped etcd without sudo: %v", err)
		}
	})

	t.Run("SetSudoRules", func(t *testing.T) {
		rules, err := c.SudoRules()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SetSudoRules(ctx, []string{LoginUser + " ALL=(root) NOPASSWD: " + c.Hosts[0].Service + " status"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SSH(ctx, 0, "sudo -n -l "+c.Hosts[0].Service+" stop"); err == nil {
			t.Error("stop still allowed after SetSudoRules")
		}
		if err := c.SetSudoRules(ctx, []string{"this is not sudoers"}); err == nil || !strings.Contains(err.Error(), "visudo") {
			t.Errorf("a broken rule was installed: %v", err)
		}
		if err := c.SetSudoRules(ctx, rules); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SSH(ctx, 0, "sudo -n -l "+c.Hosts[0].Service+" stop"); err != nil {
			t.Errorf("stop not allowed after restoring the rules: %v", err)
		}
	})

	t.Run("binary folder is not the login user's", func(t *testing.T) {
		h := c.Hosts[0]
		for _, cmd := range []string{"touch " + h.BinDir + "/x", "mv " + h.Binary() + " " + h.Binary() + ".x", "ls " + h.DataDir, "cat " + filepath.Join(h.Dir, "tls", "member.key")} {
			if _, err := c.SSH(ctx, 0, cmd); err == nil {
				t.Errorf("%s could: %s", LoginUser, cmd)
			}
		}
		if _, err := c.SSH(ctx, 0, "touch "+h.BackupDir+"/x "+h.StageDir+"/x && rm "+h.BackupDir+"/x "+h.StageDir+"/x"); err != nil {
			t.Errorf("%s cannot write its backup and staging folders: %v", LoginUser, err)
		}
	})

	t.Run("SSH goes through the bastion", func(t *testing.T) {
		log, _ := os.ReadFile(c.Bastion.sshdDir("sshd.log"))
		if !strings.Contains(string(log), "Accepted publickey for "+LoginUser) {
			t.Errorf("the bastion never let %s in:\n%s", LoginUser, log)
		}
		if out, err := c.SSH(ctx, 2, "id -un"); err != nil || strings.TrimSpace(out) != LoginUser {
			t.Errorf("id -un: %q %v", out, err)
		}
	})

	t.Run("members restart through the script", func(t *testing.T) {
		w, err := c.StartWriter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.StopMember(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if err := c.StartMember(ctx, 2); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		st := w.Stop()
		if st.OK == 0 || st.Failed > 1 {
			t.Errorf("writer over TLS: %v", st)
		}
		t.Logf("writer over TLS through a follower's restart: %v", st)
	})

	var pids []int
	for i, h := range c.sshHosts() {
		pids = append(pids, h.sshdPID)
		if i > 0 {
			pids = append(pids, c.MemberPID(i-1))
		}
	}
	sudoers := c.SudoersPath
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	assertGone(t, c, pids)
	if _, err := os.Stat(sudoers); !os.IsNotExist(err) {
		t.Errorf("%s still there after Close: %v", sudoers, err)
	}
	withSlot(t, c.Slot, func() {
		if ls, err := Listening([]string{c.Bastion.Addr}); err != nil || len(ls) > 0 {
			t.Errorf("the bastion still listens after Close: %v %v", ls, err)
		}
	})
	// Nothing of the two users outside the bed: the login user's home
	// holds only its SSH folder.
	for _, dir := range []string{"/tmp", "/var/tmp", "/etc/sudoers.d", "/run"} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if info, err := d.Info(); err == nil {
				if uid := int(info.Sys().(*syscall.Stat_t).Uid); uid == c.svc.uid || uid == c.acc.uid {
					t.Errorf("%s belongs to the bed's users after Close", p)
				}
			}
			return nil
		})
	}
	// The login user's home is shared by every production cluster (other
	// tests' etcdplay runs stage there under their cluster's name), so
	// only what names this cluster counts.
	_ = filepath.WalkDir(c.acc.home, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(p, c.Name) {
			t.Errorf("%s left in %s's home", p, LoginUser)
		}
		return nil
	})
}

func assertOwner(t *testing.T, path string, uid int, mode os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if got := int(st.Sys().(*syscall.Stat_t).Uid); got != uid || st.Mode().Perm() != mode {
		t.Errorf("%s: uid %d mode %v; want uid %d mode %v", path, got, st.Mode().Perm(), uid, mode)
	}
}

// TestProductionBedVersions brings the production shape up on every other
// v3 minor the upgrades start from or reach: the config file's keys and
// the TLS setup must hold from Debian's 3.4 to 3.7.
func TestProductionBedVersions(t *testing.T) {
	for _, v := range []string{"3.4", "3.6", "3.7"} {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c := StartT(t, Options{Version: v, Production: true})
			if err := c.WriteKeys(ctx, 100); err != nil {
				t.Fatal(err)
			}
			if n, err := c.VerifyKeys(ctx); err != nil || n != 100 {
				t.Fatalf("VerifyKeys: %d, %v", n, err)
			}
			if out, err := c.SSH(ctx, 0, "sudo -n "+c.Hosts[0].Service+" status"); err != nil {
				t.Fatalf("sudo -n svc status: %q %v", out, err)
			}
			t.Logf("etcd %s up over TLS in %v", c.Version, c.StartTime.Round(time.Millisecond))
		})
	}
}

func TestSlotAliases(t *testing.T) {
	in := []string{
		"# ETCDPLAY_HOST1 stays in a comment",
		"Cmnd_Alias ETCDPLAY_HOST1 = \\",
		"    /x/svc.sh stop, \\",
		"    /x/svc.sh start",
		"Cmnd_Alias ETCDPLAY_HOST10 = /y/svc.sh stop",
		"etcdlogin ALL=(root) NOPASSWD: ETCDPLAY_HOST1, ETCDPLAY_HOST10",
	}
	got := slotAliases(in, 7)
	want := []string{
		"# ETCDPLAY_HOST1 stays in a comment",
		"Cmnd_Alias ETCDPLAY_HOST1_BED7 = \\",
		"    /x/svc.sh stop, \\",
		"    /x/svc.sh start",
		"Cmnd_Alias ETCDPLAY_HOST10_BED7 = /y/svc.sh stop",
		"etcdlogin ALL=(root) NOPASSWD: ETCDPLAY_HOST1_BED7, ETCDPLAY_HOST10_BED7",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if again := slotAliases(got, 7); strings.Join(again, "\n") != strings.Join(want, "\n") {
		t.Errorf("not idempotent:\n%s", strings.Join(again, "\n"))
	}
}
