package etcdprobe

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// craftSnapshot writes a bolt db laid out as etcd's backend (a "key"
// bucket of revision keys, a "meta" bucket) and appends etcd's SHA-256
// trailer, as the Snapshot RPC streams it.
func craftSnapshot(t *testing.T, ops []craftOp, trailer bool) string {
	t.Helper()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "db")
	db, err := bolt.Open(dbPath, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		kb, err := tx.CreateBucket([]byte("key"))
		if err != nil {
			return err
		}
		meta, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		if err := meta.Put([]byte("storageVersion"), []byte("3.6.0")); err != nil {
			return err
		}
		for _, op := range ops {
			k := make([]byte, revBytesLen, markedRevBytesLen)
			binary.BigEndian.PutUint64(k, uint64(op.rev))
			k[8] = '_'
			if op.del {
				k = append(k, markTombstone)
			}
			v, err := (&mvccpb.KeyValue{Key: []byte(op.key), Value: []byte("v"), ModRevision: op.rev}).Marshal()
			if err != nil {
				return err
			}
			if err := kb.Put(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if trailer {
		sum := sha256.Sum256(b)
		b = append(b, sum[:]...)
	}
	out := filepath.Join(dir, "snap.db")
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

type craftOp struct {
	rev int64
	key string
	del bool
}

func TestVerifySnapshot(t *testing.T) {
	ops := []craftOp{{2, "a", false}, {3, "b", false}, {4, "a", false}, {5, "c", false}, {6, "b", true}}
	path := craftSnapshot(t, ops, true)
	info, err := VerifySnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	// a and c live, b deleted at 6.
	if info.Revision != 6 || info.Keys != 2 || info.Entries != 5 || info.Storage != "3.6.0" {
		t.Errorf("info %+v, want revision 6, 2 keys, 5 entries, storage 3.6.0", info)
	}
	b, _ := os.ReadFile(path)
	if sum := sha256.Sum256(b); info.Size != int64(len(b)) || info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("size/sha %d %s, want %d %x", info.Size, info.SHA256, len(b), sum)
	}
}

func TestVerifySnapshotRejects(t *testing.T) {
	ops := []craftOp{{2, "a", false}, {3, "b", false}}
	t.Run("no trailer", func(t *testing.T) {
		if _, err := VerifySnapshot(craftSnapshot(t, ops, false)); err == nil || !strings.Contains(err.Error(), "no integrity hash") {
			t.Fatalf("err = %v, want no integrity hash", err)
		}
	})
	t.Run("flipped byte", func(t *testing.T) {
		path := craftSnapshot(t, ops, true)
		b, _ := os.ReadFile(path)
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifySnapshot(path); err == nil || !strings.Contains(err.Error(), "hash mismatch") {
			t.Fatalf("err = %v, want hash mismatch", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		path := craftSnapshot(t, ops, true)
		b, _ := os.ReadFile(path)
		if err := os.WriteFile(path, b[:len(b)-4096], 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifySnapshot(path); err == nil {
			t.Fatal("truncated snapshot verified")
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := VerifySnapshot(filepath.Join(t.TempDir(), "nope")); err == nil {
			t.Fatal("missing file verified")
		}
	})
}
