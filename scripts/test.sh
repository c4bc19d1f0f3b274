#!/usr/bin/env bash
# scripts/test.sh runs the whole test suite: the real test bed is provisioned
# (or found in its cache), then vet, every package's tests against real etcd
# behind real sshd, the end-to-end upgrades and fault scenarios (build tag
# e2e), a snapshot release build, and a bounded fuzz run of the playbook
# and inventory loaders.
#
# Every phase runs even when an earlier one fails (one flaky test must not
# hide e2e and fuzz); a summary of the failed phases closes the output, and
# the exit status is non-zero when any failed.
#
# ETCDPLAY_REQUIRE_BED=1 is set: a bed-backed test that finds the bed
# missing fails instead of skipping (testbed.Require), so this script never
# passes by skipping real-cluster tests.
#
#   FUZZTIME=60s   how long each fuzz target runs (0 skips fuzzing)
#   GOTESTFLAGS    extra flags for go test, e.g. "-run TestBed -v"
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh: the test bed starts sshd and switches to a test user, so it runs as root" >&2
  echo "  (as any user, plain 'go test ./...' runs everything that needs no bed)" >&2
  exit 2
fi
export ETCDPLAY_REQUIRE_BED=1

failed=()
began=$(date +%s)
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# phase NAME CMD...: runs one phase, timed, and notes it and the tests that
# failed in it (go test's "--- FAIL" lines) when it fails.
phase() {
  local name=$1 t0 rc log
  shift
  log=$logs/${#failed[@]}-$RANDOM.log
  printf '\n== %s ==\n' "$name"
  t0=$(date +%s)
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  printf '== %s: %s in %ss ==\n' "$name" "$([ "$rc" = 0 ] && echo ok || echo "FAILED (exit $rc)")" "$(( $(date +%s) - t0 ))"
  if [ "$rc" != 0 ]; then
    failed+=("$name (exit $rc)")
    while read -r line; do failed+=("    $line"); done < <(grep -E -e '--- FAIL: |^FAIL[[:space:]]|^panic: ' "$log" | sed 's/^[[:space:]]*//' | head -40)
  fi
  return 0
}

# The benchmark (build tag bench) is too slow for CI, but must compile.
vet() { go vet ./... && go vet -tags e2e ./e2e/ && go vet -tags bench ./bench/; }

fuzz() {
  local targets target rc=0
  targets=$(go test ./schema -list '^Fuzz' | grep '^Fuzz') || { echo "no fuzz targets found in ./schema" >&2; return 1; }
  for target in $targets; do
    echo "-- fuzz schema.$target for $FUZZTIME"
    go test ./schema -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s || rc=1
  done
  return $rc
}

phase "provision the test bed" bash testbed/provision.sh
phase "go vet" vet
# -p 2: the machine has two cores; packages that start clusters take
# separate address slots, so running two at once is safe.
# shellcheck disable=SC2086
phase "go test (unit, golden, CLI scripts, real clusters)" go test -p 2 -count=1 -timeout 40m ${GOTESTFLAGS:-} ./...
# -v so the CI log shows every scenario by name with its timings.
# shellcheck disable=SC2086
phase "end to end: every shipped playbook and the fault scenarios, with the built binary" \
  go test -tags e2e -count=1 -timeout 30m -v ${GOTESTFLAGS:-} ./e2e/
# A snapshot release as scripts/release.sh builds it: both static
# binaries, their archives and SHA256SUMS, the version stamped.
phase "release snapshot (scripts/release.sh)" \
  env ETCDPLAY_RELEASE_TEST=1 go test -count=1 -timeout 30m -run '^TestReleaseSnapshot$' ./cmd/etcdplay
FUZZTIME=${FUZZTIME:-60s}
if [ "$FUZZTIME" != 0 ]; then
  phase "fuzz the loaders" fuzz
fi

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "scripts/test.sh: FAILED after $(( $(date +%s) - began ))s:"
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "scripts/test.sh: every phase passed in $(( $(date +%s) - began ))s"
