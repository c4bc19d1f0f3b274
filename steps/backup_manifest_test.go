package steps_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/steps"
)

// The event fields of a manifest carry the same names and values as its
// JSON, with and without the optional parts.
func TestBackupManifestFields(t *testing.T) {
	at := time.Date(2026, 11, 21, 6, 12, 0, 0, time.UTC)
	for _, m := range []steps.BackupManifest{
		{Kind: "v3-snapshot", Cluster: "prod", ClusterID: "abc", Member: "infra0", File: "/b/snapshot.db", Revision: 42,
			Keys: 7, ServerVersion: "3.5.35", ClusterVersion: "3.5.0", Storage: "3.5.0", Size: 4096, SHA256: "ff", Time: at},
		{Kind: "v2-etcdctl-backup", Cluster: "old", Member: "infra1", File: "/b/infra1.tar", Size: 10, SHA256: "ee", Time: at,
			RemoteDir: "/var/backups/infra1", WALFiles: 2},
		{},
	} {
		viaJSON := roundTrip(t, m)
		viaFields := roundTrip(t, m.Fields())
		if !reflect.DeepEqual(viaJSON, viaFields) {
			t.Errorf("manifest JSON %v\nevent fields %v", viaJSON, viaFields)
		}
	}
}

func roundTrip(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
