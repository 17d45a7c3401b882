#!/usr/bin/env bash
# bench-scale.sh — the test driver at scale (issue 15 part 3): tools/rvirtd/bench-scale.py
# against rvirtd and the reference libvirtd 9.0 in the same run, both serving
# test:///default over a Unix socket: 10,000 defined domains, 200 running, listAllDomains
# and lookups, lifecycle events fanned out to 100 subscribed connections in 4 processes, and
# the daemon's VmRSS per domain and per connection. Each round starts a fresh daemon of each
# kind (so that memory figures start from the same place), runs one, stops it, and the order
# alternates between rounds so that load on the machine falls on both alike. Then one table
# of medians with the rvirtd/libvirtd ratio.
#
#   tools/rvirtd/bench-scale.sh [ROUNDS]      (default 3; release build of rvirtd)
#
# Environment: SHARED (default ../shared), RVIRTD (default target/release/rvirtd, built if
# missing), OUT (JSON lines, default /tmp/rvirtd-bench-scale.jsonl), SCALE_ARGS (extra
# arguments for bench-scale.py, e.g. "-n 2000 --subscribers 20" for a quick look), STALL=1
# (then also, once per daemon, `bench-scale.py --stall-test`: 10,000 events to a subscriber
# that stops reading for 15 s; does it get them all?);
# RVIRT_PLUGIN_PATH is passed on (plugins there take precedence over target/plugins, e.g. a
# copy taken while another build reinstalls target/plugins). rvirtd keeps its driver state
# under the temporary directory (RVIRT_STATE_ROOT), so it never opens the journals of
# another rvirtd on this machine.
# Every python run is bounded by `timeout`; daemons and the temporary directory are removed
# on exit, also on failure or ^C.
set -uo pipefail
cd "$(dirname "$0")/../.."
SHARED=${SHARED:-../shared}
ROUNDS=${1:-3}
RVIRTD=${RVIRTD:-${CARGO_TARGET_DIR:-target}/release/rvirtd}
OUT=${OUT:-/tmp/rvirtd-bench-scale.jsonl}
SCALE_ARGS=${SCALE_ARGS:-}
PY=/usr/bin/python3
[ -x "$SHARED/conformance/start-libvirtd.sh" ] || { echo "bench-scale: $SHARED/conformance not found"; exit 1; }
[ -x "$RVIRTD" ] || cargo build -q --release -p rvirtd || exit 1
[ -f "${CARGO_TARGET_DIR:-target}/plugins/test.wasm" ] || cargo xtask plugins || exit 1

DIR=$(mktemp -d /tmp/rvirtd-scale.XXXXXX)
DAEMON=""
LVD=""
CHILD=""
stop_rvirtd() {
    if [ -n "$DAEMON" ]; then
        kill -TERM "$DAEMON" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$DAEMON" 2>/dev/null
        wait "$DAEMON" 2>/dev/null
        DAEMON=""
        # Events rvirtd dropped for a client that fell behind, and panics.
        grep -aE "fell behind|panicked" "$DIR/rvirtd.log" | tail -n 5
        : >"$DIR/rvirtd.log"
    fi
}
stop_libvirtd() {
    if [ -n "$LVD" ]; then
        "$SHARED/conformance/start-libvirtd.sh" stop "$LVD" >/dev/null 2>&1
        LVD=""
    fi
}
cleanup() {
    # The running client, its subscriber processes with it (timeout leads their group).
    if [ -n "$CHILD" ]; then
        kill -TERM -- -"$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
    stop_rvirtd
    stop_libvirtd
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts one daemon; sets URI and PID.
start_rvirtd() {
    local sock=$DIR/rv$1
    mkdir -p "$sock"
    RVIRT_STATE_ROOT=$DIR/state$1 "$RVIRTD" --unix-sock-dir "$sock" >>"$DIR/rvirtd.log" 2>&1 &
    DAEMON=$!
    for _ in $(seq 1 300); do [ -S "$sock/rvirt-sock" ] && break; sleep 0.1; done
    [ -S "$sock/rvirt-sock" ] || { echo "bench-scale: rvirtd did not start"; tail "$DIR/rvirtd.log"; return 1; }
    URI="test+unix:///default?socket=$sock/rvirt-sock"
    PID=$DAEMON
}
start_libvirtd() {
    LVD=$DIR/lvd$1
    local vars
    vars=$("$SHARED/conformance/start-libvirtd.sh" start "$LVD" 2>"$DIR/lvd.log") ||
        { echo "bench-scale: libvirtd did not start"; cat "$DIR/lvd.log"; return 1; }
    URI=$(eval "$vars"; echo "$TEST_URI")
    PID=$(cat "$LVD/libvirtd.hostpid")
}

: >"$OUT"
status=0
for round in $(seq 1 "$ROUNDS"); do
    order="rvirtd libvirtd"
    [ $((round % 2)) -eq 0 ] && order="libvirtd rvirtd"
    for target in $order; do
        echo "== round $round: $target"
        "start_$target" "$round" || exit 1
        # Warm up: plugin compilation (rvirtd), caches.
        timeout 60 $PY -c "import libvirt,sys; c=libvirt.open(sys.argv[1]); [c.getVersion() for _ in range(100)]" "$URI" ||
            { echo "bench-scale: $target does not answer"; exit 1; }
        # In the background and waited for, so that ^C or a TERM reaches the trap at once
        # (the cleanup then ends the client's process group).
        # shellcheck disable=SC2086 # SCALE_ARGS is a list of words
        timeout 900 $PY tools/rvirtd/bench-scale.py "$URI" --pid "$PID" --label "$target" --json-out "$OUT" $SCALE_ARGS &
        CHILD=$!
        wait "$CHILD"
        rc=$?
        CHILD=""
        [ $rc -eq 0 ] || { echo "bench-scale: $target run failed (exit $rc)"; status=1; }
        "stop_$target"
    done
done
if [ -n "${STALL:-}" ]; then
    for target in rvirtd libvirtd; do
        echo "== stall test: $target"
        "start_$target" stall || exit 1
        timeout 300 $PY tools/rvirtd/bench-scale.py "$URI" --label "$target" --stall-test &
        CHILD=$!
        wait "$CHILD"
        CHILD=""
        "stop_$target"
    done
fi
if [ "$ROUNDS" -gt 0 ]; then
    echo
    $PY tools/rvirtd/bench-scale.py --table "$OUT" || status=1
    echo "JSON lines in $OUT"
fi
exit $status
