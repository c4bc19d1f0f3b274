package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/etcdplay/etcdplay/testbed"
)

// The sandbox folder (Dir, default ~/.cache/etcdplay/sandbox) is the test
// bed's run folder for the sandbox's cluster (inventory.yaml, known_hosts,
// ssh_config, hostN/ with each member's service script, data and log) plus
// the supervisor's files:
//
//	serve.pid      the supervisor's pid (`etcdplay sandbox serve`)
//	serve.log      its output: the bed's progress, SSH refusals, teardown
//	sandbox.json   State, written once the cluster is healthy

const (
	stateFile = "sandbox.json"
	pidFile   = "serve.pid"
	logFile   = "serve.log"
)

// State is what a running sandbox is: written by the supervisor when the
// cluster is up, read by status and down.
type State struct {
	Dir        string   `json:"dir"`
	Cluster    string   `json:"cluster"`
	Version    string   `json:"version"`
	API        string   `json:"api"`
	SSH        string   `json:"ssh"` // openssh or builtin
	User       string   `json:"user"`
	Slot       int      `json:"slot"`
	Supervisor int      `json:"supervisor"`
	Inventory  string   `json:"inventory"`
	SSHConfig  string   `json:"ssh_config"`
	Hosts      []HostOf `json:"hosts"`
}

// HostOf is one sandbox host.
type HostOf struct {
	Name    string `json:"name"`
	Addr    string `json:"addr"`
	SSHPort int    `json:"ssh_port"`
	Client  string `json:"client"`
	Dir     string `json:"dir"`
	SSHDPID int    `json:"sshd_pid,omitempty"` // OpenSSH only; the built-in servers live in the supervisor
}

// Addrs is every host's address.
func (s *State) Addrs() []string {
	var out []string
	for _, h := range s.Hosts {
		out = append(out, h.Addr)
	}
	return out
}

// MemberPID is the pid in the host's etcd.pid when that process is alive,
// else 0.
func (h HostOf) MemberPID() int {
	p := readPID(filepath.Join(h.Dir, "etcd.pid"))
	if !testbed.Alive(p) {
		return 0
	}
	return p
}

// ErrNoSandbox is returned by Load when the folder holds no sandbox.
var ErrNoSandbox = errors.New("no sandbox")

// Load reads the state of the sandbox in dir.
func Load(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoSandbox, dir)
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

func (s *State) write() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.Dir, stateFile))
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}

// supervisorPID is the supervisor's pid when it is alive and still our
// supervisor (its command line is `... sandbox serve --dir <dir>`), else 0,
// so a recycled pid is never signalled.
func supervisorPID(dir string) int {
	p := readPID(filepath.Join(dir, pidFile))
	if !testbed.Alive(p) {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
	if err != nil {
		return 0
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	serve, dirOK := false, false
	for i, a := range args {
		if a == "serve" {
			serve = true
		}
		if a == "--dir" && i+1 < len(args) && args[i+1] == dir {
			dirOK = true
		}
	}
	if !serve || !dirOK {
		return 0
	}
	return p
}

// DefaultDir is the sandbox folder: $ETCDPLAY_SANDBOX_DIR, or
// ~/.cache/etcdplay/sandbox.
func DefaultDir() string {
	if d := os.Getenv("ETCDPLAY_SANDBOX_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = "/tmp"
	}
	return filepath.Join(home, ".cache", "etcdplay", "sandbox")
}

// Tilde writes path with ~ for the home folder, as people type it.
func Tilde(path string) string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" || home == "/" {
		return path
	}
	if path == home {
		return "~"
	}
	if strings.HasPrefix(path, home+"/") {
		return "~" + path[len(home):]
	}
	return path
}
