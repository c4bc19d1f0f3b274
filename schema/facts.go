package schema

// Facts is what a guard can read: the live cluster, the member being
// upgraded, the merged vars and the playbook itself. The runner fills it
// from probes; the expr names (the `expr` tags) are the contract in
// docs/architecture.md, so a rename here is a breaking change to playbooks.
type Facts struct {
	Cluster  ClusterFacts   `expr:"cluster"`
	Member   MemberFacts    `expr:"member"`
	Vars     map[string]any `expr:"vars"`
	Playbook PlaybookFacts  `expr:"playbook"`
}

// ClusterFacts describes the whole cluster.
type ClusterFacts struct {
	Version     string        `expr:"version"`     // cluster version, "3.4.0"
	Leader      string        `expr:"leader"`      // the leader's member name
	DBSize      int64         `expr:"dbSize"`      // bytes, largest member
	Members     []MemberFacts `expr:"members"`     // every member, inventory order
	API         string        `expr:"api"`         // "v2" or "v3"
	AuthEnabled bool          `expr:"authEnabled"` // v3 auth (or v2 security) on
	Healthy     bool          `expr:"healthy"`     // every member healthy
	Alarms      []string      `expr:"alarms"`      // active alarms, e.g. "NOSPACE"
	// V3Healthy: every member answers the v3 API as healthy, as
	// `ETCDCTL_API=3 etcdctl endpoint health` would.
	V3Healthy bool `expr:"v3Healthy"`
	// V3Keys is how many keys the v3 store holds, not counting etcdplay's
	// own lock keys: 0 means no v3 data, the cluster etcd issue 9480
	// panics on after 3.0 (0 too while no member serves the v3 API: 2.x,
	// or mixed 2.3/3.0). It is the one "has v3 data" fact: the store's
	// revision is not, since etcdplay's v3 lease lock (a v3 inventory, or
	// a route's hops from 3.0 on) raises it on every run.
	V3Keys int64 `expr:"v3Keys"`
}

// MemberFacts describes one member. Outside the per-member phase the
// `member` fact is the zero value.
type MemberFacts struct {
	Name         string `expr:"name"`
	Server       string `expr:"server"` // server version, "3.4.23"
	IsLeader     bool   `expr:"isLeader"`
	DBSize       int64  `expr:"dbSize"` // bytes
	RaftIndex    uint64 `expr:"raftIndex"`
	AppliedIndex uint64 `expr:"appliedIndex"`
	Healthy      bool   `expr:"healthy"`
	Storage      string `expr:"storage"` // storage version (3.6+), else ""
	IsLearner    bool   `expr:"isLearner"`
	// Options are the member's effective etcd options as the running
	// process got them, names without dashes ("enable-v2"): its flags and
	// ETCD_* environment, or only its --config-file's keys when it has one
	// (etcd then ignores flags and env). Read over SSH once in preflight
	// and again after the member restarts (docs/production.md, "How
	// etcdplay reads each member's options").
	Options map[string]string `expr:"options"`
	// OptionSources says where each option was set: "flag", "env" or
	// "config-file".
	OptionSources map[string]string `expr:"optionSources"`
	// OptionsUnknown says what could not be read and why ("" when
	// everything was): a check treats unknown options explicitly.
	OptionsUnknown string `expr:"optionsUnknown"`
}

// PlaybookFacts names the playbook being run.
type PlaybookFacts struct {
	Name string `expr:"name"`
	From string `expr:"from"`
	To   string `expr:"to"`
}

// Size constants guards can use: `cluster.dbSize > 50 * MB`. The guides
// say "50MB" loosely; we read it as binary megabytes, which is what etcd's
// own size flags use.
const (
	MB int64 = 1 << 20
	GB int64 = 1 << 30
)

// env is what guards are compiled and run against: the facts plus the
// constants, which are fields so expr type-checks them as int64.
type env struct {
	Facts
	MB int64 `expr:"MB"`
	GB int64 `expr:"GB"`
}
