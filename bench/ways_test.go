//go:build bench

package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/testbed"
)

// toolRun is what one way of upgrading reports about itself.
type toolRun struct {
	transfers time.Duration // moving binaries to the hosts
	backups   time.Duration
	report    map[string]int64 // etcdplay's report.json totals
	peakRSSKB int64            // etcdplay's peak memory
	events    []byte           // etcdplay's events (JSON lines)
}

// env is a clean operator environment: a HOME of its own, no agent.
func cleanEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "HOME" || k == "SSH_AUTH_SOCK" {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "HOME="+home, "NO_COLOR=1"), extra...)
}

func newBinaries() (etcd, etcdctl string) {
	v, err := testbed.Resolve("3.6")
	if err != nil {
		panic(err)
	}
	return filepath.Join(testbed.BinDir(v), "etcd"), filepath.Join(testbed.BinDir(v), "etcdctl")
}

// runEtcdplay runs the built binary as an operator would.
func runEtcdplay(ctx context.Context, t *testing.T, bed *testbed.Cluster, playbook string) (toolRun, error) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cmd := exec.CommandContext(ctx, etcdplayBin, "run", playbook, "-i", bed.InventoryPath,
		"--state-dir", state, "--backup-dir", filepath.Join(dir, "backup"), "-o", "json", "--yes")
	cmd.Env = cleanEnv(dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var tr toolRun
	tr.events = out.Bytes()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		tr.peakRSSKB = ru.Maxrss
	}
	if err != nil {
		return tr, fmt.Errorf("etcdplay run: %v: %s", err, tail(errb.String()))
	}
	b, err := os.ReadFile(filepath.Join(state, bed.Name, "report.json"))
	if err != nil {
		return tr, err
	}
	var rep struct {
		Totals map[string]int64 `json:"totals"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return tr, err
	}
	tr.report = rep.Totals
	// Transfers are the staging in preflight (uploads, sums, versions);
	// the swap while down is renames, as the script's mv and Ansible's
	// "put it in place" are, and counts as the tool's own time.
	tr.transfers = time.Duration(rep.Totals["transfer_ms"]) * time.Millisecond
	tr.backups = time.Duration(rep.Totals["backup_ms"]) * time.Millisecond
	return tr, nil
}

// runBash runs upgrade.sh.
func runBash(ctx context.Context, t *testing.T, bed *testbed.Cluster) (toolRun, error) {
	dir := t.TempDir()
	etcd, etcdctl := newBinaries()
	var members strings.Builder
	for _, h := range bed.Hosts {
		fmt.Fprintf(&members, "%s %s %s %s\n", h.Name, h.ClientURL, h.Service, h.Binary())
	}
	mf, timing := filepath.Join(dir, "members"), filepath.Join(dir, "timing")
	if err := os.WriteFile(mf, []byte(members.String()), 0o644); err != nil {
		return toolRun{}, err
	}
	cmd := exec.CommandContext(ctx, "bash", "upgrade.sh")
	cmd.Env = cleanEnv(dir, "SSH_CONFIG="+bed.SSHConfigPath, "MEMBERS="+mf, "ETCDCTL="+etcdctl,
		"NEW_ETCD="+etcd, "BACKUP="+filepath.Join(dir, "snapshot.db"), "TIMING="+timing)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return toolRun{}, fmt.Errorf("upgrade.sh: %v: %s", err, tail(string(out)))
	}
	var tr toolRun
	b, _ := os.ReadFile(timing)
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 4 {
			continue
		}
		a, _ := strconv.ParseInt(f[2], 10, 64)
		z, _ := strconv.ParseInt(f[3], 10, 64)
		switch f[0] {
		case "transfer":
			tr.transfers += time.Duration(z - a)
		case "backup":
			tr.backups += time.Duration(z - a)
		}
	}
	return tr, nil
}

// runAnsible runs upgrade.yml with ansible-playbook, leader last in the
// inventory, its json callback telling how long each task took.
func runAnsible(ctx context.Context, t *testing.T, bed *testbed.Cluster, leader int) (toolRun, error) {
	dir := t.TempDir()
	etcd, etcdctl := newBinaries()
	var inv strings.Builder
	inv.WriteString("[etcd]\n")
	order := []int{}
	for i := range bed.Hosts {
		if i != leader {
			order = append(order, i)
		}
	}
	for _, i := range append(order, leader) {
		h := bed.Hosts[i]
		fmt.Fprintf(&inv, "%s client=%s svc=%s bin=%s\n", h.Name, h.ClientURL, h.Service, h.Binary())
	}
	fmt.Fprintf(&inv, "[etcd:vars]\nansible_ssh_common_args='-F %s'\nansible_python_interpreter=/usr/bin/python3\n", bed.SSHConfigPath)
	invPath := filepath.Join(dir, "inventory.ini")
	if err := os.WriteFile(invPath, []byte(inv.String()), 0o644); err != nil {
		return toolRun{}, err
	}
	cmd := exec.CommandContext(ctx, "ansible-playbook", "-i", invPath, "upgrade.yml",
		"-e", "etcdctl="+etcdctl, "-e", "new_etcd="+etcd, "-e", "backup="+filepath.Join(dir, "snapshot.db"))
	cmd.Env = cleanEnv(dir, "ANSIBLE_STDOUT_CALLBACK=json", "ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_SSH_CONTROL_PATH_DIR="+filepath.Join(dir, "cp"), "ANSIBLE_HOST_KEY_CHECKING=True",
		"ANSIBLE_NOCOLOR=1", "ANSIBLE_RETRY_FILES_ENABLED=False")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return toolRun{}, fmt.Errorf("ansible-playbook: %v: %s %s", err, tail(out.String()), tail(errb.String()))
	}
	var res struct {
		Plays []struct {
			Tasks []struct {
				Task struct {
					Name     string `json:"name"`
					Duration struct {
						Start time.Time `json:"start"`
						End   time.Time `json:"end"`
					} `json:"duration"`
				} `json:"task"`
			} `json:"tasks"`
		} `json:"plays"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return toolRun{}, fmt.Errorf("ansible json output: %v", err)
	}
	var tr toolRun
	for _, p := range res.Plays {
		for _, task := range p.Tasks {
			d := task.Task.Duration.End.Sub(task.Task.Duration.Start)
			switch task.Task.Name {
			case "copy the new binary":
				tr.transfers += d
			case "snapshot from the leader":
				tr.backups += d
			}
		}
	}
	return tr, nil
}

func tail(s string) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return strings.Join(lines, "\n")
}
