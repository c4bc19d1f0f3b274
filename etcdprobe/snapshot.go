package etcdprobe

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
)

// SnapshotInfo describes a verified v3 snapshot file, in the shape a
// backup manifest records.
type SnapshotInfo struct {
	Size   int64  `json:"size"`   // bytes, the whole file
	SHA256 string `json:"sha256"` // hex, of the whole file (what a manifest pins)
	// Revision is the store revision the snapshot holds: the highest main
	// revision in the "key" bucket (or the finished compaction revision,
	// if higher).
	Revision int64 `json:"revision"`
	// Keys is the number of live keys at Revision (tombstoned keys are not
	// counted); Entries the number of key revisions stored.
	Keys    int    `json:"keys"`
	Entries int    `json:"entries"`
	Storage string `json:"storage,omitempty"` // storage version recorded by 3.6+, else ""
}

// revision keys in the "key" bucket: 8-byte big-endian main revision, '_',
// 8-byte big-endian sub revision, and a trailing 't' for a tombstone.
const (
	revBytesLen       = 8 + 1 + 8
	markedRevBytesLen = revBytesLen + 1
	markTombstone     = 't'
)

// VerifySnapshot checks a v3 snapshot file as `etcdutl snapshot restore`
// would, without restoring it:
//
//   - etcd's integrity hash: the server appends the SHA-256 of the db
//     content as the last 32 bytes of the stream (a file whose size is 32
//     more than a multiple of 512); it must be there and must match;
//   - the bolt file opens read-only and passes bolt's consistency check;
//   - the "key" bucket decodes: revision and live key count.
//
// It is a pure function of the file. An error means the file must not be
// trusted as a backup.
func VerifySnapshot(path string) (*SnapshotInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verify snapshot: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("verify snapshot %s: %w", path, err)
	}
	size := fi.Size()
	if size%512 != sha256.Size || size < 512+sha256.Size {
		return nil, fmt.Errorf("verify snapshot %s: %d bytes: no integrity hash at the end (not a snapshot streamed from etcd, or truncated)", path, size)
	}

	whole, db := sha256.New(), sha256.New()
	if _, err := io.Copy(io.MultiWriter(whole, db), io.LimitReader(f, size-sha256.Size)); err != nil {
		return nil, fmt.Errorf("verify snapshot %s: read: %w", path, err)
	}
	want := make([]byte, sha256.Size)
	if _, err := io.ReadFull(f, want); err != nil {
		return nil, fmt.Errorf("verify snapshot %s: read hash: %w", path, err)
	}
	whole.Write(want)
	if got := db.Sum(nil); !bytes.Equal(got, want) {
		return nil, fmt.Errorf("verify snapshot %s: integrity hash mismatch: content %x, recorded %x (file corrupted or truncated)", path, got[:8], want[:8])
	}
	info := &SnapshotInfo{Size: size, SHA256: hex.EncodeToString(whole.Sum(nil))}

	// bolt reads its size from the meta page, so the 32 trailing bytes do
	// not disturb it (etcdutl snapshot status opens the file the same way).
	bdb, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("verify snapshot %s: open bolt db: %w", path, err)
	}
	defer bdb.Close()
	err = bdb.View(func(tx *bolt.Tx) error {
		var problems []string
		for err := range tx.Check() {
			problems = append(problems, err.Error())
		}
		if len(problems) > 0 {
			return fmt.Errorf("bolt consistency check: %d problem(s): %s", len(problems), strings.Join(problems, "; "))
		}
		if meta := tx.Bucket([]byte("meta")); meta != nil {
			if v := meta.Get([]byte("storageVersion")); v != nil {
				info.Storage = string(v)
			}
			if v := meta.Get([]byte("finishedCompactRev")); len(v) >= 8 {
				info.Revision = int64(binary.BigEndian.Uint64(v))
			}
		}
		kb := tx.Bucket([]byte("key"))
		if kb == nil {
			return errors.New(`no "key" bucket: not an etcd v3 backend`)
		}
		live := map[string]struct{}{}
		err := kb.ForEach(func(k, v []byte) error {
			if len(k) != revBytesLen && !(len(k) == markedRevBytesLen && k[revBytesLen] == markTombstone) {
				return fmt.Errorf("key bucket: malformed revision key %x", k)
			}
			main := int64(binary.BigEndian.Uint64(k[:8]))
			info.Revision = max(info.Revision, main)
			info.Entries++
			var kv mvccpb.KeyValue
			if err := kv.Unmarshal(v); err != nil {
				return fmt.Errorf("key bucket: revision %d: %w", main, err)
			}
			// Entries come in revision order, so the last word on a key wins.
			if len(k) == markedRevBytesLen {
				delete(live, string(kv.Key))
			} else {
				live[string(kv.Key)] = struct{}{}
			}
			return nil
		})
		info.Keys = len(live)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("verify snapshot %s: %w", path, err)
	}
	return info, nil
}
