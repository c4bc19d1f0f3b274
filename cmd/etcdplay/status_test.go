package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/testbed"
)

// buildEtcdplay builds the real binary once per test run.
func buildEtcdplay(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "etcdplay")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBin runs the built binary in a folder and HOME of its own, so what
// the caller's folder or ~/.ssh holds never changes the outcome.
func runBin(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	// A bound against a hung binary, not a speed target: a whole upgrade run
	// through here took just over a minute on a loaded 2-core machine.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// TestStatusOnRealClusters: `etcdplay status` is right against real 2.x,
// 3.4, 3.5, 3.6 and 3.7 clusters, and exits 8 when a member is down.
func TestStatusOnRealClusters(t *testing.T) {
	testbed.Require(t, testbed.Binaries("2.0", "2.3", "3.4", "3.5", "3.6", "3.7"), testbed.OpenSSH())
	bin := buildEtcdplay(t)
	// member is the cluster version each member reports: 2.0 reports none,
	// and the cluster's is derived from the servers' versions.
	for _, tc := range []struct{ role, server, cluster, member, storage string }{
		{"2.0", "2.0.8", "2.0.0", "-", ""},
		{"2.3", "2.3.8", "2.3.0", "2.3.0", ""},
		{"3.4", "3.4.23", "3.4.0", "3.4.0", ""},
		{"3.5", "3.5.35", "3.5.0", "3.5.0", ""},
		{"3.6", "3.6.16", "3.6.0", "3.6.0", "3.6.0"},
		{"3.7", "3.7.3", "3.7.0", "3.7.0", "3.7.0"},
	} {
		t.Run(tc.role, func(t *testing.T) {
			bed := testbed.StartT(t, testbed.Options{Version: tc.role})
			out, errOut, code := runBin(t, bin, "status", "-i", bed.InventoryPath)
			t.Logf("etcdplay status (exit %d):\n%s%s", code, out, errOut)
			if code != 0 {
				t.Fatalf("exit %d, want 0 for a healthy cluster", code)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			leaders := 0
			for _, h := range bed.Hosts {
				row := ""
				for _, l := range lines {
					if f := strings.Fields(l); len(f) > 0 && f[0] == h.Name {
						row = l
					}
				}
				f := strings.Fields(row)
				if len(f) < 11 {
					t.Fatalf("no table row for %s in:\n%s", h.Name, out)
				}
				storage := tc.storage
				if storage == "" {
					storage = "-"
				}
				if f[1] != h.Addr || f[2] != tc.server || f[3] != tc.member || f[4] != storage || f[6] != "yes" || f[len(f)-1] != "no" {
					t.Errorf("row %q: want host %s, server %s, cluster %s, storage %s, healthy, not a learner", row, h.Addr, tc.server, tc.member, storage)
				}
				if f[5] == "yes" {
					leaders++
				}
			}
			if !strings.Contains(out, "version "+tc.cluster+", leader host") || !strings.Contains(out, ", healthy") {
				t.Errorf("summary line does not say version %s, a leader and healthy", tc.cluster)
			}
			if leaders != 1 {
				t.Errorf("%d members marked leader, want 1", leaders)
			}

			js, _, code := runBin(t, bin, "status", "-i", bed.InventoryPath, "-o", "json")
			var got struct {
				Inventory string `json:"inventory"`
				API       string `json:"api"`
				Version   string `json:"version"`
				Leader    string `json:"leader"`
				Healthy   bool   `json:"healthy"`
				Members   []struct {
					Endpoint string `json:"endpoint"`
					Host     string `json:"host"`
					Server   string `json:"server"`
					Healthy  bool   `json:"healthy"`
				} `json:"members"`
			}
			if err := json.Unmarshal([]byte(js), &got); err != nil || code != 0 {
				t.Fatalf("-o json: exit %d, %v:\n%s", code, err, js)
			}
			if got.Inventory != bed.Name || got.API != bed.API || got.Version != tc.cluster || got.Leader == "" || !got.Healthy || len(got.Members) != 3 {
				t.Errorf("-o json: %+v", got)
			}
			for i, m := range got.Members {
				if m.Endpoint != bed.Hosts[i].Name || m.Host != bed.Hosts[i].Addr || m.Server != tc.server || !m.Healthy {
					t.Errorf("-o json member %d: %+v", i, m)
				}
			}
		})
	}
}

func TestStatusExitCodes(t *testing.T) {
	bin := buildEtcdplay(t)

	t.Run("a stopped member: exit 8", func(t *testing.T) {
		bed := testbed.StartT(t, testbed.Options{Version: "3.5"})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := bed.StopMember(ctx, 2); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := runBin(t, bin, "status", "-i", bed.InventoryPath)
		t.Logf("exit %d:\n%s%s", code, out, errOut)
		if code != 8 {
			t.Fatalf("exit %d, want 8 (unhealthy)", code)
		}
		name := bed.Hosts[2].Name
		if !strings.Contains(out, "NOT HEALTHY") || !strings.Contains(out, "[1] "+name+":") || !strings.Contains(errOut, name) {
			t.Errorf("output does not name the stopped member %s", name)
		}
	})

	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("nothing answers: exit 4", func(t *testing.T) {
		inv := write("down.yaml", "cluster: down\nbinary: /usr/bin/etcd\nservice: {start: s, stop: s, status: s}\nmembers:\n  - {name: a, host: 127.0.0.1, client: http://127.0.0.1:1}\n")
		out, errOut, code := runBin(t, bin, "status", "-i", inv)
		if code != 4 || !strings.Contains(errOut, "no member answered") {
			t.Errorf("exit %d, stderr %q, stdout %q; want 4 and no member answered", code, errOut, out)
		}
	})

	t.Run("invalid inventory: exit 3", func(t *testing.T) {
		inv := write("bad.yaml", "cluster: bad\nmembres: []\n")
		_, errOut, code := runBin(t, bin, "status", "-i", inv)
		if code != 3 {
			t.Errorf("exit %d, stderr %q; want 3", code, errOut)
		}
	})
}
