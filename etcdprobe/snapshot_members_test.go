package etcdprobe

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A snapshot's "members" bucket holds each member as etcd saves it (one
// JSON object per member id, raft and published attributes flattened);
// SnapshotMembers reads them back sorted by name, and says so when the
// bucket is missing.
func TestSnapshotMembers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("members"))
		if err != nil {
			return err
		}
		for k, v := range map[string]string{
			"a18aba139851f9c0": `{"id":11644349924040145344,"peerURLs":["http://10.0.0.13:2380"],"name":"infra2","clientURLs":["https://10.0.0.13:2379"]}`,
			"1212ca092df4c560": `{"id":1302990412541297,"peerURLs":["http://10.0.0.11:2380","http://10.1.0.11:2380"],"name":"infra0","clientURLs":["https://10.0.0.11:2379"],"isLearner":true}`,
		} {
			if err := b.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		_, err = tx.CreateBucket([]byte("key"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	got, err := SnapshotMembers(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []SnapshotMember{
		{ID: "1212ca092df4c560", Name: "infra0", PeerURLs: []string{"http://10.0.0.11:2380", "http://10.1.0.11:2380"},
			ClientURLs: []string{"https://10.0.0.11:2379"}, IsLearner: true},
		{ID: "a18aba139851f9c0", Name: "infra2", PeerURLs: []string{"http://10.0.0.13:2380"}, ClientURLs: []string{"https://10.0.0.13:2379"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("members:\n got %+v\nwant %+v", got, want)
	}

	bare := craftSnapshot(t, []craftOp{{rev: 2, key: "a"}}, true)
	if _, err := SnapshotMembers(bare); err == nil || !strings.Contains(err.Error(), `no "members" bucket`) {
		t.Errorf("a snapshot without membership: err %v, want it named", err)
	}
}
