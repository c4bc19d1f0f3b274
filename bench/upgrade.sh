#!/usr/bin/env bash
# upgrade.sh: the etcd 3.5 -> 3.6 rolling upgrade typed from the guide, as a
# careful operator would script it with plain ssh: check health, back up
# from the leader, then one member at a time (followers first, the leader
# last): stop, copy the new binary, put it in place, start, wait until the
# member is healthy on the new version. The benchmark (bench_test.go) runs
# it beside etcdplay and the Ansible playbook; it is a fair baseline, not a
# tool.
#
# Input (environment):
#   SSH_CONFIG  ssh_config naming every host (ssh -F)
#   MEMBERS     file, one member a line: name endpoint service-script binary
#   ETCDCTL     the new etcdctl on this machine
#   NEW_ETCD    the new etcd binary on this machine
#   BACKUP      where the snapshot goes
#   TIMING      file to append "phase member start_ns end_ns" lines to
set -euo pipefail

now() { date +%s%N; }
# timed PHASE MEMBER CMD...: runs CMD, appends its span to $TIMING.
timed() {
  local phase=$1 member=$2 t0
  shift 2
  t0=$(now)
  "$@"
  echo "$phase $member $t0 $(now)" >>"$TIMING"
}

mapfile -t lines <"$MEMBERS"
endpoints=$(awk '{print $2}' "$MEMBERS" | paste -sd, -)

# 1. Pre-checks: every endpoint healthy; find the leader.
timed check - "$ETCDCTL" --endpoints="$endpoints" endpoint health >/dev/null 2>&1
status=$("$ETCDCTL" --endpoints="$endpoints" endpoint status -w json 2>/dev/null)
leader_ep=$(python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["Status"]["header"]["member_id"] == s["Status"]["leader"]:
        print(s["Endpoint"])' <<<"$status")

# 2. Back up from the leader.
timed backup - "$ETCDCTL" --endpoints="$leader_ep" snapshot save "$BACKUP" >/dev/null 2>&1

# 3. Followers first, the leader last.
order=()
last=""
for l in "${lines[@]}"; do
  read -r _ ep _ _ <<<"$l"
  if [ "$ep" = "$leader_ep" ]; then last=$l; else order+=("$l"); fi
done
order+=("$last")

for l in "${order[@]}"; do
  read -r name ep svc bin <<<"$l"
  timed stop "$name" ssh -F "$SSH_CONFIG" -T "$name" "$svc stop"
  timed transfer "$name" scp -q -F "$SSH_CONFIG" "$NEW_ETCD" "$name:$bin.new"
  timed swap "$name" ssh -F "$SSH_CONFIG" -T "$name" "chmod 755 $bin.new && mv -f $bin.new $bin"
  timed start "$name" ssh -F "$SSH_CONFIG" -T "$name" "$svc start"
  t0=$(now)
  for _ in $(seq 600); do
    if "$ETCDCTL" --endpoints="$ep" endpoint health >/dev/null 2>&1 &&
       curl -sf "$ep/version" | grep -q '"etcdserver":"3.6'; then
      break
    fi
    sleep 0.1
  done
  echo "wait $name $t0 $(now)" >>"$TIMING"
  curl -sf "$ep/version" | grep -q '"etcdserver":"3.6' || { echo "$name did not come back on 3.6" >&2; exit 1; }
done

# 4. The cluster version moves to 3.6 once every member runs it.
t0=$(now)
for _ in $(seq 600); do
  curl -sf "${endpoints%%,*}/version" | grep -q '"etcdcluster":"3.6' && break
  sleep 0.1
done
echo "wait - $t0 $(now)" >>"$TIMING"
