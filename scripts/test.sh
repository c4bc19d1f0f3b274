#!/usr/bin/env bash
# scripts/test.sh runs the whole test suite: the real test bed is provisioned
# (or found in its cache), then vet, every package's tests against real etcd
# behind real sshd, the end-to-end upgrades and fault scenarios (build tag
# e2e), and a bounded fuzz run of the playbook and inventory loaders.
#
#   FUZZTIME=60s   how long each fuzz target runs (0 skips fuzzing)
#   GOTESTFLAGS    extra flags for go test, e.g. "-run TestBed -v"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh: the test bed starts sshd and switches to a test user, so it runs as root" >&2
  exit 2
fi

bash testbed/provision.sh

step() { printf '\n== %s ==\n' "$*"; }

step "go vet"
go vet ./...
go vet -tags e2e ./e2e/

step "go test (unit, golden, CLI scripts, real clusters)"
# -p 2: the machine has two cores; packages that start clusters take
# separate address slots, so running two at once is safe.
# shellcheck disable=SC2086
go test -p 2 -count=1 -timeout 40m ${GOTESTFLAGS:-} ./...

step "end to end: every shipped playbook and the fault scenarios, with the built binary"
# -v so the CI log shows every scenario by name with its timings.
# shellcheck disable=SC2086
go test -tags e2e -count=1 -timeout 30m -v ${GOTESTFLAGS:-} ./e2e/

FUZZTIME=${FUZZTIME:-60s}
if [ "$FUZZTIME" != 0 ]; then
  for target in $(go test ./schema -list '^Fuzz' | grep '^Fuzz' || true); do
    step "fuzz schema.$target for $FUZZTIME"
    go test ./schema -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s
  done
fi
