package testbed

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// versionsTxt is embedded so that a built etcdplay binary (the sandbox
// command) knows the pinned versions without the source tree.
//
//go:embed versions.txt
var versionsTxt string

// Version is one line of versions.txt.
type Version struct {
	Version string // exact etcd version, "3.5.35"
	Source  string // how provision.sh gets it: v2, v3, v3old or debian
	Role    string // the name tests use instead of a literal version: "3.5", "3.5-below-floor"
}

// API is the client API a cluster of this version speaks: "v2" for 2.x,
// "v3" otherwise.
func (v Version) API() string { return apiOf(v.Version) }

func apiOf(version string) string {
	if strings.HasPrefix(version, "2.") {
		return "v2"
	}
	return "v3"
}

var (
	versionsOnce sync.Once
	versionsList []Version
	versionsErr  error
)

// Versions returns the versions pinned in versions.txt, in file order
// (oldest first).
func Versions() []Version {
	versionsOnce.Do(func() { versionsList, versionsErr = parseVersions(versionsTxt) })
	if versionsErr != nil {
		// versions.txt is compiled in; a bad line is a programming error
		// caught by the package's own tests.
		panic(versionsErr)
	}
	return append([]Version(nil), versionsList...)
}

func parseVersions(text string) ([]Version, error) {
	var out []Version
	seen := map[string]int{}
	for n, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("versions.txt:%d: want \"version source [role]\", got %q", n+1, line)
		}
		v := Version{Version: f[0], Source: f[1]}
		if len(f) == 3 {
			v.Role = f[2]
		}
		switch v.Source {
		case "v2", "v3", "v3old", "debian":
		default:
			return nil, fmt.Errorf("versions.txt:%d: unknown source %q", n+1, v.Source)
		}
		for _, name := range []string{v.Version, v.Role} {
			if name == "" {
				continue
			}
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("versions.txt:%d: %q already named on line %d", n+1, name, prev)
			}
			seen[name] = n + 1
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("versions.txt: no versions")
	}
	return out, nil
}

// Resolve turns a role ("3.5", "3.5-below-floor") or an exact version into
// the exact version pinned in versions.txt.
func Resolve(roleOrVersion string) (string, error) {
	for _, v := range Versions() {
		if v.Role == roleOrVersion || v.Version == roleOrVersion {
			return v.Version, nil
		}
	}
	var names []string
	for _, v := range Versions() {
		names = append(names, v.Role)
	}
	return "", fmt.Errorf("testbed: %q is neither a version nor a role in versions.txt (roles: %s)",
		roleOrVersion, strings.Join(names, ", "))
}

// SystemDir is the bed's folder for root, where provision.sh puts it: the
// bed user must be able to walk down to it (sshd reads its authorized_keys,
// members exec binaries from it), and outside every home folder that needs
// no change to anyone's permissions (/root is 0700).
const SystemDir = "/var/cache/etcdplay/bed"

// Dir is the bed's folder: $ETCDPLAY_BED; else SystemDir for root; else
// ~/.cache/etcdplay/bed, where a user's sandbox (built-in SSH server, no
// root) keeps its builds, clusters and slots.
func Dir() string {
	if d := os.Getenv("ETCDPLAY_BED"); d != "" {
		if abs, err := filepath.Abs(d); err == nil {
			return abs
		}
		return d
	}
	if os.Geteuid() == 0 {
		return SystemDir
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return filepath.Join(os.TempDir(), "etcdplay-bed-"+strconv.Itoa(os.Getuid()))
	}
	return filepath.Join(home, ".cache", "etcdplay", "bed")
}

// BinDir is where provision.sh puts a version's binaries:
// Dir()/bin/<version>/{etcd,etcdctl[,etcdutl]}. It does not check that
// they exist; see CheckBinaries.
func BinDir(version string) string { return filepath.Join(Dir(), "bin", version) }

// binaryNames lists the binaries a version ships: etcdutl exists from 3.5.
func binaryNames(version string) []string {
	names := []string{"etcd", "etcdctl"}
	if hasEtcdutl(version) {
		names = append(names, "etcdutl")
	}
	return names
}

func hasEtcdutl(version string) bool {
	return apiOf(version) == "v3" && !oldV3(version) && !strings.HasPrefix(version, "3.4.")
}

// oldV3 reports whether version is 3.0-3.3: the v3 API without etcdutl,
// --logger, or the RPCs and status fields that came with 3.4+, and an
// etcdctl that defaults to the v2 API.
func oldV3(version string) bool {
	for _, p := range []string{"3.0.", "3.1.", "3.2.", "3.3."} {
		if strings.HasPrefix(version, p) {
			return true
		}
	}
	return false
}

// hasLoggerFlag reports whether etcd version takes --logger (3.4+).
func hasLoggerFlag(version string) bool { return apiOf(version) == "v3" && !oldV3(version) }

// ErrNotProvisioned is wrapped by CheckBinaries when a binary is missing.
var ErrNotProvisioned = fmt.Errorf("not provisioned")

// CheckBinaries reports whether every binary of version is in BinDir, with
// an error naming provision.sh when one is missing.
func CheckBinaries(version string) error {
	for _, name := range binaryNames(version) {
		p := filepath.Join(BinDir(version), name)
		st, err := os.Stat(p)
		if err != nil || st.Mode()&0o111 == 0 {
			return fmt.Errorf("testbed: etcd %s: %s is missing (%w): run testbed/provision.sh as root (ETCDPLAY_BED=%s)",
				version, p, ErrNotProvisioned, Dir())
		}
	}
	return nil
}
