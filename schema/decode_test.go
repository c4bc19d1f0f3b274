package schema_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
)

const head = "playbook: t\nfrom: \"3.4\"\nto: \"3.5\"\n"

// TestDecodePlaybook: a table of small playbooks, each either clean or
// failing with a message at a position.
func TestDecodePlaybook(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // "" for clean, else "line:col: message substring"
	}{
		{"minimal", head + "members:\n  steps:\n    - ssh-stop: {}\n", ""},
		{"null args", head + "members:\n  steps:\n    - ssh-stop:\n    - health:\n", ""},
		{"short forms", head + "members:\n  steps:\n    - swap: \"3.5\"\n    - wait: 2m\n    - confirm: go on?\n    - ssh-run: [etcdutl, check, v2store]\n    - ssh-run: \"etcdctl endpoint health\"\n", ""},
		{"step options", head + "members:\n  steps:\n    - name: stop\n      when: member.isLeader\n      timeout: 90s\n      retries: 2\n      ssh-stop: {}\n", ""},
		{"2.3 to 3.0 crosses the major", "playbook: t\nfrom: \"2.3\"\nto: \"3.0\"\nmembers:\n  steps:\n    - ssh-stop: {}\n", ""},
		{"anchors", head + "members:\n  steps:\n    - &stop {ssh-stop: {}}\n    - *stop\n", ""},
		{"vars", head + "vars: {big: 10, on: true}\nmembers:\n  steps:\n    - ssh-stop: {}\n      when: vars.on && vars.big > 3\n", ""},
		{"one minor down is a downgrade", "playbook: t\nfrom: \"3.5\"\nto: \"3.4\"\nmembers:\n  steps:\n    - ssh-stop: {}\n", ""},
		{"two minors down are refused", "playbook: t\nfrom: \"3.6\"\nto: \"3.4\"\nmembers:\n  steps:\n    - ssh-stop: {}\n", "3:5: playbook downgrades from 3.6 to 3.4"},
		{"empty steps", head + "members:\n  steps: []\n", "5:10: members.steps is empty"},
		{"members without steps", head + "members:\n  order: as-listed\n", "5:3: members: missing required key \"steps\""},
		{"repeated key", head + "from: \"3.4\"\nmembers:\n  steps:\n    - ssh-stop: {}\n", "4:1: playbook: key \"from\" is repeated"},
		{"two documents", head + "members:\n  steps:\n    - ssh-stop: {}\n---\nplaybook: again\n", "7:1: a file holds one playbook"},
		{"top is a list", "- health: {}\n", "1:1: a playbook must be a mapping"},
		{"bad var name", head + "vars: {has-dash: 1}\nmembers:\n  steps:\n    - ssh-stop: {}\n", "4:8: vars: \"has-dash\" is not a valid name"},
		{"swap needs to", head + "members:\n  steps:\n    - swap: {}\n", "6:13: swap: missing required key \"to\""},
		{"swap short form checked", head + "members:\n  steps:\n    - swap: \"3.6\"\n", "6:13: swap installs 3.6"},
		{"server needs member self", head + "members:\n  steps:\n    - assert-version: {server: \"3.5.*\"}\n", "assert-version: server needs member: self"},
		{"assert nothing", head + "members:\n  steps:\n    - assert-version: {}\n", "assert-version checks nothing"},
		{"min is exact", head + "preflight:\n  - assert-version: {min: \"3.4\"}\nmembers:\n  steps:\n    - ssh-stop: {}\n", "5:27: assert-version.min: \"3.4\" is not an exact version"},
		{"backup each in members", head + "members:\n  steps:\n    - backup: {from: each}\n", "6:15: backup from: each would back up every member once per member"},
		{"backup dir only for leader", head + "members:\n  steps:\n    - backup: {from: self, dir: /tmp}\n", "backup: dir applies to from: leader only"},
		{"wait timeout twice", head + "members:\n  steps:\n    - wait: {for: healthy, timeout: 1m}\n      timeout: 2m\n", "wait has two timeouts"},
		{"wait version without cluster-version", head + "members:\n  steps:\n    - wait: {for: healthy, version: \"3.5\"}\n", "version goes with for: cluster-version"},
		{"caught-up needs a member", head + "finish:\n  - wait: {for: caught-up}\nmembers:\n  steps:\n    - ssh-stop: {}\n", "5:5: wait acts on one member, but finish has no member"},
		{"expect_exit range", head + "members:\n  steps:\n    - ssh-run: {command: [true], expect_exit: 300}\n", "expect_exit must be 0 to 255"},
		{"check severity", head + "preflight:\n  - check: {that: \"true\", message: m, severity: fatal}\nmembers:\n  steps:\n    - ssh-stop: {}\n", "check.severity: \"fatal\" is not one of fail, warn"},
		{"step key typo", head + "members:\n  steps:\n    - ssh-stop: {}\n      wen: member.isLeader\n", "7:7: unknown action \"wen\""},
		{"guard as number", head + "members:\n  steps:\n    - ssh-stop: {}\n      when: 3\n", "7:13: when must be an expression in a string"},
		{"args not a mapping", head + "members:\n  steps:\n    - health: [all]\n", "6:15: health must be a mapping, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schema.LoadPlaybook("t.yaml", []byte(tt.src), steps.Default())
			check(t, err, tt.want)
		})
	}
}

