package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/etcdplay/etcdplay/testbed"
)

// The sandbox's etcd binaries live where the test bed keeps them
// (testbed.BinDir: $ETCDPLAY_BED/bin/<version>, default
// /var/cache/etcdplay/bed/bin/<version> for root and
// ~/.cache/etcdplay/bed/bin/<version> for anyone else), so a machine
// provisioned for the tests builds nothing, and what the sandbox builds the
// tests reuse. A user's sandbox copies what the provisioned bed has. A
// missing version is built exactly as testbed/provision.sh builds it (a
// throwaway module whose main calls etcdmain, `go get` of the release's
// server, etcdctl and etcdutl modules from the module proxy, `go build
// -trimpath`), under provision.sh's lock so the two never build into one
// folder at once.

// v2Toolchain builds etcd 2.x: its vendored codec panics at init when
// built with Go 1.22 or later. The go command fetches it from the module
// proxy like any module (a few seconds, once).
const v2Toolchain = "go1.21.13"

// EnsureBinaries makes every version's binaries present in the cache,
// building (or, for Debian's 3.4, copying) what is missing, and reports
// each step to p.
func EnsureBinaries(ctx context.Context, versions []string, p *Progress) error {
	for _, v := range versions {
		if err := ensure(ctx, v, p); err != nil {
			return err
		}
	}
	return nil
}

func ensure(ctx context.Context, version string, p *Progress) error {
	v, err := versionInfo(version)
	if err != nil {
		return err
	}
	if testbed.CheckBinaries(v.Version) == nil {
		return nil
	}
	if err := os.MkdirAll(testbed.Dir(), 0o755); err != nil {
		return err
	}
	unlock, err := flock(filepath.Join(testbed.Dir(), ".provision.lock"), p)
	if err != nil {
		return err
	}
	defer unlock()
	if testbed.CheckBinaries(v.Version) == nil { // built while we waited
		return nil
	}
	if from := systemBinDir(); from != "" {
		if err := copyProvisioned(filepath.Join(from, v.Version), v.Version, p); err == nil {
			return nil
		}
	}
	switch v.Source {
	case "debian":
		return copyDebian(v.Version, p)
	case "v2", "v3":
		return build(ctx, v, p)
	case "v3old":
		// Its dependency pins live in the source tree (testbed/oldetcd),
		// which a built etcdplay does not carry.
		return fmt.Errorf("etcd %s is built only by testbed/provision.sh (it needs the pins in testbed/oldetcd); run: sudo bash testbed/provision.sh", v.Version)
	}
	return fmt.Errorf("etcd %s: unknown source %q in versions.txt", v.Version, v.Source)
}

func versionInfo(version string) (testbed.Version, error) {
	exact, err := testbed.Resolve(version)
	if err != nil {
		return testbed.Version{}, err
	}
	for _, v := range testbed.Versions() {
		if v.Version == exact {
			return v, nil
		}
	}
	return testbed.Version{}, fmt.Errorf("etcd %s: not in versions.txt", version)
}

// build builds one release from the module proxy into the cache.
func build(ctx context.Context, v testbed.Version, p *Progress) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("etcd %s is not in %s and building it needs Go on PATH (https://go.dev/dl), or a provisioned bed (testbed/provision.sh)",
			v.Version, testbed.BinDir(v.Version))
	}
	dir := filepath.Join(testbed.Dir(), "build", "v"+v.Version)
	bin := testbed.BinDir(v.Version)
	for _, d := range []string{dir, bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	env := append(os.Environ(), "GOFLAGS=-buildvcs=false", "CGO_ENABLED=0")
	var modules []string
	var builds [][2]string // output name, package
	if v.Source == "v2" {
		env = append(env, "GOTOOLCHAIN="+v2Toolchain, "GOFLAGS=-mod=mod -buildvcs=false")
		// go 1.20: the go1.21 toolchain refuses a newer go line.
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module bed/etcd"+v.Version+"\n\ngo 1.20\n"), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(mainV2), 0o644); err != nil {
			return err
		}
		modules = []string{"github.com/coreos/etcd@v" + v.Version + "+incompatible"}
		builds = [][2]string{{"etcd", "."}, {"etcdctl", "github.com/coreos/etcd/etcdctl"}}
	} else {
		env = append(env, "GOTOOLCHAIN=local")
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(mainV3), 0o644); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
			if err := run(ctx, dir, env, gobin, "mod", "init", "bed/etcd"+v.Version); err != nil {
				return fmt.Errorf("etcd %s: %w", v.Version, err)
			}
		}
		for _, m := range []string{"server", "etcdctl", "etcdutl"} {
			modules = append(modules, "go.etcd.io/etcd/"+m+"/v3@v"+v.Version)
		}
		builds = [][2]string{{"etcd", "."}, {"etcdctl", "go.etcd.io/etcd/etcdctl/v3"}, {"etcdutl", "go.etcd.io/etcd/etcdutl/v3"}}
	}
	step := p.Step(fmt.Sprintf("etcd %s: go get (module proxy)", v.Version))
	err = run(ctx, dir, env, gobin, append([]string{"get"}, modules...)...)
	step(err)
	if err != nil {
		return fmt.Errorf("etcd %s: %w", v.Version, err)
	}
	for _, b := range builds {
		step := p.Step(fmt.Sprintf("etcd %s: go build %s", v.Version, b[0]))
		out := filepath.Join(bin, b[0])
		err := run(ctx, dir, env, gobin, "build", "-trimpath", "-o", out+".tmp", b[1])
		if err == nil {
			err = os.Rename(out+".tmp", out)
		}
		step(err)
		if err != nil {
			return fmt.Errorf("etcd %s: %w", v.Version, err)
		}
	}
	return checkVersion(v.Version)
}

