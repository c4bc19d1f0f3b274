package sandbox

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/testbed"
)

func TestVersionsAddTheNextMinor(t *testing.T) {
	for _, tc := range []struct {
		version string
		also    []string
		want    []string
	}{
		{"3.5", nil, []string{"3.5.35", "3.6.16"}},
		{"3.5", []string{"3.6"}, []string{"3.5.35", "3.6.16"}},
		{"3.5.21", nil, []string{"3.5.21", "3.6.16"}},
		{"3.4", nil, []string{"3.4.23", "3.5.35"}},
		{"3.7", nil, []string{"3.7.3"}},
		{"2.0", nil, []string{"2.0.8", "2.1.1"}},
	} {
		got, err := Versions(tc.version, tc.also)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Versions(%q, %q) = %q, %v; want %q", tc.version, tc.also, got, err, tc.want)
		}
	}
	if _, err := Versions("3.9", nil); err == nil || !strings.Contains(err.Error(), "roles: ") {
		t.Errorf("Versions(3.9): %v, want the roles listed", err)
	}
}

func TestChooseSSH(t *testing.T) {
	t.Setenv("ETCDPLAY_SANDBOX_SSH", "")
	if m, _, err := ChooseSSH("builtin"); m != SSHBuiltin || err != nil {
		t.Errorf("builtin: %q %v", m, err)
	}
	if _, _, err := ChooseSSH("telnet"); err == nil {
		t.Error("an unknown mode was accepted")
	}
	t.Setenv("ETCDPLAY_SANDBOX_SSH", "builtin")
	if m, why, _ := ChooseSSH(""); m != SSHBuiltin || why != "asked for" {
		t.Errorf("$ETCDPLAY_SANDBOX_SSH=builtin gave %q (%s)", m, why)
	}
	t.Setenv("ETCDPLAY_SANDBOX_SSH", "")
	_, sshdErr := os.Stat("/usr/sbin/sshd")
	_, userErr := user.Lookup(testbed.User)
	bed := os.Geteuid() == 0 && sshdErr == nil && userErr == nil
	m, why, err := ChooseSSH("auto")
	if err != nil || (m == SSHOpenSSH) != bed {
		t.Errorf("auto: %q (%s) %v; root+sshd+%s is %v", m, why, err, testbed.User, bed)
	}
	t.Logf("auto picks %s here: %s", m, why)
}

func TestUpRefusesAFolderInUse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "inventory.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Up(context.Background(), Options{Dir: dir})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("Up on a used folder: %v, want ErrExists", err)
	}
	if _, err := Down(context.Background(), filepath.Join(dir, "none")); !errors.Is(err, ErrNoSandbox) {
		t.Fatalf("Down of a missing folder: %v, want ErrNoSandbox", err)
	}
}

func TestBuildNeedsGo(t *testing.T) {
	t.Setenv("ETCDPLAY_BED", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	err := EnsureBinaries(context.Background(), []string{"3.6"}, nil)
	if err == nil || !strings.Contains(err.Error(), "needs Go on PATH") {
		t.Fatalf("without go: %v", err)
	}
}

// syncWriter collects progress from the builder's goroutines.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestBuildFromModuleProxy builds etcd 3.6 into an empty bed exactly as a
// fresh machine does (go mod init, go get from the module proxy, go
// build), with the machine's Go caches, which keeps it to the link steps
// when they are warm; then Debian's 3.4 is copied in and 2.1 is built with
// the go1.21.13 toolchain. A cold build of 3.5 and 3.6 is the same code
// with empty caches (2m49s measured on 2 busy cores).
//
// It needs the module proxy and takes minutes on cold Go caches, so it runs
// where the bed is provisioned: provision.sh fetched these modules into the
// same caches.
func TestBuildFromModuleProxy(t *testing.T) {
	testbed.Require(t, testbed.Binaries("3.6", "2.1"))
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the sandbox builds etcd with the go command: %v", err)
	}
	bed := t.TempDir()
	t.Setenv("ETCDPLAY_BED", bed)
	var out syncWriter
	began := time.Now()
	if err := EnsureBinaries(context.Background(), []string{"3.6"}, NewProgress(&out)); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Logf("built etcd 3.6.16 in %v:\n%s", time.Since(began).Round(time.Second), out.String())
	for _, want := range []string{"etcd 3.6.16: go get (module proxy)", "etcd 3.6.16: go build etcd", "etcd 3.6.16: go build etcdutl"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Error("colour or cursor codes written to a non-terminal")
	}
	if err := testbed.CheckBinaries("3.6.16"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bed, "build", "v3.6.16", "go.mod")); err != nil {
		t.Errorf("the build module is not where provision.sh keeps it: %v", err)
	}
	// Present now: nothing to do, nothing printed.
	out = syncWriter{}
	if err := EnsureBinaries(context.Background(), []string{"3.6.16"}, NewProgress(&out)); err != nil || out.String() != "" {
		t.Fatalf("second ensure: %v, printed %q", err, out.String())
	}
	if _, err := os.Stat("/usr/bin/etcd"); err == nil {
		if err := EnsureBinaries(context.Background(), []string{"3.4"}, NewProgress(&out)); err != nil {
			t.Fatalf("3.4 from Debian: %v", err)
		}
	}
	// 2.x: the go1.21.13 toolchain, fetched from the module proxy by the go
	// command (cached after the first time).
	out = syncWriter{}
	began = time.Now()
	if err := EnsureBinaries(context.Background(), []string{"2.1"}, NewProgress(&out)); err != nil {
		t.Fatalf("2.1: %v\n%s", err, out.String())
	}
	t.Logf("built etcd 2.1.1 in %v:\n%s", time.Since(began).Round(time.Second), out.String())
	if err := testbed.CheckBinaries("2.1.1"); err != nil {
		t.Fatal(err)
	}
}

func TestUpThatFailsLeavesNothing(t *testing.T) {
	testbed.Require(t, testbed.Binaries("3.5"))
	dir := filepath.Join(t.TempDir(), "sandbox")
	// A supervisor that dies at once, as one whose cluster cannot start.
	_, err := Up(context.Background(), Options{Dir: dir, SSH: SSHBuiltin, Executable: "/bin/false"})
	if err == nil || !strings.Contains(err.Error(), "supervisor exited (exit status 1) before the cluster was up") {
		t.Fatalf("Up with a failing supervisor: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed up left %s behind (%v)", dir, err)
	}
}

// TestUserSandboxCopiesTheProvisionedBed: a user's sandbox (its bed in
// their home) copies a version the root-provisioned bed already has
// instead of building it.
func TestUserSandboxCopiesTheProvisionedBed(t *testing.T) {
	system := t.TempDir()
	dir := filepath.Join(system, "3.6.16")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"etcd", "etcdctl", "etcdutl"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\necho '"+name+" Version: 3.6.16'\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	orig := systemBinDir
	t.Cleanup(func() { systemBinDir = orig })
	systemBinDir = func() string { return system }
	t.Setenv("ETCDPLAY_BED", t.TempDir())
	t.Setenv("PATH", t.TempDir()) // no go: a build would fail
	var out syncWriter
	if err := EnsureBinaries(context.Background(), []string{"3.6"}, NewProgress(&out)); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "etcd 3.6.16: copy the test bed's build from "+dir) {
		t.Errorf("progress does not say it copied:\n%s", out.String())
	}
	if err := testbed.CheckBinaries("3.6.16"); err != nil {
		t.Fatal(err)
	}
}