func check(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			var list schema.ErrorList
			errors.As(err, &list)
			t.Fatalf("want clean, got:\n%s", list.Format())
		}
		return
	}
	var list schema.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("want %q, got %v", want, err)
	}
	for _, e := range list {
		positioned := want[0] >= '0' && want[0] <= '9'
		if (positioned && strings.HasPrefix(e.Error(), "t.yaml:"+want)) || (!positioned && strings.Contains(e.Msg, want)) {
			return
		}
	}
	t.Errorf("want %q, got:\n%s", want, list.Format())
}

func TestDecodeInventory(t *testing.T) {
	base := "cluster: c\nservice: {start: up, stop: down}\nbinary: /bin/etcd\n"
	member := "members:\n  - {name: a, host: h, client: http://h:2379}\n"
	tests := []struct {
		name, src, want string
	}{
		{"minimal", base + member, ""},
		{"api v2", base + "api: v2\n" + member, ""},
		{"per-member binary and service", "cluster: c\nmembers:\n  - {name: a, host: h, client: http://h:2379, binary: /b, service: {start: s, stop: t}}\n", ""},
		{"releases", base + "releases:\n  \"3.5.35\": {remote: /opt/etcd}\n  \"3.4.23\": {upload: ./etcd, sha256: " + strings.Repeat("ab", 32) + "}\n" + member, ""},
		{"release neither", base + "releases:\n  \"3.5.35\": {etcdctl: /x}\n" + member, "5:3: releases[3.5.35] says neither remote nor upload"},
		{"release key unquoted number", base + "releases:\n  3.5: {remote: /x}\n" + member, "5:3: releases key must be a quoted string"},
		{"empty members", base + "members: []\n", "4:10: members is empty"},
		{"member missing client", base + "members:\n  - {name: a, host: h}\n", "5:5: members[0]: missing required key \"client\""},
		{"url without port", base + "members:\n  - {name: a, host: h, client: http://h}\n", "has no port"},
		{"tls half", base + "tls: {cert: c.pem}\n" + member, "4:6: tls: cert and key go together"},
		{"port range", base + "ssh: {port: 70000}\n" + member, "4:13: ssh.port must be between 1 and 65535"},
		{"unknown ssh key", base + "ssh: {identity_file: x}\n" + member, "4:7: unknown key \"identity_file\" in ssh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schema.LoadInventory("t.yaml", []byte(tt.src))
			check(t, err, tt.want)
		})
	}
}

