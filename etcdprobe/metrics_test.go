package etcdprobe

import (
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	body := `# HELP etcd_server_id Server or member ID in hexadecimal format.
# TYPE etcd_server_id gauge
etcd_server_id{server_id="8e9e05c52164694d"} 1
etcd_server_is_leader 1
etcd_server_has_leader 1
etcd_server_is_learner 0
etcd_mvcc_db_total_size_in_bytes 2.4576e+06
etcd_mvcc_db_total_size_in_use_in_bytes 16384
etcd_server_proposals_committed_total 1234
etcd_server_proposals_applied_total 1230
etcd_debugging_mvcc_current_revision 51
go_goroutines 42
`
	v, err := parseMetrics(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	want := metricsView{ID: 0x8e9e05c52164694d, IsLeader: true, HasLeader: true, DBSize: 2457600, DBSizeInUse: 16384, Committed: 1234, Applied: 1230, Revision: 51}
	if v != want {
		t.Errorf("parseMetrics = %+v, want %+v", v, want)
	}
	if _, err := parseMetrics(strings.NewReader("go_goroutines 3\n")); err == nil {
		t.Error("no etcd series accepted")
	}
}
