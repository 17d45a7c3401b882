#!/usr/bin/env bash
# bench.sh — ../shared/bench/api_bench.py against rvirtd and the reference libvirtd 9.0 in
# the same run, both serving the test driver over a Unix socket, alternating ROUNDS times so
# that load on the machine falls on both alike. Then the same rounds through rvirt's own
# virt-rpc client (examples/rpc_bench.rs, labels rvirtd-rpc / libvirtd-rpc), so the client's
# share of the numbers shows, and a table of rvirtd/libvirtd ratios for both clients. Each
# python round also runs api_bench.py against the in-process `test:///default` (label
# inproc): the python3-libvirt client floor, which no daemon can beat (listAllDomains is
# bounded by the binding building 1001 virDomain objects), printed as rvirtd's share of it.
#
#   tools/rvirtd/bench.sh [ROUNDS]       (default 3; release build of rvirtd)
#
# Environment: SHARED (default ../shared), RVIRTD (default target/release/rvirtd, built if
# missing), RPC_BENCH (default target/release/examples/rpc_bench, built if missing),
# N / ITERS (api_bench and rpc_bench -n / --iters), CPUS (e.g. CPUS=0: both daemons and the
# clients run on those CPUs only; see below). Prints each run's table and the JSON lines into
# $OUT (default /tmp/rvirtd-bench.jsonl).
#
# Why CPUS: on a VM, a round trip between a client and a daemon on different vCPUs pays for
# waking an idle vCPU twice (~45 µs here, the same for both daemons), which hides what the
# daemons themselves cost. On one CPU that wake-up is a plain context switch.
set -uo pipefail
cd "$(dirname "$0")/../.."
SHARED=${SHARED:-../shared}
ROUNDS=${1:-3}
RVIRTD=${RVIRTD:-${CARGO_TARGET_DIR:-target}/release/rvirtd}
OUT=${OUT:-/tmp/rvirtd-bench.jsonl}
N=${N:-1000}
ITERS=${ITERS:-5000}
[ -d "$SHARED/bench" ] || { echo "bench: $SHARED/bench not found"; exit 1; }
[ -x "$RVIRTD" ] || cargo build -q --release -p rvirtd || exit 1
RPC_BENCH=${RPC_BENCH:-${CARGO_TARGET_DIR:-target}/release/examples/rpc_bench}
[ -x "$RPC_BENCH" ] || cargo build -q --release -p rvirtd --example rpc_bench || exit 1

DIR=$(mktemp -d /tmp/rvirtd-bench.XXXXXX)
DAEMON=""
cleanup() {
    if [ -n "$DAEMON" ]; then kill -TERM "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null; fi
    # How often busy polling (busy_poll_us) found the next call: it is off while the CPUs
    # are loaded, so the figures above depend on how often it was on.
    sed 's/\x1b\[[0-9;]*m//g' "$DIR/rvirtd.log" 2>/dev/null | grep -o 'calls=.*busy_polls_missed=[0-9]*' |
        sed 's/^/rvirtd: /'
    "$SHARED/conformance/start-libvirtd.sh" stop "$DIR/lvd" >/dev/null 2>&1
    rm -rf "$DIR"
}
trap cleanup EXIT

CPUS=${CPUS:-}
PIN=()
[ -n "$CPUS" ] && PIN=(taskset -c "$CPUS")

"${PIN[@]}" "$RVIRTD" --unix-sock-dir "$DIR" >"$DIR/rvirtd.log" 2>&1 &
DAEMON=$!
for _ in $(seq 1 300); do [ -S "$DIR/rvirt-sock" ] && break; sleep 0.1; done
eval "$("$SHARED/conformance/start-libvirtd.sh" start "$DIR/lvd" 2>"$DIR/lvd.log")" ||
    { echo "bench: libvirtd did not start"; cat "$DIR/lvd.log"; exit 1; }
if [ -n "$CPUS" ]; then
    taskset -a -p -c "$CPUS" "$(cat "$DIR/lvd/libvirtd.hostpid")" >/dev/null || exit 1
fi
RV_URI="test+unix:///default?socket=$DIR/rvirt-sock"
# Warm up: plugin compilation, caches.
/usr/bin/python3 -c "import libvirt,sys; c=libvirt.open(sys.argv[1]); [c.getVersion() for _ in range(100)]" "$RV_URI"

: >"$OUT"
for round in $(seq 1 "$ROUNDS"); do
    for target in rvirtd libvirtd inproc; do
        case $target in
        rvirtd) uri=$RV_URI ;;
        libvirtd) uri=$TEST_URI ;;
        inproc) uri="test:///default" ;;
        esac
        echo "== round $round: $target"
        "${PIN[@]}" /usr/bin/python3 "$SHARED/bench/api_bench.py" "$uri" -n "$N" --iters "$ITERS" --label "$target" --json-out "$OUT" |
            grep -v '^{'
    done
done
# The same rounds through rvirt's client: its cost next to python3-libvirt's.
for round in $(seq 1 "$ROUNDS"); do
    for target in rvirtd libvirtd; do
        uri=$RV_URI
        [ $target = libvirtd ] && uri=$TEST_URI
        echo "== round $round: $target (virt-rpc client)"
        "${PIN[@]}" "$RPC_BENCH" "$uri" -n "$N" --iters "$ITERS" --label "$target-rpc" --json-out "$OUT" |
            grep -v '^{'
    done
done
echo
/usr/bin/python3 tools/rvirtd/bench_ratios.py "$OUT"
echo "JSON lines in $OUT"
