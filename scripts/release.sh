#!/usr/bin/env bash
# scripts/release.sh builds a release: static binaries (CGO_ENABLED=0) for
# linux/amd64 and linux/arm64, each stamped with the version (etcdplay
# version prints it) and packed with LICENSE and README.md, plus
# SHA256SUMS over the archives. No tool beyond Go, tar and sha256sum.
#
#   scripts/release.sh [VERSION]    default: git describe --tags --dirty, else "snapshot"
#   DIST=dir                        where the files go (default dist/)
#
# Check a download with: sha256sum -c --ignore-missing SHA256SUMS
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version=${1:-$(git describe --tags --dirty 2>/dev/null || echo snapshot)}
case $version in
  *[!A-Za-z0-9._+-]*) echo "release.sh: version $version: use letters, digits and . _ + - only" >&2; exit 2 ;;
esac
dist=${DIST:-dist}
mkdir -p "$dist"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

archives=()
for arch in amd64 arm64; do
  name=etcdplay-$version-linux-$arch
  mkdir -p "$work/$name"
  echo "build $name"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=$version" -o "$work/$name/etcdplay" ./cmd/etcdplay
  cp LICENSE README.md "$work/$name/"
  # fixed owner and times: the same inputs give the same archive
  tar -C "$work" --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name -czf "$dist/$name.tar.gz" "$name"
  archives+=("$name.tar.gz")
done
(cd "$dist" && sha256sum "${archives[@]}" > SHA256SUMS)
echo "release $version in $dist:"
(cd "$dist" && ls -l "${archives[@]}" SHA256SUMS)
