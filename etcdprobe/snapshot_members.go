package etcdprobe

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SnapshotMember is one member as a v3 snapshot's "members" bucket records
// it: etcd saves each member's raft attributes (peer URLs) and its
// published attributes (name, client URLs) there, so a snapshot says who
// the cluster was, even when no member of it answers any more. A restore
// gives each member back its name and peer URLs from here.
type SnapshotMember struct {
	ID         string   `json:"id"` // the bucket's key: the member id in hex
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	IsLearner  bool     `json:"isLearner,omitempty"`
}

// SnapshotMembers reads the membership a v3 snapshot file holds, sorted by
// name. It opens the file read-only; VerifySnapshot is what proves the
// file sound.
func SnapshotMembers(path string) ([]SnapshotMember, error) {
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("read members of snapshot %s: %w", path, err)
	}
	defer db.Close()
	var out []SnapshotMember
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("members"))
		if b == nil {
			return fmt.Errorf(`no "members" bucket (a snapshot of etcd before 3.x keeps its membership elsewhere)`)
		}
		return b.ForEach(func(k, v []byte) error {
			var m struct {
				Name       string   `json:"name"`
				PeerURLs   []string `json:"peerURLs"`
				ClientURLs []string `json:"clientURLs"`
				IsLearner  bool     `json:"isLearner"`
			}
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("member %s: %w", k, err)
			}
			out = append(out, SnapshotMember{ID: string(k), Name: m.Name, PeerURLs: m.PeerURLs,
				ClientURLs: m.ClientURLs, IsLearner: m.IsLearner})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read members of snapshot %s: %w", path, err)
	}
	slices.SortFunc(out, func(a, b SnapshotMember) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
