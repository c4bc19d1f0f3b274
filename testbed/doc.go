// Package testbed runs real etcd clusters, of every version from 2.0 to 3.7,
// each member behind its own OpenSSH server, on one machine. Nothing in
// etcdplay counts as working until it has upgraded such a cluster over real
// SSH, so every end-to-end test (and `etcdplay sandbox`) builds on it.
//
// # Provisioning
//
// testbed/provision.sh (run as root; idempotent, seconds when cached)
// installs openssh-server and Debian's etcd 3.4, builds every version in
// versions.txt into Dir()/bin/<version>/{etcd,etcdctl[,etcdutl]}, creates
// the unprivileged user etcdtest (home Dir()/home/etcdtest), and checks
// that the user can reach the bed; it changes no permission outside it.
// Dir() is $ETCDPLAY_BED, else SystemDir (/var/cache/etcdplay/bed) for
// root, else ~/.cache/etcdplay/bed (a user's sandbox). versions.txt is the one place versions are pinned;
// it is embedded, and Versions/Resolve read it: tests say "3.5" or
// "3.5-below-floor", never a literal patch.
//
// # A cluster
//
// Start (or StartT in tests) brings up N hosts (default 3). Host i of slot k
// is the address 127.0.k.(11+i): an sshd on port 2222 with its own ed25519
// host key, and an etcd member on 2379 (client) and 2380 (peer), run as
// etcdtest by the host's service script, started over SSH. On disk:
//
//	Dir()/run/<version>-<id>/           the run folder (Cluster.Dir)
//	    inventory.yaml known_hosts ssh_config slot
//	    hostN/                          owned by etcdtest
//	        bin/etcd bin/etcdctl [bin/etcdutl]   the host's /opt/etcd/bin
//	        svc.sh start|stop|status    pid file etcd.pid; stop = TERM, wait 15 s, KILL; status exit 3 = stopped
//	        etcd.flags etcd.env         read by svc.sh at each start
//	        etcd.log data/ backup/
//	        sshd/                       root's: sshd_config hostkey sshd.pid sshd.log
//
// The inventory (docs/architecture.md shape) names every member's address,
// client URL, service commands, binary, etcdctl, data and backup folders,
// the bed's SSH key and known_hosts, and under releases every provisioned
// version's cached binaries, so a playbook can swap any host to any version.
// The bed's client key (Dir()/ssh/id_ed25519) is one per bed; the system ssh
// client works with `ssh -F <SSHConfigPath> host1` (or the address) (Cluster.SSH does
// exactly that, with StrictHostKeyChecking yes).
//
// # Without root: Options.SSHServer
//
// With Options.SSHServer the caller serves each host's SSH endpoint
// instead of OpenSSH (etcdplay sandbox's built-in x/crypto/ssh server, on
// machines without root or sshd). The cluster then runs as the current user
// (Cluster.User), with a client key of its own in <run folder>/ssh that only
// those servers accept, the servers' host keys in known_hosts as usual, and
// the bed's own commands (Cluster.SSH) go over x/crypto/ssh, not the system
// ssh client. Options.Name names the cluster (default bed-<version>-<id>).
//
// # A production-shaped cluster: Options.Production
//
// Options{Version: "3.5", Production: true} lays a cluster out the way a
// hardened site runs etcd, so etcdplay is proven under least privilege:
//
//   - TLS with client certificates on client and peer URLs
//     (client-cert-auth and trusted-ca-file on both), from a CA made per
//     cluster in Go (ECDSA P-256). Member certificates carry the member's
//     IP and 127.0.0.1 (etcd checks a peer's IP SANs against its source
//     address, which on loopback is 127.0.0.1). Cluster.TLS names the CA
//     and a client certificate (<run folder>/tls); every helper here
//     (WriteKeys, VerifyKeys, StartWriter, Leader, WaitHealthy, and the
//     Cluster.Health and Cluster.ServerVersion methods) speaks TLS with
//     them. NewCAFile writes a stranger CA for wrong-CA tests.
//   - etcd started from --config-file (hostN/etcd.yaml); Options.ExtraFlags
//     become keys of that file, since etcd ignores flags beside it.
//   - two users (provision.sh creates both): SSH logs in as LoginUser
//     (etcdlogin), etcd runs as EtcdUser (etcdsvc), which owns the data
//     folder (0700) and the member key. hostN/, its bin/ (the binary
//     etcdplay swaps), the config and the service script are root's, 0755;
//     the login user can write only its home, hostN/backup and
//     hostN/stage.
//   - service control through hostN/svc.sh, root-owned, to be run as root
//     through sudo: it starts etcd as EtcdUser with setpriv, closes every
//     inherited fd, and keeps the pid file; start|stop|status as above.
//     The bed's own StartMember/StopMember run it directly as root, so
//     they never depend on the sudo rules a test is probing.
//   - sudo limited to named commands: /etc/sudoers.d/etcdplay-bed-<slot>
//     (0440, checked with visudo -cf, removed by Close or by the next owner
//     of the slot) holds Options.SudoRules, or DefaultSudoRules (each
//     host's service start/stop/status, and the install, mv and rm of etcd
//     and etcdctl in its bin/ that a swap runs, sources by wildcard).
//     `sudo -n true` is refused. SudoRules and SetSudoRules read and
//     replace them while the cluster runs; tests of etcdplay's exact
//     commands install what `etcdplay sudoers` prints.
//   - a staging folder per host, hostN/stage (the login user's, 0700), as
//     the inventory's per-member ssh.stage_dir: the hosts share one home,
//     so the default staging folder there would be one for all.
//   - non-default ports: client 23790, peer 23800, sshd 2022, and a bastion
//     (Cluster.Bastion, an sshd on 127.0.k.10:2022 that forwards TCP;
//     the members' sshd do not) through which the inventory (ssh.jump) and
//     Cluster.SSH reach every member.
//
// Its inventory has tls, ssh {user: etcdlogin, port: 2022, jump, sudo:
// true}, https client URLs, and the root-owned script as service commands.
// It needs root and a 3.4+ version.
//
// # etcd authentication: Options.Auth
//
// Options.Auth (v3, plain or production-shaped) turns etcd's
// authentication on once the members are up: user root with the root role
// and a random password, kept in Cluster.Auth.PasswordFile
// (<run folder>/auth/root.password, root's, 0600, no newline). The bed's
// v3 clients (WriteKeys, VerifyKeys, StartWriter, Leader) log in with it,
// and the inventory's auth section names the user and the file;
// /health and /version need no login. On a production-shaped cluster a
// request without a password is refused even with the client
// certificate (etcd takes the certificate's CN, etcdplay, as the user,
// and there is no such user).
//
// # Slots and cleanup
//
// A cluster holds an flock on Dir()/slots/<k>.lock for its life, so
// clusters in parallel test binaries never share addresses. Close stops
// every process it started by pid (SIGTERM, a short grace, SIGKILL),
// checks that none is left and nothing listens on its addresses, removes
// the run folder and frees the slot. A test binary killed before Close
// leaves processes behind; the next owner of that slot kills them (they are
// recognised by command lines pointing into the dead run folder) and
// removes the folder. ETCDPLAY_BED_KEEP=1 keeps run folders for debugging
// (processes are still stopped).
//
// CleanStale does the same for every free slot at once (for a sandbox, or
// the start of CI).
//
// # Helpers
//
// WriteKeys writes checksummed keys (8 writers: 2.0 takes ~25 ms per v2
// write, so use ~300 keys there); VerifyKeys checks every one with a
// linearizable read and VerifyKeysOn with a local read on one member.
// StartWriter runs an application-like writer over all endpoints and
// reports failed writes and the longest stall (a graceful restart of a
// follower, or of a 3.x leader, costs none; a 2.x leader has no leadership
// transfer and costs the writes in flight during the election).
// StopMember/StartMember go through the service script over SSH (StartMember
// waits for health), KillMember is an ungraceful stop, WaitHealthy waits for
// every member, WaitSettled for the cluster and storage versions a fresh
// cluster reports only after a moment (Start waits for both), Leader finds the leader on v2 and v3, Client is the shared
// v3 client, SSH runs a command with the system ssh client, InstallVersion
// puts another version's binaries on one host (drift, or a manual upgrade
// step), and Health and ServerVersion read /health and /version on any
// version 2.0 to 3.7 (2.0's /version is {"releaseVersion":...}).
//
// Host binaries are hard links to the cache, owned by root: the bed user can
// replace them by rename (as an atomic upload does) but never write through
// them into the cache.
//
// Usage in a test:
//
//	c := testbed.StartT(t, testbed.Options{Version: "3.5"})
//	if err := c.WriteKeys(ctx, 1000); err != nil { t.Fatal(err) }
//	// ... run etcdplay against c.InventoryPath ...
//	if n, err := c.VerifyKeys(ctx); err != nil { t.Fatal(err) }
//
// # Two tiers
//
// Every bed-backed test goes through Require (StartT and RequireVersions
// do): where the bed is not provisioned (binaries, root, sshd, the bed
// user) the test is skipped with one line naming what is missing and
// `bash testbed/provision.sh`, so a fresh clone's `go test ./...` is green;
// with ETCDPLAY_REQUIRE_BED=1 (scripts/test.sh and .ci/run set it) the same
// test fails, so CI never passes by skipping. The bed must run as root (it
// starts sshd); its etcd members never do.
package testbed
