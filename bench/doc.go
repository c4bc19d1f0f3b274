// Package bench measures etcdplay against the two ways operators upgrade
// etcd without it: a bash script typing the guide's steps over ssh
// (upgrade.sh) and an Ansible playbook with serial: 1 (upgrade.yml). It
// runs the 3.5-to-3.6 upgrade of real 3- and 5-member bed clusters, the
// three ways in alternation, and reports wall time, per-member downtime,
// time inside etcd, transfers, overhead, SSH connections, leader changes
// and two writers' failed writes and stalls, as medians with their spread,
// then judges every etcdplay run against its targets (targets_test.go).
//
// The benchmark is slow (many minutes) and sits behind the build tag
// "bench", so `go test ./...` only compiles this file; run it with
// scripts/bench.sh (see the README's "Performance" section). How the
// figures are measured is in bench_test.go and docs/performance.md.
package bench
