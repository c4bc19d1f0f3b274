package runner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/etcdplay/etcdplay/playbooks"
	"github.com/etcdplay/etcdplay/runner/journal"
	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/transport/ssh"
)

// machines is the fake side of the REAL steps: each member's "host" runs
// commands on this machine inside a temporary folder (the swap's install
// scripts, `etcd --version` of shell-script binaries), except the service
// commands, which drive the fake cluster: start reads the version the
// member's binary prints, opens its client port and joins; stop closes the
// port. The etcd side is the fakeCluster, with a real listener per member
// so ssh-stop and ssh-start see ports close and open.
type machines struct {
	fc        *fakeCluster
	mu        sync.Mutex
	listeners map[string]net.Listener
	addrs     map[string]string
	binaries  map[string]string // member -> binary path
}

func (ms *machines) Host(ctx context.Context, member string) (steps.Host, error) {
	return &machine{ms: ms, name: member}, nil
}

type machine struct {
	ms   *machines
	name string
}

func (h *machine) Run(ctx context.Context, cmd ssh.Command) (ssh.Result, error) {
	switch cmd.Script {
	case "fake-stop":
		h.ms.stop(h.name)
		return ssh.Result{}, nil
	case "fake-start":
		return ssh.Result{}, h.ms.start(h.name)
	case "fake-status":
		h.ms.fc.mu.Lock()
		running := h.ms.fc.m(h.name).running
		h.ms.fc.mu.Unlock()
		if running {
			return ssh.Result{}, nil
		}
		return ssh.Result{ExitStatus: 3}, nil
	}
	var c *exec.Cmd
	if cmd.Script != "" {
		c = exec.CommandContext(ctx, "sh", "-c", cmd.Script)
	} else {
		c = exec.CommandContext(ctx, cmd.Argv[0], cmd.Argv[1:]...)
	}
	c.Stdin = cmd.Stdin
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	res := ssh.Result{Stdout: out.Bytes(), Stderr: errb.Bytes()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.ExitStatus = ee.ExitCode()
		err = nil
	}
	return res, err
}

func (h *machine) Upload(ctx context.Context, local, remote string, mode fs.FileMode) error {
	b, err := os.ReadFile(local)
	if err != nil {
		return err
	}
	return os.WriteFile(remote, b, mode)
}

func (ms *machines) stop(name string) {
	ms.mu.Lock()
	if l := ms.listeners[name]; l != nil {
		l.Close()
		delete(ms.listeners, name)
	}
	ms.mu.Unlock()
	ms.fc.mu.Lock()
	defer ms.fc.mu.Unlock()
	if m := ms.fc.m(name); m.running {
		ms.fc.stops = append(ms.fc.stops, name)
		m.running = false
	}
	ms.fc.electNewLeader()
}

func (ms *machines) start(name string) error {
	out, err := exec.Command(ms.binaries[name], "--version").Output()
	if err != nil {
		return fmt.Errorf("fake-start: %w", err)
	}
	version := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(out), "\n", 2)[0], "etcd Version: "))
	ms.mu.Lock()
	l, err := net.Listen("tcp", ms.addrs[name])
	if err == nil {
		ms.listeners[name] = l
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	ms.mu.Unlock()
	if err != nil {
		return err
	}
	ms.fc.mu.Lock()
	defer ms.fc.mu.Unlock()
	m := ms.fc.m(name)
	m.running, m.version, m.applied = true, version, ms.fc.committed
	ms.fc.starts = append(ms.fc.starts, name)
	if ms.fc.leader == "" {
		ms.fc.leader = name
	}
	return nil
}

// snapshotCluster adds a real, verifiable snapshot to the fake cluster: a
// bolt file with one key revision and etcd's sha256 trailer.
type snapshotCluster struct {
	*fakeCluster
	dir string
}

func (s snapshotCluster) Snapshot(ctx context.Context, from string, w io.Writer) (int64, error) {
	path := filepath.Join(s.dir, "snap.db")
	os.Remove(path)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return 0, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("key"))
		if err != nil {
			return err
		}
		rev := make([]byte, 17)
		binary.BigEndian.PutUint64(rev, 1)
		rev[8] = '_'
		kv := &mvccpb.KeyValue{Key: []byte("k"), Value: []byte("v"), CreateRevision: 1, ModRevision: 1, Version: 1}
		v, _ := kv.Marshal()
		return b.Put(rev, v)
	})
	db.Close()
	if err != nil {
		return 0, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(data)
	n, err := w.Write(append(data, sum[:]...))
	return int64(n), err
}

