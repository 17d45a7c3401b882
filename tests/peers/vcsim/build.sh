#!/bin/sh
# Builds vcsim (govmomi's vSphere simulator, main.go) and govmomi-bench (the govc side of
# `./x.sh bench esx`) offline from Debian's golang-go and golang-github-vmware-govmomi-dev:
# GOPATH mode, no module download.
# Usage: build.sh OUTPUT_DIR   (prints vcsim's path; quick when both are up to date)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/../../../target/peers}
mkdir -p "$OUT"
export GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH=/usr/share/gocode GOCACHE="$OUT/.gocache"
build() { # SOURCE_DIR BINARY
    if [ ! -x "$2" ] || [ "$1/main.go" -nt "$2" ]; then (cd "$1" && go build -o "$2" .); fi
}
build "$HERE" "$OUT/vcsim"
build "$HERE/govmomi-bench" "$OUT/govmomi-bench"
echo "$OUT/vcsim"
