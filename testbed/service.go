package testbed

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// svcScript is each host's service manager, the bed's stand-in for a
// systemd unit: `svc.sh start|stop|status`. It runs as the bed user over
// SSH. Rules learned the hard way (docs/etcd-behaviour.md "On one
// machine"): every fd of the background
// etcd is redirected, or ssh waits for it; setsid detaches it from the
// session; paths are absolute. Flags are one per line in etcd.flags and
// KEY=VALUE environment lines in etcd.env, so tests can change them
// between restarts. start runs nothing before etcd (a unit's ExecStart
// does not either): an `etcd --version` for the log line used to add
// 30-50 ms to every restart the benchmark measures; etcd logs its version
// itself.
const svcScript = `#!/bin/bash
# etcd service script written by the etcdplay test bed.
# start: exit 0 when running (or already running), 1 when etcd died at once
# stop:  SIGTERM, wait up to 15 s, then SIGKILL; exit 0
# status: exit 0 running, 3 stopped (like systemctl is-active / LSB)
H=$(dirname "$(readlink -f "$0")"); PIDF=$H/etcd.pid
# alive PID: the process exists, is not a zombie (a killed member stays one
# until init reaps it, and kill -0 still succeeds on it), and is our etcd
# (not a stranger that got a recycled pid).
alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ] && grep -qF "$H/bin/etcd" "/proc/$1/cmdline" 2>/dev/null
}
running() { [ -f "$PIDF" ] && alive "$(cat "$PIDF")"; }
case "$1" in
start)
  running && { echo "already running pid $(cat "$PIDF")"; exit 0; }
  mapfile -t FLAGS < <(grep -v -e '^#' -e '^$' "$H/etcd.flags")
  ENVS=()
  [ -f "$H/etcd.env" ] && mapfile -t ENVS < <(grep -v -e '^#' -e '^$' "$H/etcd.env")
  cd "$H" || exit 1
  echo "=== $(date +%T.%N) start $H/bin/etcd" >>"$H/etcd.log"
  setsid env "${ENVS[@]}" "$H/bin/etcd" "${FLAGS[@]}" >>"$H/etcd.log" 2>&1 </dev/null &
  echo $! >"$PIDF"
  sleep 0.2
  if running; then echo "started pid $(cat "$PIDF")"; else
    echo "FAILED to start"; tail -5 "$H/etcd.log"; rm -f "$PIDF"; exit 1; fi ;;
stop)
  running || { echo "not running"; rm -f "$PIDF"; exit 0; }
  p=$(cat "$PIDF"); kill -TERM "$p"
  for _ in $(seq 150); do alive "$p" || break; sleep 0.1; done
  alive "$p" && { kill -KILL "$p"; echo "killed pid $p after 15 s"; }
  rm -f "$PIDF"; echo "stopped pid $p" ;;
status)
  if running; then echo "running pid $(cat "$PIDF")"; else echo stopped; exit 3; fi ;;
*)
  echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
`

// memberFlags returns host h's etcd flags, one per line. 2.x and 3.x take
// the same flags; 3.4+ adds --logger=zap (3.4 defaults to capnslog, which
// 3.5+ rejects, so one spelling works from 3.4 on; 3.0-3.3 have no
// --logger and exit on it, and their capnslog default is what 3.4 keeps
// when a cluster born there is upgraded). --enable-v2 is never
// added: 3.6+ exits on it; ask for it through Options.ExtraFlags.
func (c *Cluster) memberFlags(h *Host, extra []string) string {
	var peers []string
	for _, o := range c.Hosts {
		peers = append(peers, o.Name+"="+o.PeerURL)
	}
	flags := []string{
		"--name=" + h.Name,
		"--data-dir=" + h.DataDir,
		"--listen-client-urls=" + h.ClientURL,
		"--advertise-client-urls=" + h.ClientURL,
		"--listen-peer-urls=" + h.PeerURL,
		"--initial-advertise-peer-urls=" + h.PeerURL,
		"--initial-cluster=" + strings.Join(peers, ","),
		"--initial-cluster-state=new",
		"--initial-cluster-token=" + c.Name,
	}
	if hasLoggerFlag(c.Version) {
		flags = append(flags, "--logger=zap")
	}
	flags = append(flags, extra...)
	return fmt.Sprintf("# etcd flags for %s, one per line (read by svc.sh at start)\n%s\n", h.Name, strings.Join(flags, "\n"))
}

func envFile(env map[string]string) string {
	var b strings.Builder
	b.WriteString("# KEY=VALUE lines added to etcd's environment by svc.sh\n")
	for _, k := range slices.Sorted(maps.Keys(env)) {
		fmt.Fprintf(&b, "%s=%s\n", k, env[k])
	}
	return b.String()
}
