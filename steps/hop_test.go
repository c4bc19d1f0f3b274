package steps

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/etcdplay/etcdplay/etcdprobe"
	"github.com/etcdplay/etcdplay/schema"
)

// clusterView is a Cluster that only answers Cluster, for checks that read
// one probe.
type clusterView struct{ c *etcdprobe.Cluster }

func (v clusterView) Cluster(context.Context) (*etcdprobe.Cluster, error) { return v.c, nil }
func (v clusterView) Member(context.Context, string) (*etcdprobe.Member, error) {
	return nil, etcdprobe.ErrUnknownMember
}
func (v clusterView) LeaderCommitted(context.Context) (string, uint64, error) { return "", 0, nil }
func (v clusterView) MoveLeader(context.Context, string) error                { return nil }
func (v clusterView) Snapshot(context.Context, string, io.Writer) (int64, error) {
	return 0, nil
}
func (v clusterView) Downgrade(context.Context, etcdprobe.DowngradeAction, string) (string, error) {
	return v.c.Version, nil
}

// TestCheckHopFailsClosed: the skipped-minor check must refuse when it
// cannot read the cluster version, not wave the swap through; an
// undecided version falls back to the oldest server only when every
// member answered.
func TestCheckHopFailsClosed(t *testing.T) {
	member := func(server string, up bool) etcdprobe.Member {
		return etcdprobe.Member{Name: "m" + server, Server: server, Reachable: up}
	}
	cases := []struct {
		name    string
		to      string
		version string
		members []etcdprobe.Member
		want    string // "" = allowed
	}{
		{"decided, one hop", "3.5", "3.4.0", []etcdprobe.Member{member("3.4.23", true)}, ""},
		{"decided, skipped minor", "3.6", "3.4.0", []etcdprobe.Member{member("3.4.23", true)}, "would skip a minor"},
		{"undecided, every member answers", "2.1", "", []etcdprobe.Member{member("2.0.8", true), member("2.1.1", true)}, ""},
		{"undecided, oldest two minors back", "3.6", "", []etcdprobe.Member{member("3.4.23", true), member("3.5.35", true)}, "oldest member runs 3.4.23"},
		{"undecided, a member down", "3.5", "", []etcdprobe.Member{member("3.4.23", true), member("", false)}, "cannot be read"},
		{"undecided, no members", "3.5", "", nil, "cannot be read"},
		{"garbage version, a member down", "3.5", "not_decided", []etcdprobe.Member{member("3.4.23", false)}, "cannot be read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			to, err := schema.ParseMinor(tc.to)
			if err != nil {
				t.Fatal(err)
			}
			env := &Env{Cluster: clusterView{&etcdprobe.Cluster{Version: tc.version, Members: tc.members}}}
			err = (&Swap{To: to}).checkHop(context.Background(), env)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