const versionScript = "#!/bin/sh\necho \"etcd Version: %s\"\necho \"Git SHA: fake\"\n"

// TestRealStepsShippedPlaybook runs the SHIPPED 3.4-to-3.5 playbook with
// the real actions of steps (health, assert-version, check, backup,
// move-leader, ssh-stop, swap, ssh-start, wait) through the runner, against
// the fake cluster and hosts above: followers first, the leader last, every
// member on 3.5.35 with the 3.4 binary kept beside it, a verified backup,
// and a finished journal.
func TestRealStepsShippedPlaybook(t *testing.T) {
	dir := t.TempDir()
	names := []string{"infra0", "infra1", "infra2"}
	fc := newFakeCluster("3.4.23", names...)
	fc.leader = "infra0"
	ms := &machines{fc: fc, listeners: map[string]net.Listener{}, addrs: map[string]string{}, binaries: map[string]string{}}
	for _, v := range []string{"3.4.23", "3.5.35"} {
		os.MkdirAll(filepath.Join(dir, "rel", v), 0o755)
		os.WriteFile(filepath.Join(dir, "rel", v, "etcd"), []byte(fmt.Sprintf(versionScript, v)), 0o755)
	}
	var inv strings.Builder
	fmt.Fprintf(&inv, "cluster: fake\nservice: {start: fake-start, stop: fake-stop, status: fake-status}\nreleases:\n")
	fmt.Fprintf(&inv, "  \"3.4.23\": {remote: %s}\n  \"3.5.35\": {remote: %s}\nmembers:\n", filepath.Join(dir, "rel", "3.4.23", "etcd"), filepath.Join(dir, "rel", "3.5.35", "etcd"))
	for _, n := range names {
		bin := filepath.Join(dir, n, "etcd")
		os.MkdirAll(filepath.Dir(bin), 0o755)
		os.WriteFile(bin, []byte(fmt.Sprintf(versionScript, "3.4.23")), 0o755)
		ms.binaries[n] = bin
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ms.addrs[n] = l.Addr().String()
		l.Close()
		if err := ms.start(n); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&inv, "  - {name: %s, host: %s, client: http://%s, binary: %s}\n", n, n, ms.addrs[n], bin)
	}
	fc.starts = nil
	t.Cleanup(func() {
		for _, n := range names {
			ms.stop(n)
		}
	})

	src, path, err := playbooks.Read("3.4-to-3.5")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := schema.LoadPlaybook(path, src, steps.Default())
	if err != nil {
		t.Fatal(err)
	}
	in, err := schema.LoadInventory(filepath.Join(dir, "inv.yaml"), []byte(inv.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, inv.String())
	}
	h := newHarness(t, fakePlaybook, fc)
	h.o.Playbook, h.o.Inventory = pb, in
	h.o.Cluster = snapshotCluster{fc, dir}
	h.o.Hosts = ms
	h.o.GateTimeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Apply(ctx, h.o)
	if err != nil {
		for _, e := range h.rec.Events() {
			t.Logf("%s %s %d %s %s", e.Kind, e.Member, e.StepIndex, e.Action, e.Message)
		}
		t.Fatalf("Apply: %v", err)
	}
	if got, want := fc.stopped(), []string{"infra1", "infra2", "infra0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stop order %v, want %v", got, want)
	}
	for _, m := range res.Members {
		if m.State != "upgraded" || m.After != "3.5.35" {
			t.Errorf("%+v", m)
		}
	}
	for _, n := range names {
		if out, _ := exec.Command(ms.binaries[n]+".etcdplay-prev", "--version").Output(); !bytes.Contains(out, []byte("3.4.23")) {
			t.Errorf("%s: the 3.4 binary was not kept: %q", n, out)
		}
	}
	if h.backupOf(t)["sha256"] == nil {
		t.Error("no verified backup in the manifest")
	}
	if st := journal.Reconcile(journalKinds(t, h.o.StateDir)); !st.Finished() {
		t.Errorf("journal ended %s", st.Ended)
	}
}

func (h *harness) backupOf(t *testing.T) map[string]any {
	for _, e := range h.rec.Events() {
		if e.Kind == "record" && e.Message == "backup" {
			return e.Fields
		}
	}
	return nil
}
