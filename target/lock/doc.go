// Package lock makes sure one run at a time touches a cluster (invariant 5
// in docs/safety.md): two operators upgrading the same cluster at once could
// each stop a member and cost quorum.
//
// On v3 the lock lives in the cluster itself, under documented keys:
//
//	/etcdplay/lock/<cluster>/<lease id>   the concurrency.Mutex key
//	/etcdplay/lock/<cluster>/holder       who holds it, as JSON
//
// Both keys are attached to one lease (30 s by default) that the runner
// keeps alive while it lives: a runner that dies loses the lock when the
// lease expires, without anyone cleaning up. Read the holder with
//
//	etcdctl get /etcdplay/lock/<cluster>/holder
//
// On v2 there are no leases, so the lock is a folder created with mkdir
// (atomic on POSIX) on every member host, <dir>/etcdplay-<cluster>.lock,
// where dir is the member's backup_dir or /var/tmp, holding the same
// holder.json. It does not expire: a dead run's lock must be broken.
//
// A second run gets a *HeldError naming the holder (user@host, run id,
// start time, pid). Breaking a lock (`--break-lock`) is an explicit,
// separate call; asking the operator first is the CLI's job.
package lock
