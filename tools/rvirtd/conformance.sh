#!/usr/bin/env bash
# conformance.sh — runs ../shared's conformance suites (real virsh and python3-libvirt)
# against rvirtd serving the test driver, and prints each suite's "N passed, N failed".
#
#   tools/rvirtd/conformance.sh              rvirtd only (what ./x.sh test runs)
#   REFERENCE=1 tools/rvirtd/conformance.sh  also the reference libvirtd 9.0 (start-libvirtd.sh)
#
# Environment: SHARED (default ../shared), RVIRTD (default target/debug/rvirtd, built if
# missing). Exit status 1 if any check of any suite failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
SHARED=${SHARED:-../shared}
RVIRTD=${RVIRTD:-${CARGO_TARGET_DIR:-target}/debug/rvirtd}
SUITES=$SHARED/conformance

if [ ! -d "$SUITES" ]; then
    echo "conformance: $SUITES not found; nothing to run"
    exit 0
fi
[ -x "$RVIRTD" ] || cargo build -q -p rvirtd || exit 1

DIR=$(mktemp -d /tmp/rvirtd-conformance.XXXXXX)
DAEMON=""
cleanup() {
    if [ -n "$DAEMON" ]; then kill -TERM "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null; fi
    rm -rf "$DIR"
}
trap cleanup EXIT

"$RVIRTD" --unix-sock-dir "$DIR" --pid-file "$DIR/rvirtd.pid" >"$DIR/rvirtd.log" 2>&1 &
DAEMON=$!
for _ in $(seq 1 300); do
    [ -S "$DIR/rvirt-sock" ] && break
    kill -0 "$DAEMON" 2>/dev/null || { echo "conformance: rvirtd exited:"; cat "$DIR/rvirtd.log"; exit 1; }
    sleep 0.1
done
[ -S "$DIR/rvirt-sock" ] || { echo "conformance: rvirtd did not create its socket"; exit 1; }

failed=0
run_suites() {   # label URI
    local label=$1 uri=$2 out
    echo "== client_suite.py against $label"
    out=$(/usr/bin/python3 "$SUITES/client_suite.py" "$uri" 2>&1)
    echo "$out" | grep -v '^PASS '
    echo "$out" | tail -n 1 | grep -q ' 0 failed$' || failed=1
    echo "== virsh_suite.sh against $label"
    out=$("$SUITES/virsh_suite.sh" "$uri" 2>&1)
    echo "$out" | grep -v '^PASS '
    echo "$out" | tail -n 1 | grep -q ' 0 failed$' || failed=1
}

run_suites rvirtd "test+unix:///default?socket=$DIR/rvirt-sock"

if [ "${REFERENCE:-0}" = 1 ]; then
    LVD="$DIR/lvd"
    if eval "$("$SUITES/start-libvirtd.sh" start "$LVD" 2>"$DIR/lvd.log")"; then
        run_suites libvirtd "$TEST_URI"
        "$SUITES/start-libvirtd.sh" stop "$LVD" 2>>"$DIR/lvd.log"
    else
        echo "conformance: the reference libvirtd did not start:"; cat "$DIR/lvd.log"; failed=1
    fi
fi

if [ $failed != 0 ]; then
    echo "conformance: failures above; rvirtd log:"
    tail -n 50 "$DIR/rvirtd.log"
fi
exit $failed
