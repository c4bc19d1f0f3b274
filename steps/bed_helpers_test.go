package steps_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/schema"
	"github.com/etcdplay/etcdplay/steps"
	"github.com/etcdplay/etcdplay/target"
	"github.com/etcdplay/etcdplay/testbed"
)

// bed is one real cluster on the test bed, opened the way the runner
// opens an inventory: real SSH to each host's sshd, real etcd probes.
type bed struct {
	*testbed.Cluster
	inv *schema.Inventory
	tg  *target.Target
}

func startBed(t *testing.T, version string) *bed {
	t.Helper()
	return startBedWith(t, testbed.Options{Version: version})
}

// startBedWith is startBed with the bed's options (flags, environment).
func startBedWith(t *testing.T, o testbed.Options) *bed {
	t.Helper()
	c := testbed.StartT(t, o)
	src, err := os.ReadFile(c.InventoryPath)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := schema.LoadInventory(c.InventoryPath, src)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := target.Open(context.Background(), inv, target.Options{SSHConfigFile: "none", AgentSocket: "none", HomeDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	// A fresh cluster reports an older cluster version for a moment
	// (docs/etcd-behaviour.md): wait for its own before a test reads it.
	// 2.0 members report no cluster version at all.
	if minor := c.Version[:strings.LastIndex(c.Version, ".")]; minor != "2.0" {
		settled := &steps.Wait{For: "cluster-version", Version: pattern(t, minor)}
		if err := settled.Run(within(t, context.Background(), time.Minute), &steps.Env{Cluster: tg}); err != nil {
			t.Fatalf("fresh %s cluster: %v", c.Version, err)
		}
	}
	return &bed{Cluster: c, inv: inv, tg: tg}
}

// log collects what actions say, for assertions and for -v.
type log struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (l *log) Info(msg string, kv ...any) { l.add("INFO", msg, kv) }
func (l *log) Warn(msg string, kv ...any) { l.add("WARN", msg, kv) }
func (l *log) add(level, msg string, kv []any) {
	line := fmt.Sprintf("%s %s %v", level, msg, kv)
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	l.t.Log(line)
}
func (l *log) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.lines {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// env builds the Env the runner would: member is "" outside per-member
// phases.
func (b *bed) env(t *testing.T, member string, pb *schema.Playbook) (*steps.Env, *log, map[string]any) {
	t.Helper()
	lg := &log{t: t}
	rec := map[string]any{}
	var mu sync.Mutex
	e := &steps.Env{
		Playbook:  pb,
		Inventory: b.inv,
		Phase:     schema.PhasePreflight,
		Cluster:   b.tg,
		Hosts:     b.tg,
		Log:       lg,
		BackupDir: filepath.Join(t.TempDir(), "backups"),
		Record: func(k string, v any) {
			mu.Lock()
			rec[k] = v
			mu.Unlock()
		},
		RecordBackup: func(m steps.BackupManifest) error {
			mu.Lock()
			rec["backup"] = &m
			mu.Unlock()
			return nil
		},
		Now: time.Now,
		Facts: func(ctx context.Context) (schema.Facts, error) {
			c, err := b.tg.Cluster(ctx)
			return steps.FactsFrom(c, member, pb, nil, nil), err
		},
	}
	if member != "" {
		m := b.inv.Resolve(b.inv.Member(member))
		e.Member = &m
		e.Phase = schema.PhaseMembers
	}
	return e, lg, rec
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// within bounds one Run the way the runner bounds an attempt (by the
// step's Bound): actions carry no clock of their own.
func within(t *testing.T, ctx context.Context, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(ctx, d)
	t.Cleanup(cancel)
	return ctx
}

func pattern(t *testing.T, s string) schema.Pattern {
	p, err := schema.ParsePattern(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func minor(t *testing.T, s string) schema.Minor {
	m, err := schema.ParseMinor(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func guard(t *testing.T, s string) *schema.Guard {
	g, gerr := schema.CompileGuard(s)
	if gerr != nil {
		t.Fatal(gerr)
	}
	return g
}

func playbook(t *testing.T, from, to string) *schema.Playbook {
	return &schema.Playbook{Name: "etcd " + from + " to " + to, From: minor(t, from), To: minor(t, to)}
}

// wantErr fails unless err is non-nil and contains every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
	t.Logf("failed as expected: %v", err)
}

// version runs `path --version` locally (the bed's hosts share this
// machine's filesystem) and returns the first line that names a version;
// etcdctl 3.x answers `version` instead.
func version(t *testing.T, path string) string {
	t.Helper()
	for _, arg := range []string{"--version", "version"} {
		out, _ := exec.Command(path, arg).CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(strings.ToLower(l), "version") && strings.ContainsAny(l, "0123456789") {
				return l
			}
		}
	}
	t.Fatalf("%s prints no version", path)
	return ""
}

func withRelease(inv *schema.Inventory, v, remote string) *schema.Inventory {
	cp := *inv
	cp.Releases = map[string]*schema.Release{}
	for k, r := range inv.Releases {
		cp.Releases[k] = r
	}
	ver, _ := schema.ParseVersion(v)
	cp.Releases[v] = &schema.Release{Version: ver, Remote: remote}
	return &cp
}
