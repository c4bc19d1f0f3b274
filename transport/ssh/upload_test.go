package ssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeRandom(t testing.TB, path string, size int64, mode os.FileMode) []byte {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, mode)
	return b
}

// leftovers lists temporary upload files in dir.
func leftovers(t testing.TB, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.tmp.*"))
	return m
}

func TestUploadAtomicWithMode(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t)
	local := filepath.Join(t.TempDir(), "etcd")
	want := writeRandom(t, local, 3<<20+17, 0o751)
	remoteDir := t.TempDir()
	dst := filepath.Join(remoteDir, "etcd")
	os.WriteFile(dst, []byte("old"), 0o600)
	if err := c.Upload(ctx(t), local, dst, 0); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, want) {
		t.Fatal("uploaded content differs")
	}
	if st, _ := os.Stat(dst); st.Mode().Perm() != 0o751 {
		t.Fatalf("mode %v, want 0751 (the local file's)", st.Mode().Perm())
	}
	if err := c.Upload(ctx(t), local, dst, 0o700); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dst); st.Mode().Perm() != 0o700 {
		t.Fatalf("explicit mode not applied: %v", st.Mode().Perm())
	}
	if l := leftovers(t, remoteDir); len(l) != 0 {
		t.Fatalf("temporary files left: %v", l)
	}
}

// corrupt flips one byte in the middle of the stream, after the local sum
// was taken, like a bad disk or a broken proxy would.
type corrupt struct {
	r    io.Reader
	seen int64
	done bool
}

func (c *corrupt) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if !c.done && c.seen+int64(n) > 1000 {
		p[1000-c.seen] ^= 0xff
		c.done = true
	}
	c.seen += int64(n)
	return n, err
}

func TestUploadChecksumMismatchKeepsOldFile(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t)
	local := filepath.Join(t.TempDir(), "etcd")
	writeRandom(t, local, 100<<10, 0o755)
	remoteDir := t.TempDir()
	dst := filepath.Join(remoteDir, "etcd")
	os.WriteFile(dst, []byte("old binary"), 0o755)
	uploadStreamHook = func(r io.Reader) io.Reader { return &corrupt{r: r} }
	defer func() { uploadStreamHook = nil }()
	err := c.Upload(ctx(t), local, dst, 0)
	if err == nil || !strings.Contains(err.Error(), "sha256 mismatch") {
		t.Fatalf("want a sha256 mismatch, got %v", err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "old binary" {
		t.Fatal("the old file was replaced by a corrupt upload")
	}
	if l := leftovers(t, remoteDir); len(l) != 0 {
		t.Fatalf("temporary files left: %v", l)
	}
}

// slow delivers a little, then blocks until the test is over.
type slow struct{ release chan struct{} }

func (s *slow) Read(p []byte) (int, error) {
	select {
	case <-s.release:
		return 0, io.EOF
	case <-time.After(20 * time.Millisecond):
		n := copy(p, bytes.Repeat([]byte{'x'}, 1024))
		return n, nil
	}
}

func TestUploadCancelledLeavesNothing(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t)
	local := filepath.Join(t.TempDir(), "etcd")
	writeRandom(t, local, 10<<10, 0o755)
	remoteDir := t.TempDir()
	dst := filepath.Join(remoteDir, "etcd")
	s := &slow{release: make(chan struct{})}
	defer close(s.release)
	uploadStreamHook = func(io.Reader) io.Reader { return s }
	defer func() { uploadStreamHook = nil }()
	cctx, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
	defer cancel()
	if err := c.Upload(cctx, local, dst, 0); err == nil {
		t.Fatal("a cancelled upload succeeded")
	}
	eventually(t, 5*time.Second, "temporary file left after cancel", func() bool { return len(leftovers(t, remoteDir)) == 0 })
	if _, err := os.Stat(dst); err == nil {
		t.Fatal("a cancelled upload created the destination")
	}
}