const mainV3 = `package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
`

const mainV2 = `package main

import "github.com/coreos/etcd/etcdmain"

func main() { etcdmain.Main() }
`

// copyDebian puts Debian's etcd 3.4 into the cache, as provision.sh does
// (copies, so a swap in a host folder never touches the system package).
// 3.4 cannot be built from the module proxy.
func copyDebian(version string, p *Progress) error {
	out, err := exec.Command("/usr/bin/etcd", "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "etcd Version: "+version+"\n") {
		return fmt.Errorf("etcd %s comes only from Debian's etcd-server package (3.4 cannot be built from the Go module proxy): "+
			"install it (apt-get install etcd-server etcd-client), or pick --version 3.5", version)
	}
	step := p.Step("etcd " + version + ": copy Debian's /usr/bin/etcd and etcdctl")
	bin := testbed.BinDir(version)
	err = os.MkdirAll(bin, 0o755)
	for _, name := range []string{"etcd", "etcdctl"} {
		if err == nil {
			err = copyExec(filepath.Join("/usr/bin", name), filepath.Join(bin, name))
		}
	}
	step(err)
	if err != nil {
		return err
	}
	return checkVersion(version)
}

// systemBinDir is where a root-provisioned bed keeps its builds, for a
// sandbox whose own bed is elsewhere (a user's ~/.cache/etcdplay/bed); ""
// when the bed is that folder or ETCDPLAY_BED names one.
var systemBinDir = func() string {
	if os.Getenv("ETCDPLAY_BED") != "" || testbed.Dir() == testbed.SystemDir {
		return ""
	}
	return filepath.Join(testbed.SystemDir, "bin")
}

// copyProvisioned copies a version's binaries from the provisioned bed
// (copies: they are root's, and a user cannot hard-link them), or fails
// when it lacks one, and the caller builds instead.
func copyProvisioned(from, version string, p *Progress) error {
	ents, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	step := p.Step(fmt.Sprintf("etcd %s: copy the test bed's build from %s", version, from))
	bin := testbed.BinDir(version)
	err = os.MkdirAll(bin, 0o755)
	for _, e := range ents {
		if err == nil && e.Type().IsRegular() {
			err = copyExec(filepath.Join(from, e.Name()), filepath.Join(bin, e.Name()))
		}
	}
	if err == nil {
		err = checkVersion(version)
	}
	step(err)
	return err
}

func copyExec(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst+".tmp", b, 0o755); err != nil {
		return err
	}
	return os.Rename(dst+".tmp", dst)
}

// checkVersion makes sure the cached etcd says what it is meant to be.
func checkVersion(version string) error {
	etcd := filepath.Join(testbed.BinDir(version), "etcd")
	out, _ := exec.Command(etcd, "--version").CombinedOutput()
	first := strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	if !strings.HasSuffix(first, " "+version) {
		return fmt.Errorf("%s --version says %q, want %s", etcd, first, version)
	}
	return testbed.CheckBinaries(version)
}

// run runs the go command quietly; its output is shown only on failure.
func run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		text := strings.TrimSpace(out.String())
		if lines := strings.Split(text, "\n"); len(lines) > 15 {
			text = strings.Join(lines[len(lines)-15:], "\n")
		}
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, text)
	}
	return nil
}

// flock takes the bed's provisioning lock, saying so when it has to wait.
func flock(path string, p *Progress) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, err
		}
		p.Logf("another build (provision.sh or a sandbox) holds %s; waiting for it", path)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, err
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
