#!/usr/bin/env bash
# bench-ab.sh — one rvirtd against another: OLD (e.g. a build of main) and NEW (default
# target/release/rvirtd) served side by side, ../shared/bench/api_bench.py and rpc_bench
# alternating between them ROUNDS times, so that the machine's load falls on both alike and
# what changed in rvirtd shows apart from libvirtd's own variance.
#
#   OLD=/path/to/old/rvirtd tools/rvirtd/bench-ab.sh [ROUNDS]     (default 3)
#
# bench_ratios.py prints the tables with the new daemon in the "rvirtd" columns and the old
# one in the "libvirtd" columns: the ratio is new / old. Each daemon finds its plugins as it
# would (a build of another checkout uses that checkout's target/plugins).
# Environment: SHARED (default ../shared), NEW, RPC_BENCH, OUT (default /tmp/rvirtd-ab.jsonl).
set -uo pipefail
cd "$(dirname "$0")/../.."
SHARED=${SHARED:-../shared}
ROUNDS=${1:-3}
OLD=${OLD:?OLD=/path/to/the/other/rvirtd}
NEW=${NEW:-${CARGO_TARGET_DIR:-target}/release/rvirtd}
RPC_BENCH=${RPC_BENCH:-${CARGO_TARGET_DIR:-target}/release/examples/rpc_bench}
OUT=${OUT:-/tmp/rvirtd-ab.jsonl}
[ -x "$NEW" ] || cargo build -q --release -p rvirtd || exit 1
[ -x "$RPC_BENCH" ] || cargo build -q --release -p rvirtd --example rpc_bench || exit 1

DIR_NEW=$(mktemp -d /tmp/rvirtd-ab.XXXXXX)
DIR_OLD=$(mktemp -d /tmp/rvirtd-ab.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    rm -rf "$DIR_NEW" "$DIR_OLD"
}
trap cleanup EXIT
"$NEW" --unix-sock-dir "$DIR_NEW" >"$DIR_NEW/rvirtd.log" 2>&1 &
PIDS+=($!)
"$OLD" --unix-sock-dir "$DIR_OLD" >"$DIR_OLD/rvirtd.log" 2>&1 &
PIDS+=($!)
for dir in "$DIR_NEW" "$DIR_OLD"; do
    for _ in $(seq 1 300); do [ -S "$dir/rvirt-sock" ] && break; sleep 0.1; done
    # Warm up: plugin compilation, caches.
    /usr/bin/python3 -c "import libvirt,sys; c=libvirt.open(sys.argv[1]); [c.getVersion() for _ in range(100)]" \
        "test+unix:///default?socket=$dir/rvirt-sock" || exit 1
done

: >"$OUT"
for round in $(seq 1 "$ROUNDS"); do
    for which in new old; do
        dir=$DIR_NEW label=rvirtd
        [ $which = old ] && dir=$DIR_OLD label=libvirtd
        uri="test+unix:///default?socket=$dir/rvirt-sock"
        echo "== round $round: $which"
        /usr/bin/python3 "$SHARED/bench/api_bench.py" "$uri" --label "$label" --json-out "$OUT" >/dev/null
        "$RPC_BENCH" "$uri" --label "$label-rpc" --json-out "$OUT" >/dev/null
    done
done
echo "(columns: rvirtd = NEW $NEW, libvirtd = OLD $OLD)"
/usr/bin/python3 tools/rvirtd/bench_ratios.py "$OUT"
