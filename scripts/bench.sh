#!/usr/bin/env bash
# scripts/bench.sh runs the benchmark (bench/, build tag "bench"): the
# 3.5-to-3.6 upgrade of 3- and 5-member bed clusters by etcdplay, by a bash
# script over ssh (bench/upgrade.sh) and by Ansible (bench/upgrade.yml), in
# alternation, then the fixed-wait-vs-gate comparison with data in the
# cluster, validate and plan timings. Results: bench/out/results.{md,json}.
# It takes a long time (20-40 min on 2 cores); it is not part of CI's tests.
#
#   scripts/bench.sh                      the full benchmark (3 runs each, 2 min fixed wait, 200 MB)
#   scripts/bench.sh -bench.reps=1 -bench.members=3 -bench.fixed-wait=30s   a quick variant
#
# Extra arguments go to the test binary. Run as root (the bed starts sshd).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash testbed/provision.sh
if ! command -v ansible-playbook >/dev/null; then
  echo "== installing Debian's ansible (about 30 s) =="
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q ansible >/dev/null
fi
cd bench
exec go test -tags bench -count=1 -timeout 3h -run TestBench -v "$@" -bench.out=out
