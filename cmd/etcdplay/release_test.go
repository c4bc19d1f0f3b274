package main

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReleaseSnapshot builds a snapshot release with scripts/release.sh
// into a temporary folder, as CI does: both archives are listed in
// SHA256SUMS with the right sums, hold a static binary of the right
// architecture with LICENSE and README.md, and the binary for this machine
// prints the stamped version. It cross-compiles twice from a cold cache
// (minutes), so it runs only when asked: scripts/test.sh's "release
// snapshot" phase sets ETCDPLAY_RELEASE_TEST=1.
func TestReleaseSnapshot(t *testing.T) {
	if testing.Short() || os.Getenv("ETCDPLAY_RELEASE_TEST") != "1" {
		t.Skip("builds two release binaries; ETCDPLAY_RELEASE_TEST=1 runs it (scripts/test.sh does)")
	}
	for _, tool := range []string{"bash", "tar", "sha256sum", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: %v", tool, err)
		}
	}
	dist := t.TempDir()
	cmd := exec.Command("bash", "../../scripts/release.sh", "v0.0.0-test")
	cmd.Env = append(os.Environ(), "DIST="+dist)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(sums)), "\n")
	if len(lines) != 2 {
		t.Fatalf("SHA256SUMS:\n%s\nwant two archives", sums)
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for _, line := range lines {
		sum, file, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", line)
		}
		b, err := os.ReadFile(filepath.Join(dist, file))
		if err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: sum does not match SHA256SUMS", file)
		}
		arch := strings.TrimSuffix(strings.TrimPrefix(file, "etcdplay-v0.0.0-test-linux-"), ".tar.gz")
		want, ok := machines[arch]
		if !ok {
			t.Errorf("unexpected archive %s", file)
			continue
		}
		delete(machines, arch)
		x := t.TempDir()
		if out, err := exec.Command("tar", "-xzf", filepath.Join(dist, file), "-C", x).CombinedOutput(); err != nil {
			t.Fatalf("untar %s: %v\n%s", file, err, out)
		}
		dir := filepath.Join(x, strings.TrimSuffix(file, ".tar.gz"))
		for _, f := range []string{"LICENSE", "README.md"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%s: %v", file, err)
			}
		}
		bin := filepath.Join(dir, "etcdplay")
		ef, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		if ef.Machine != want {
			t.Errorf("%s: machine %v, want %v", file, ef.Machine, want)
		}
		for _, p := range ef.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s: dynamically linked (%v); release binaries must be static", file, p.Type)
			}
		}
		ef.Close()
		if arch == runtime.GOARCH && runtime.GOOS == "linux" {
			out, err := exec.Command(bin, "version").Output()
			if err != nil || !strings.HasPrefix(string(out), "etcdplay v0.0.0-test (") {
				t.Errorf("%s version: %q, %v", file, out, err)
			}
		}
	}
	if len(machines) > 0 {
		t.Errorf("no archive for %v", machines)
	}
}
