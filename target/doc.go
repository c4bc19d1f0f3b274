// Package target opens the cluster an inventory describes: the etcd side
// (an *etcdprobe.Prober over every member's client URL, with the
// inventory's TLS) and the SSH side (one pooled connection per member's
// host, configured from the member's resolved ssh settings). A *Target
// satisfies steps.Cluster and steps.Hosts, and Locker returns the
// cluster's lock (target/lock) over the same TLS config, credentials and
// SSH pool, so the runner and `etcdplay status` build an action's Env and
// the lock from one Open, and no second copy of the path or TLS logic can
// read other files for the same inventory.
//
// Open connects to nothing: the prober opens connections per call, and a
// host is dialled the first time an action asks for it. `etcdplay status`
// therefore never needs SSH.
//
// Paths in the inventory (TLS files, ssh identity, known_hosts, ssh config)
// are relative to the inventory file's folder, and a leading ~ is the
// operator's home: the inventory travels with its pki/ folder.
package target
