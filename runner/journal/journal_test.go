package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/schema"
)

var t0 = time.Date(2026, 11, 21, 6, 12, 0, 0, time.UTC)

func rec(kind Kind, member string, step int) Record {
	return Record{Time: t0.Add(time.Duration(step) * time.Second), RunID: "r1", Kind: kind, Phase: schema.PhaseMembers, Member: member, StepIndex: step}
}

func mustOpen(t *testing.T, dir string) *Journal {
	t.Helper()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func mustAppend(t *testing.T, j *Journal, recs ...Record) {
	t.Helper()
	for _, r := range recs {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
}

func mustRead(t *testing.T, dir string) ([]Record, string) {
	t.Helper()
	recs, warn, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return recs, warn
}

func TestAppendThenRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".etcdplay", "prod-etcd")
	j := mustOpen(t, dir)
	want := []Record{
		{Time: t0, RunID: "r1", Kind: RunStart, PlaybookDigest: "sha256:aa", InventoryDigest: "sha256:bb"},
		{Time: t0, RunID: "r1", Kind: StepStart, Phase: schema.PhaseMembers, Member: "infra0", StepIndex: 2, Action: "ssh-stop", Critical: true},
		{Time: t0, RunID: "r1", Kind: StepDone, Phase: schema.PhaseMembers, Member: "infra0", StepIndex: 2, Action: "ssh-stop", Detail: "stopped"},
	}
	mustAppend(t, j, want...)
	got, warn := mustRead(t, dir)
	if warn != "" {
		t.Errorf("unexpected warning %q", warn)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back:\n got %+v\nwant %+v", got, want)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("state folder mode %v (%v), want 0700", st.Mode().Perm(), err)
	}
	if fst, _ := os.Stat(j.Path()); fst.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", fst.Mode().Perm())
	}
}

func TestAppendRefusesIncompleteRecords(t *testing.T) {
	j := mustOpen(t, t.TempDir())
	if err := j.Append(Record{Kind: StepDone}); err == nil {
		t.Error("a record without run id was accepted")
	}
	j.Close()
	if err := j.Append(rec(StepDone, "a", 1)); err == nil {
		t.Error("append after Close succeeded")
	}
}

func TestAppendRedactsDetail(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	r := rec(StepFailed, "infra0", 1)
	r.Detail = "etcdctl --password=hunter2: -----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----"
	mustAppend(t, j, r)
	b, _ := os.ReadFile(j.Path())
	if strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "PRIVATE") {
		t.Errorf("secret in journal: %s", b)
	}
}

// syncCounter wraps the real file system and counts what reaches the disk.
type syncCounter struct {
	osFS
	mu        sync.Mutex
	fileSyncs int
	dirSyncs  []string
}

type countedFile struct {
	syncFile
	c *syncCounter
}

func (f countedFile) Sync() error {
	f.c.mu.Lock()
	f.c.fileSyncs++
	f.c.mu.Unlock()
	return f.syncFile.Sync()
}

func (c *syncCounter) openAppend(path string) (syncFile, error) {
	f, err := c.osFS.openAppend(path)
	if err != nil {
		return nil, err
	}
	return countedFile{f, c}, nil
}

func (c *syncCounter) syncDir(dir string) error {
	c.dirSyncs = append(c.dirSyncs, dir)
	return c.osFS.syncDir(dir)
}

func TestEveryAppendIsFsynced(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "state", "prod")
	c := &syncCounter{}
	j, err := open(dir, c)
	if err != nil {
		t.Fatal(err)
	}
	// new folders and the new file are made durable in their parents
	wantDirs := []string{root, filepath.Join(root, "state"), dir}
	if !reflect.DeepEqual(c.dirSyncs, wantDirs) {
		t.Errorf("dir syncs %v, want %v", c.dirSyncs, wantDirs)
	}
	for i := range 3 {
		mustAppend(t, j, rec(StepDone, "infra0", i+1))
		if c.fileSyncs != i+1 {
			t.Fatalf("after %d appends, %d fsyncs", i+1, c.fileSyncs)
		}
	}
	j.Close()

	// reopening an existing journal creates nothing, so syncs no folder
	c2 := &syncCounter{}
	j2, err := open(dir, c2)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if len(c2.dirSyncs) != 0 || c2.fileSyncs != 0 {
		t.Errorf("reopen synced dirs %v, file %d times; want nothing", c2.dirSyncs, c2.fileSyncs)
	}
}

func TestConcurrentAppendsKeepWholeLines(t *testing.T) {
	dir := t.TempDir()
	j := mustOpen(t, dir)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				r := rec(StepDone, fmt.Sprintf("m%d", g), i+1)
				r.Detail = strings.Repeat("x", 500)
				if err := j.Append(r); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	recs, warn := mustRead(t, dir)
	if len(recs) != 160 || warn != "" {
		t.Errorf("%d records, warning %q; want 160 and none", len(recs), warn)
	}
}

func TestStateDir(t *testing.T) {
	if d, err := StateDir(DefaultRoot, "prod-etcd"); err != nil || d != filepath.Join(".etcdplay", "prod-etcd") {
		t.Errorf("StateDir = %q, %v", d, err)
	}
	for _, bad := range []string{"", ".", "..", "a/b", "../x", `a\b`} {
		if _, err := StateDir(DefaultRoot, bad); err == nil {
			t.Errorf("StateDir accepted cluster %q", bad)
		}
	}
}

func TestDigest(t *testing.T) {
	if got := Digest([]byte("")); got != "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("Digest = %s", got)
	}
}
