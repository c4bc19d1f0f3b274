// Package e2e is etcdplay's end-to-end proof: every shipped playbook
// upgrades a real cluster of real etcd binaries, each member behind its own
// real OpenSSH server (package testbed), and the faults operators fear are
// staged against it. The tests build cmd/etcdplay once and drive the
// binary exactly as an operator would (run, resume, rollback, -o json),
// reaching the cluster only through SSH and the client URLs; they read
// the JSON-lines events, the exit codes of docs/architecture.md and the
// run report, and check the cluster itself afterwards: versions, every
// key and its checksum, the backup, and what a writer saw throughout.
// production_test.go does the same on production-shaped clusters
// (testbed.Options.Production: TLS with client certificates, a bastion,
// etcd's own user, sudo for exactly the lines `etcdplay sudoers` prints).
//
// The tests carry the build tag e2e. Like every bed-backed test, they are
// skipped with a line naming testbed/provision.sh where the bed is not
// provisioned, and fail instead with ETCDPLAY_REQUIRE_BED=1 (scripts/test.sh
// sets it). Run them as root (the bed starts sshd) with
//
//	ETCDPLAY_REQUIRE_BED=1 go test -tags e2e -count=1 -timeout 30m -v ./e2e/
//
// Each upgrade prints one line to stdout, so CI logs keep the timings:
//
//	e2e: 3.4-to-3.5 total=12.3s stop=4.1s start=1.3s waits=3.0s overhead=3.9s writer_stall=40ms failed_writes=0 keys=5000
//
// and each fault scenario one "e2e: scenario ..." line with its time.
package e2e
