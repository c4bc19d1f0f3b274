package redact

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const pem = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5kXmNbfRSh9YioAoGCCqGSM49
-----END EC PRIVATE KEY-----`

func TestIsSecretKey(t *testing.T) {
	for key, want := range map[string]bool{
		"key": true, "tls.key": true, "KeyFile": true, "password": true,
		"etcd_passwd": true, "Token": true, "client-secret": true,
		"private_key_pem": true, "aws_credentials": true,
		"member": false, "version": false, "host": false, "cert": false,
		"ca": false, "sha256": false, "path": false,
		"sshKey": true, "api_key": true, "TLSKey": true, "keys": false, "monkey": false,
	} {
		if got := IsSecretKey(key); got != want {
			t.Errorf("IsSecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text stays", "plain text stays"},
		{"cert:\n" + pem + "\nafter", "cert:\n[redacted]\nafter"},
		{pem + "\n" + pem, "[redacted]\n[redacted]"},
		// cut short: everything from BEGIN on is hidden
		{"out: -----BEGIN RSA PRIVATE KEY-----\nMIIEow", "out: [redacted]"},
		{"etcdctl --password=hunter2 get /", "etcdctl --password=[redacted] get /"},
		{"etcdctl --password hunter2 get /", "etcdctl --password [redacted] get /"},
		{"curl -token abc123", "curl -token [redacted]"},
		{"--auth-token=simple", "--auth-token=[redacted]"},
		{"etcdctl --user root:hunter2 member list", "etcdctl --user root:[redacted] member list"},
		{"etcdctl --user=root:hunter2", "etcdctl --user=root:[redacted]"},
		{"etcdctl --user root member list", "etcdctl --user root member list"},
		{"a non-secret value", "a non-secret value"},
		{"--data-dir /var/lib/etcd", "--data-dir /var/lib/etcd"},
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

type stringer struct{}

func (stringer) String() string { return "--password=x" }

func TestValueAndFields(t *testing.T) {
	in := map[string]any{
		"member":   "infra0",
		"key":      "/etc/etcd/client-key.pem",
		"password": 12345,
		"tls":      map[string]any{"ca": "ca.pem", "key": "k.pem", "cert": pem},
		"env":      map[string]string{"ETCDCTL_PASSWORD": "x", "HOME": "/root"},
		"argv":     []string{"etcdctl", "--password=x"},
		"list":     []any{pem, 3},
		"err":      errors.New("dial: --token t0k"),
		"str":      stringer{},
		"bytes":    []byte(pem),
		"n":        7,
	}
	want := map[string]any{
		"member":   "infra0",
		"key":      Mask,
		"password": Mask,
		"tls":      map[string]any{"ca": "ca.pem", "key": Mask, "cert": Mask},
		"env":      map[string]string{"ETCDCTL_PASSWORD": Mask, "HOME": "/root"},
		"argv":     []string{"etcdctl", "--password=" + Mask},
		"list":     []any{Mask, 3},
		"err":      "dial: --token " + Mask,
		"str":      "--password=" + Mask,
		"bytes":    Mask,
		"n":        7,
	}
	got := Fields(in)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Fields:\n got %#v\nwant %#v", got, want)
	}
	if in["key"] != "/etc/etcd/client-key.pem" {
		t.Error("Fields modified its input")
	}
	if Fields(nil) != nil {
		t.Error("Fields(nil) != nil")
	}
}

// A sudoers line names a command, not a secret: a refusal that prints the
// missing rule must print it whole.
func TestSudoersTagIsNotASecret(t *testing.T) {
	line := "etcdlogin ALL=(root) NOPASSWD: /usr/local/sbin/etcd-svc stop"
	if got := String(line); got != line {
		t.Fatalf("String(%q) = %q", line, got)
	}
	if got := String("DB_PASSWD: hunter22"); strings.Contains(got, "hunter22") {
		t.Fatalf("a PASSWD: value leaked: %q", got)
	}
}

// Text that only looks like a secret stays readable: sudoers tags, file
// positions after a file name with a secret word in it.
func TestStringKeepsLookalikes(t *testing.T) {
	for _, s := range []string{
		"etcdlogin ALL=(root) NOPASSWD: /usr/local/sbin/etcd-stop stop",
		"inv-credentials.yaml:5:45: members[0].client is bad",
		"keys: 200",
	} {
		if got := String(s); got != s {
			t.Errorf("String(%q) = %q, want it unchanged", s, got)
		}
	}
}