// TestResolveOverrides: every host setting, given at the top, on a member,
// or both, resolves the same way: the member's value wins field by field
// (inside ssh and service too), the top fills the rest, backup_dir has a
// default. Each case decodes a real inventory, so the decoder and Resolve
// are tested together.
func TestResolveOverrides(t *testing.T) {
	const top = "cluster: c\nssh: {user: etcd, port: 22, sudo: true, identity: ~/.ssh/id}\n" +
		"service: {start: systemctl start etcd, stop: systemctl stop etcd, status: systemctl is-active etcd}\n" +
		"binary: /usr/local/bin/etcd\netcdctl: /usr/local/bin/etcdctl\ndata_dir: /var/lib/etcd\n"
	const member = "members:\n  - name: m\n    host: h\n    client: http://h:2379\n"
	yes, no := true, false
	base := schema.MemberConfig{Name: "m", Host: "h", Client: "http://h:2379", Overrides: schema.Overrides{
		SSH:     &schema.SSH{User: "etcd", Port: 22, Sudo: &yes, Identity: "~/.ssh/id"},
		Service: &schema.Service{Start: "systemctl start etcd", Stop: "systemctl stop etcd", Status: "systemctl is-active etcd"},
		Binary:  "/usr/local/bin/etcd", Etcdctl: "/usr/local/bin/etcdctl", DataDir: "/var/lib/etcd", BackupDir: schema.DefaultBackupDir,
	}}
	tests := []struct {
		name   string
		src    string
		change func(c *schema.MemberConfig) // what differs from base
	}{
		{"the top alone", top + member, func(*schema.MemberConfig) {}},
		{"ssh: the member's fields win, the top's fill the rest", top + member + "    ssh: {port: 2222, sudo: false, jump: bastion}\n",
			func(c *schema.MemberConfig) { c.SSH.Port, c.SSH.Sudo, c.SSH.Jump = 2222, &no, "bastion" }},
		{"service: field by field", top + member + "    service: {stop: pkill etcd}\n",
			func(c *schema.MemberConfig) { c.Service.Stop = "pkill etcd" }},
		{"binary", top + member + "    binary: /opt/etcd\n", func(c *schema.MemberConfig) { c.Binary = "/opt/etcd" }},
		{"etcdctl", top + member + "    etcdctl: /opt/etcdctl\n", func(c *schema.MemberConfig) { c.Etcdctl = "/opt/etcdctl" }},
		{"data_dir", top + member + "    data_dir: /srv/etcd\n", func(c *schema.MemberConfig) { c.DataDir = "/srv/etcd" }},
		{"backup_dir at the top", top + "backup_dir: /srv/b\n" + member, func(c *schema.MemberConfig) { c.BackupDir = "/srv/b" }},
		{"backup_dir on the member over the top's", top + "backup_dir: /srv/b\n" + member + "    backup_dir: /srv/m\n",
			func(c *schema.MemberConfig) { c.BackupDir = "/srv/m" }},
		{"only on the member", "cluster: c\n" + member + "    ssh: {user: u}\n    service: {start: a, stop: b}\n    binary: /b\n",
			func(c *schema.MemberConfig) {
				*c = schema.MemberConfig{Name: "m", Host: "h", Client: "http://h:2379", Overrides: schema.Overrides{
					SSH: &schema.SSH{User: "u"}, Service: &schema.Service{Start: "a", Stop: "b"}, Binary: "/b", BackupDir: schema.DefaultBackupDir}}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := schema.LoadInventory("t.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			want := base
			ssh, svc := *base.SSH, *base.Service
			want.SSH, want.Service = &ssh, &svc
			tt.change(&want)
			got := inv.Resolve(inv.Members[0])
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Resolve:\n got %+v ssh %+v service %+v\nwant %+v ssh %+v service %+v", got, *got.SSH, *got.Service, want, *want.SSH, *want.Service)
			}
			// The result is the member's own: changing it leaves the inventory alone.
			got.SSH.User, got.Service.Stop = "changed", "changed"
			if again := inv.Resolve(inv.Members[0]); again.SSH.User == "changed" || again.Service.Stop == "changed" {
				t.Error("Resolve returned the inventory's own ssh or service")
			}
		})
	}
	if inv, _ := schema.LoadInventory("t.yaml", []byte(top+member)); inv.Member("m") != inv.Members[0] || inv.Member("zz") != nil {
		t.Error("Member lookup")
	}
}

func TestVersionPatterns(t *testing.T) {
	tests := []struct {
		pattern, version string
		match            bool
	}{
		{"3.5", "3.5.35", true},
		{"3.5.*", "3.5.0", true},
		{"3.5.35", "3.5.35", true},
		{"3.5.35", "3.5.3", false},
		{"3.5", "3.50.1", false},
		{"3.5", "3.4.9", false},
		{"2.2", "2.2.0-rc.0+git", true},
		{"3.5", "not a version", false},
	}
	for _, tt := range tests {
		p, err := schema.ParsePattern(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Match(tt.version); got != tt.match {
			t.Errorf("%s matches %s = %v, want %v", tt.pattern, tt.version, got, tt.match)
		}
	}
	for _, bad := range []string{"3", "3.x", "3.5.x", "v3.5", "3.5.35.1", "03.5", "3.5.*.*", ""} {
		if _, err := schema.ParsePattern(bad); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

func TestDetectKind(t *testing.T) {
	tests := map[string]schema.Kind{
		"playbook: x\n":                  schema.KindPlaybook,
		"cluster: x\n":                   schema.KindInventory,
		"members: {steps: []}\n":         schema.KindPlaybook,
		"members: []\n":                  schema.KindInventory,
		"name: x\n":                      schema.KindUnknown,
		"[1, 2]\n":                       schema.KindUnknown,
		"":                               schema.KindUnknown,
		"api: v3\nmembers: []\nx: 1\n":   schema.KindInventory,
		"from: \"3.4\"\nfinish: []\n":    schema.KindPlaybook,
		"\tbroken: [\n":                  schema.KindUnknown,
		"releases: {}\n":                 schema.KindInventory,
		"vars: {}\npreflight: []\n":      schema.KindPlaybook,
		"rollback: []\n":                 schema.KindPlaybook,
		"guide: g\nmembers: {}\n":        schema.KindPlaybook,
		"cluster: c\nplaybook: p\n":      schema.KindInventory,
		"playbook: p\ncluster: c\n":      schema.KindPlaybook,
		"# comment only\n":               schema.KindUnknown,
		"---\nplaybook: x\n":             schema.KindPlaybook,
		"members:\n  - name: a\n":        schema.KindInventory,
		"members:\n  steps:\n  - a: 1\n": schema.KindPlaybook,
	}
	for src, want := range tests {
		if got := schema.DetectKind([]byte(src)); got != want {
			t.Errorf("%q: got %q, want %q", src, got, want)
		}
	}
}
