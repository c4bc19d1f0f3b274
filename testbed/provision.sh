#!/usr/bin/env bash
# provision.sh installs everything the real test bed needs on a fresh Debian
# machine and builds every etcd version listed in versions.txt into a cache
# folder. It is idempotent: a second run finds the binaries and returns in
# seconds. It must run as root (apt-get, useradd, and later sshd need it).
# It changes no permission outside the bed folder: the bed lives where the
# bed's users can already enter (README, Development, lists all it creates).
#
#   ETCDPLAY_BED   bed folder (default /var/cache/etcdplay/bed, which is
#                  testbed.SystemDir)
#   ETCDPLAY_APT=0 skip apt-get (packages already present)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ "$(id -u)" != 0 ]; then
  echo "provision.sh: run it as root: it installs packages, adds the bed's users and later starts sshd" >&2
  exit 2
fi
BED=${ETCDPLAY_BED:-/var/cache/etcdplay/bed}
mkdir -p "$BED/bin" "$BED/build"
chmod 755 "$BED"
start=$(date +%s)
log() { printf '[provision %4ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }

# One provisioning at a time: CI and scripts/test.sh both call this script,
# and two builds of one version into the same folder would race.
exec 9>"$BED/.provision.lock"
if ! flock -n 9; then
  log "another provision.sh is running; waiting for it"
  flock 9
fi

if [ "${ETCDPLAY_APT:-1}" != 0 ]; then
  need=()
  for p in openssh-server openssh-client etcd-server etcd-client sudo procps; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    log "apt-get install ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

# The etcd processes of the bed run as this unprivileged user, reached over
# SSH. useradd's default password field '!' counts as locked and sshd (with
# UsePAM no) refuses a locked user, so it is set to '*'.
# A user made by an older provision.sh may have its home where it cannot
# enter (under /root): such a home moves into the bed, no permission on
# another folder changes.
bed_user() { # name
  local u=$1 h
  mkdir -p "$BED/home" && chmod 755 "$BED/home"
  if ! id "$u" >/dev/null 2>&1; then
    useradd --home-dir "$BED/home/$u" --create-home --shell /bin/bash "$u"
  fi
  h=$(getent passwd "$u" | cut -d: -f6)
  if ! runuser -u "$u" -- test -x "$h" 2>/dev/null; then
    log "$u cannot enter its home $h: it moves to $BED/home/$u"
    usermod --home "$BED/home/$u" "$u"
    install -d -m 755 -o "$u" -g "$u" "$BED/home/$u"
  fi
  usermod -p '*' "$u"
}
bed_user etcdtest
# The production-shaped bed (testbed.Options.Production) separates the two
# roles an operator's hosts separate: etcdlogin is who SSH logs in as (it
# may run only the sudo commands the bed grants), etcdsvc owns etcd's data
# and runs it, and has no shell.
bed_user etcdlogin
if ! id etcdsvc >/dev/null 2>&1; then
  useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin etcdsvc
fi
mkdir -p /run/sshd && chmod 755 /run/sshd

# etcdtest must walk down to the bed: sshd reads its authorized_keys as that
# user and the members exec binaries from it. The default folder allows
# that; one given in ETCDPLAY_BED under a closed folder (/root is 0700) is
# refused rather than opened up.
if ! runuser -u etcdtest -- test -x "$BED"; then
  echo "provision.sh: user etcdtest cannot enter $BED (a parent folder is closed to other users):" >&2
  echo "  set ETCDPLAY_BED to a folder every user may enter, or leave it unset for /var/cache/etcdplay/bed" >&2
  exit 1
fi
mkdir -p "$BED/run" "$BED/slots" && chmod 755 "$BED/run"

# quiet runs a command with its output kept aside, and shows it only when the
# command fails, so a version the module proxy no longer serves is explained.
quiet() {
  local out
  if ! out=$("$@" 2>&1); then
    printf 'provision: %s failed:\n%s\n' "$*" "$out" >&2
    return 1
  fi
}

build_v3() { # version
  local v=$1 d=$BED/build/v$1 b=$BED/bin/$1
  [ -x "$b/etcd" ] && [ -x "$b/etcdctl" ] && [ -x "$b/etcdutl" ] && return 0
  log "build etcd $v"
  mkdir -p "$d" "$b"
  printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >"$d/main.go"
  ( cd "$d"
    export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
    [ -f go.mod ] || go mod init "bed/etcd$v" >/dev/null 2>&1
    quiet go get "go.etcd.io/etcd/server/v3@v$v" "go.etcd.io/etcd/etcdctl/v3@v$v" "go.etcd.io/etcd/etcdutl/v3@v$v"
    go build -trimpath -o "$b/etcd.tmp" . && mv "$b/etcd.tmp" "$b/etcd"
    go build -trimpath -o "$b/etcdctl.tmp" go.etcd.io/etcd/etcdctl/v3 && mv "$b/etcdctl.tmp" "$b/etcdctl"
    go build -trimpath -o "$b/etcdutl.tmp" go.etcd.io/etcd/etcdutl/v3 && mv "$b/etcdutl.tmp" "$b/etcdutl" )
}

# etcd 2.x vendors a codec that panics at init under Go 1.22+, so it is built
# with the go1.21.13 toolchain (fetched from the module proxy). The go.mod
# says "go 1.20" because go1.21 refuses a newer go line.
build_v2() { # version
  local v=$1 d=$BED/build/v$1 b=$BED/bin/$1
  [ -x "$b/etcd" ] && [ -x "$b/etcdctl" ] && return 0
  log "build etcd $v"
  mkdir -p "$d" "$b"
  printf 'module bed/etcd%s\n\ngo 1.20\n' "$v" >"$d/go.mod"
  printf 'package main\n\nimport "github.com/coreos/etcd/etcdmain"\n\nfunc main() { etcdmain.Main() }\n' >"$d/main.go"
  ( cd "$d"
    export GOTOOLCHAIN=go1.21.13 GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
    quiet go get "github.com/coreos/etcd@v$v+incompatible"
    go build -trimpath -o "$b/etcd.tmp" . && mv "$b/etcd.tmp" "$b/etcd"
    go build -trimpath -o "$b/etcdctl.tmp" github.com/coreos/etcd/etcdctl && mv "$b/etcdctl.tmp" "$b/etcdctl" )
}

# etcd 3.0-3.3 have no go.mod and their vendored dependencies are not in
# the module zip: testbed/oldetcd/VERSION/go.mod pins versions the module
# proxy still serves (testbed/oldetcd/README.md says why each). Built with
# go1.21.13 like 2.x (the old ugorji codec), and -mod=readonly so a missing
# pin fails instead of resolving to today's release.
build_v3old() { # version
  local v=$1 d=$BED/build/oldetcd b=$BED/bin/$1
  [ -x "$b/etcd" ] && [ -x "$b/etcdctl" ] && return 0
  [ -f "$here/oldetcd/$v/go.mod" ] || { echo "provision: no testbed/oldetcd/$v/go.mod for source v3old" >&2; exit 1; }
  log "build etcd $v"
  mkdir -p "$d" "$b"
  rm -rf "$d/$v" "$d/ccache"
  cp -r "$here/oldetcd/$v" "$here/oldetcd/ccache" "$d/"
  ( cd "$d/$v"
    export GOTOOLCHAIN=go1.21.13 GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0
    quiet go build -trimpath -o "$b/etcd.tmp" github.com/coreos/etcd && mv "$b/etcd.tmp" "$b/etcd"
    quiet go build -trimpath -o "$b/etcdctl.tmp" github.com/coreos/etcd/etcdctl && mv "$b/etcdctl.tmp" "$b/etcdctl" )
}

link_debian() { # version
  local v=$1 b=$BED/bin/$1
  local have
  have=$(/usr/bin/etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p' | head -1)
  if [ "$have" != "$v" ]; then
    echo "provision: Debian's etcd-server is $have, versions.txt wants $v" >&2
    exit 1
  fi
  mkdir -p "$b"
  # Copies, not links: the bed swaps binaries into host folders and a
  # symlink to /usr/bin would make that swap touch the system package.
  [ -x "$b/etcd" ] || cp /usr/bin/etcd "$b/etcd"
  [ -x "$b/etcdctl" ] || cp /usr/bin/etcdctl "$b/etcdctl"
}

versions=()
while read -r v src _; do
  case "$v" in ''|'#'*) continue ;; esac
  case "$src" in
    v2) build_v2 "$v" ;;
    v3) build_v3 "$v" ;;
    v3old) build_v3old "$v" ;;
    debian) link_debian "$v" ;;
    *) echo "provision: unknown source $src for $v in versions.txt" >&2; exit 1 ;;
  esac
  # The first line is "etcd Version: X" (2.1+) or "etcd version X" (2.0).
  got=$("$BED/bin/$v/etcd" --version 2>&1 | head -1) || true
  case "$got" in
    *" $v") ;;
    *) echo "provision: $BED/bin/$v/etcd --version says '$got', want $v" >&2; exit 1 ;;
  esac
  versions+=("$v")
done <"$here/versions.txt"

chmod -R a+rX "$BED/bin"
# The members run as etcdtest: prove it can reach and run every binary.
for v in "${versions[@]}"; do
  runuser -u etcdtest -- "$BED/bin/$v/etcd" --version >/dev/null 2>&1 ||
    { echo "provision: etcdtest cannot run $BED/bin/$v/etcd (check the modes of $BED and its parents)" >&2; exit 1; }
done
log "versions: ${versions[*]}"
log "bed ready in $BED ($(( $(date +%s) - start ))s)"
