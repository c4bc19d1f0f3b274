package ssh

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestResolveFromSSHConfig(t *testing.T) {
	home := t.TempDir()
	cfgFile := filepath.Join(home, "cfg")
	os.WriteFile(cfgFile, []byte(`
Host bastion
  HostName 10.0.0.1
  User jumper
  Port 2200

Host db1
  HostName 10.0.0.11
  User etcd
  Port 2222
  IdentityFile ~/keys/%h.key
  IdentityFile %d/keys/second
  UserKnownHostsFile ~/kh1 %d/kh2
  ProxyJump bastion,ops@10.0.0.2:2201

Host *
  User fallback
`), 0o600)
	c := Config{Host: "db1", SSHConfigFile: cfgFile, HomeDir: home, AgentSocket: "none"}
	tg, err := c.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if tg.hostName != "10.0.0.11" || tg.port != 2222 || tg.user != "etcd" {
		t.Fatalf("got %s@%s:%d", tg.user, tg.hostName, tg.port)
	}
	wantIDs := []string{home + "/keys/10.0.0.11.key", home + "/keys/second",
		home + "/.ssh/id_ed25519", home + "/.ssh/id_ecdsa", home + "/.ssh/id_rsa"}
	if !reflect.DeepEqual(tg.identityFiles, wantIDs) || tg.explicitIDs != 2 {
		t.Fatalf("identities %q (%d explicit)", tg.identityFiles, tg.explicitIDs)
	}
	wantKH := []string{home + "/kh1", home + "/kh2", home + "/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts"}
	if !reflect.DeepEqual(tg.knownHosts, wantKH) {
		t.Fatalf("known_hosts %q", tg.knownHosts)
	}
	if len(tg.jumps) != 2 {
		t.Fatalf("want 2 hops, got %d", len(tg.jumps))
	}
	if j := tg.jumps[0]; j.hostName != "10.0.0.1" || j.user != "jumper" || j.port != 2200 {
		t.Fatalf("hop 1: %s", j)
	}
	if j := tg.jumps[1]; j.hostName != "10.0.0.2" || j.user != "ops" || j.port != 2201 {
		t.Fatalf("hop 2: %s", j)
	}

	// The inventory overrides ssh_config, field by field.
	c.HostName, c.User, c.Port, c.ProxyJump = "10.9.9.9", "root", 22, "none"
	c.IdentityFiles = []string{"~/inv.key"}
	c.KnownHostsFiles = []string{"~/inv_known"}
	tg, err = c.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if tg.hostName != "10.9.9.9" || tg.port != 22 || tg.user != "root" || len(tg.jumps) != 0 {
		t.Fatalf("override: %s jumps %d", tg, len(tg.jumps))
	}
	if tg.identityFiles[0] != home+"/inv.key" || tg.knownHosts[0] != home+"/inv_known" || tg.appendTo[0] != home+"/inv_known" {
		t.Fatalf("override files: %q %q", tg.identityFiles, tg.knownHosts)
	}

	// A host the file only knows through "Host *".
	tg, err = Config{Host: "10.1.1.1", SSHConfigFile: cfgFile, HomeDir: home}.resolve()
	if err != nil || tg.user != "fallback" || tg.port != 22 || tg.hostName != "10.1.1.1" {
		t.Fatalf("wildcard: %v %v", tg, err)
	}
}

func TestDefaultSSHConfigIsHomeConfig(t *testing.T) {
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".ssh"), 0o700)
	os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte("Host a\n  HostName 1.2.3.4\n  Port 2022\n"), 0o600)
	tg, err := Config{Host: "a", HomeDir: home, User: "u"}.resolve()
	if err != nil || tg.hostName != "1.2.3.4" || tg.port != 2022 {
		t.Fatalf("%v %v", tg, err)
	}
	tg, err = Config{Host: "a", HomeDir: home, User: "u", SSHConfigFile: "none"}.resolve()
	if err != nil || tg.hostName != "a" || tg.port != 22 {
		t.Fatalf("none: %v %v", tg, err)
	}
}

func TestParseJump(t *testing.T) {
	for in, want := range map[string]Config{
		"host":            {Host: "host"},
		"u@host":          {Host: "host", User: "u"},
		"u@host:2222":     {Host: "host", User: "u", Port: 2222},
		"[::1]:2222":      {Host: "::1", Port: 2222},
		"ssh://u@h:22":    {Host: "h", User: "u", Port: 22},
		"a.b@host.domain": {Host: "host.domain", User: "a.b"},
	} {
		got, err := parseJump(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseJump(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "h:notaport", "h:0"} {
		if _, err := parseJump(bad); err == nil {
			t.Errorf("parseJump(%q) accepted", bad)
		}
	}
}

func TestUnsupportedSSHConfigIsAClearError(t *testing.T) {
	home := t.TempDir()
	cfgFile := filepath.Join(home, "cfg")
	os.WriteFile(cfgFile, []byte("Match exec \"true\"\n  User x\n"), 0o600)
	_, err := Config{Host: "h", SSHConfigFile: cfgFile, HomeDir: home}.resolve()
	if err == nil || !strings.Contains(err.Error(), cfgFile) || !strings.Contains(err.Error(), "ssh.config") {
		t.Fatalf("want an error naming the file and the way out, got %v", err)
	}
}
