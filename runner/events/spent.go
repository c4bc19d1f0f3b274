package events

// Spent is what a step's (or a gate's) time counts as in the run report, so
// the report can say honestly where an upgrade's time went and leave as
// "runner overhead" only the runner's own time (docs/performance.md).
type Spent string

const (
	SpentEtcdStop  Spent = "etcd-stop"  // ssh-stop: etcd shutting down
	SpentEtcdStart Spent = "etcd-start" // ssh-start
	// SpentCatchUp: waiting for a restarted member to be healthy and caught
	// up (wait for healthy, caught-up or a cluster version; the
	// post-member gate).
	SpentCatchUp Spent = "catch-up"
	SpentLeader  Spent = "leader"   // move-leader: the hand-off and its settling
	SpentWait    Spent = "wait"     // a fixed pause the playbook asks for (wait duration)
	SpentStaging Spent = "transfer" // putting a release on a host before anything stops
	SpentSwap    Spent = "swap"     // installing the binary while the member is down
	SpentBackup  Spent = "backup"
	SpentCheck   Spent = "check"    // health, assert-version, check, ssh-run, the stop gate
	SpentHuman   Spent = "operator" // confirm: waiting for a person
)
