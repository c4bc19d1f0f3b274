// Package sandbox runs a real etcd cluster on one machine for people, not
// tests: `etcdplay sandbox up|status|down` and `etcdplay demo`. It is the
// test bed (package testbed) with a life of its own:
//
//   - Binaries: the bed's cache (testbed.BinDir) when provisioned, else
//     built from the Go module proxy exactly as testbed/provision.sh does
//     (EnsureBinaries, with a progress display); Debian's /usr/bin/etcd for
//     3.4, which the proxy cannot build.
//   - SSH: OpenSSH's sshd as the bed runs it when this is root on a
//     provisioned machine; otherwise the built-in server (sandbox/sshserver,
//     x/crypto/ssh), which accepts only the sandbox's own client key, runs
//     commands as the current user, and whose host keys go into the
//     sandbox's known_hosts so etcdplay verifies hosts as strictly as in
//     production.
//   - Lifetime: `up` starts a detached supervisor (`etcdplay sandbox serve`,
//     its own session, output in serve.log, pid in serve.pid) that starts
//     the cluster through testbed.Start, holds its slot (addresses 127.0.k.11
//     and up; slot 0, 127.0.0.11, unless another cluster holds it), runs the
//     built-in servers, and tears everything down on SIGTERM. `down` sends
//     it, finishes off anything its folder still runs, checks that no
//     process and no listening port remain, and removes the folder.
//
// One sandbox per folder; the folder (default ~/.cache/etcdplay/sandbox,
// or $ETCDPLAY_SANDBOX_DIR) holds the inventory etcdplay is pointed at.
package sandbox
