package etcdprobe

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// API versions a Prober speaks.
const (
	APIv2 = "v2"
	APIv3 = "v3"
)

// ErrNotSupported is wrapped by errors for operations the cluster's API
// cannot do (for example moving leadership on v2). The wrapping error says
// why and what to do instead; test with errors.Is.
var ErrNotSupported = errors.New("not supported")

// ErrUnknownMember is wrapped when a name matches neither an endpoint nor a
// member of the cluster.
var ErrUnknownMember = errors.New("unknown member")

// Endpoint is one member as the inventory names it.
type Endpoint struct {
	Name string `json:"name"`
	URL  string `json:"url"` // client URL, http:// or https://
}

// Options configure a Prober. The zero value of a duration means its default.
type Options struct {
	API            string        // "v3" (default) or "v2"
	TLS            *tls.Config   // nil for plain http; used for gRPC and HTTP alike
	DialTimeout    time.Duration // per connection; default 3s
	RequestTimeout time.Duration // per member probe or per request; default 5s
	// Username and Password authenticate the v3 client when auth is on
	// and TLS client certificates do not name a user. Without them the
	// probe still works: see probeV3NoAuth. Never logged.
	Username, Password string
	// OwnPrefix is the key prefix of the caller's own v3 keys (etcdplay's
	// lock): Cluster.V3Keys does not count them.
	OwnPrefix string
}

// ID is an etcd member or cluster ID. It prints and marshals as the
// 16-digit lower-case hex etcdctl shows (JSON numbers lose precision above
// 2^53, and hex is what operators see in etcd's logs).
type ID uint64

func (id ID) String() string { return fmt.Sprintf("%016x", uint64(id)) }

// MarshalText renders the hex form; zero renders as "" (unknown).
func (id ID) MarshalText() ([]byte, error) {
	if id == 0 {
		return []byte{}, nil
	}
	return []byte(id.String()), nil
}

// UnmarshalText accepts the hex form.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*id = 0
		return nil
	}
	v, err := strconv.ParseUint(string(b), 16, 64)
	if err != nil {
		return fmt.Errorf("member id %q: %w", b, err)
	}
	*id = ID(v)
	return nil
}

// Cluster is one probe of the whole cluster. Every field the guard facts
// need is here (see docs/architecture.md "Guard facts").
type Cluster struct {
	API string `json:"api"` // "v2" or "v3"
	ID  ID     `json:"id"`
	// Version is the cluster version ("3.4.0"); "" when unknown or not yet
	// decided. On 2.0, whose /version has no cluster version, it is "2.0.0"
	// when every member answered with a 2.0.x server version.
	Version  string `json:"version"`
	Leader   string `json:"leader"` // member name; "" when there is no leader
	LeaderID ID     `json:"leaderID"`
	// DBSize is the largest member's backend size in bytes (0 on v2: the
	// v2 HTTP API does not expose it).
	DBSize int64 `json:"dbSize"`
	// Revision is the highest store revision seen (v3 header revision; on v2
	// the store index, X-Etcd-Index).
	Revision int64 `json:"revision"`
	// V3Revision is the v3 store's revision, 1 while no v3 key was ever
	// written, and V3Healthy says every member answered the v3 API as
	// healthy (ETCDCTL_API=3 etcdctl endpoint health). A v3 probe sets
	// them to Revision and Healthy; a v2 probe leaves them zero, for the
	// caller to fill when the cluster runs 3.x (a cluster upgraded from 2.3
	// keeps its v2 inventory: see target.Cluster).
	V3Revision int64 `json:"v3Revision"`
	V3Healthy  bool  `json:"v3Healthy"`
	// V3Keys is how many keys the v3 store holds outside Options.OwnPrefix
	// (the most any member reported; 0 also when no member could say).
	// The v3 revision cannot tell a cluster without v3 data from one whose
	// only v3 writes were etcdplay's own lock.
	V3Keys      int64    `json:"v3Keys"`
	Members     []Member `json:"members"`
	Alarms      []Alarm  `json:"alarms"`
	AuthEnabled bool     `json:"authEnabled"`
	// Healthy: at least one member, every member healthy, a leader known,
	// no alarm raised.
	Healthy bool `json:"healthy"`
}

// Member is one member's view. Fields a member could not report keep their
// zero value.
type Member struct {
	// Name is the inventory's name for the member that answers at the
	// inventory's client URL; for a member the inventory does not list, the
	// name in the cluster's member list. Endpoint is the inventory's name
	// ("" for a member the inventory does not list). EtcdName is the name
	// in the cluster's member list (etcd --name), which may differ from
	// the inventory's: lookups never use it (see assemble).
	Name      string `json:"name"`
	Endpoint  string `json:"endpoint"`
	EtcdName  string `json:"etcdName,omitempty"`
	ID        ID     `json:"id"`
	ClientURL string `json:"clientURL"`
	// Reachable: the member answered (v3: Status; v2: /version and
	// /v2/stats/self). Error says why not.
	Reachable bool `json:"reachable"`
	// Healthy as etcdctl endpoint health decides it: v3 a Get of "health"
	// answered (permission denied and user-empty count as answered) and no
	// alarm is raised; v2 /health says true.
	Healthy        bool   `json:"healthy"`
	HealthError    string `json:"healthError,omitempty"`
	Server         string `json:"server"`         // server version "3.5.35"
	ClusterVersion string `json:"clusterVersion"` // cluster version as this member reports it
	Storage        string `json:"storage"`        // storage version (3.6+), else ""
	// Downgrade is what the member's Status says of a downgrade in flight
	// (3.6+; a 3.5 member reports none, so it reads as not enabled).
	Downgrade   DowngradeInfo `json:"downgrade"`
	IsLeader    bool          `json:"isLeader"`
	IsLearner   bool          `json:"isLearner"`
	DBSize      int64         `json:"dbSize"`
	DBSizeInUse int64         `json:"dbSizeInUse"`
	// RaftIndex is the member's committed raft index (v3 Status.raftIndex;
	// v2 the X-Raft-Index header).
	RaftIndex uint64 `json:"raftIndex"`
	// RaftAppliedIndex (v3.4+). v2 exposes no applied index, so on v2 it
	// equals RaftIndex: "caught up" then means the member's commit index
	// reached the leader's, which is what v2 can tell.
	RaftAppliedIndex uint64 `json:"raftAppliedIndex"`
	RaftTerm         uint64 `json:"raftTerm"`
	Revision         int64  `json:"revision"`
	// LeaderID is the leader this member believes in (0: none).
	LeaderID ID     `json:"leaderID"`
	Error    string `json:"error,omitempty"`
}

// Alarm is one raised alarm (v3 only), "NOSPACE" or "CORRUPT".
type Alarm struct {
	Member   string `json:"member"`
	MemberID ID     `json:"memberID"`
	Type     string `json:"type"`
}

// MemberByName returns the member with that inventory name, else (for a
// member the inventory does not list) with that name in the member list,
// or nil.
func (c *Cluster) MemberByName(name string) *Member {
	for i := range c.Members {
		if c.Members[i].Endpoint == name && name != "" {
			return &c.Members[i]
		}
	}
	for i := range c.Members {
		if c.Members[i].Name == name && c.Members[i].Endpoint == "" {
			return &c.Members[i]
		}
	}
	return nil
}

// LeaderMember returns the leading member, or nil.
func (c *Cluster) LeaderMember() *Member {
	for i := range c.Members {
		if c.Members[i].IsLeader {
			return &c.Members[i]
		}
	}
	return nil
}
