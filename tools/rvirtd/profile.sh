#!/usr/bin/env bash
# profile.sh — where one libvirt round trip through rvirtd spends its CPU, stage by stage.
#
#   tools/rvirtd/profile.sh OP [SECONDS]        (or ./x.sh profile OP [SECONDS])
#
# OP: getVersion lookup xmldesc lookup_xmldesc info create_destroy define_undefine list_all
# (the pairs count as one op; list_all lists 1001 domains, as api_bench.py does). SECONDS
# (default 3) is each measured window. A private rvirtd serves the test driver;
# python3-libvirt drives OP (profile-loop.py). One window runs without the profiler (the
# per-op figures), one under `perf record` (the shares: perf costs the daemon CPU of its own);
# profile_stages.py then splits the samples into stages.
#
# Why this build and these perf options: this VM has no PMU, so the only event is cpu-clock,
# and only a fixed period (-c 50000 = one sample per 50 µs of CPU) gives enough samples. Stacks
# come from frame pointers, which the JIT-compiled wasm keeps but a release build drops, so the
# daemon is cargo's release profile rebuilt with -C force-frame-pointers=yes in
# target/profiling. Wasm frames are named by perf from wasmtime's .cwasm cache files (ELF
# with a symbol table), so no perf map (wasmtime's `profiling` feature) is needed.
#
# Environment: RVIRTD=binary uses that daemon as is (stacks stop at the leaf without frame
# pointers); KEEP=1 keeps the work directory (perf.data, perf script output, logs).
set -euo pipefail
cd "$(dirname "$0")/../.."
OPS="getVersion lookup xmldesc lookup_xmldesc info create_destroy define_undefine list_all"
OP=${1:-}
SECS=${2:-3}
case " $OPS " in *" $OP "*) ;; *) echo "usage: $0 OP [SECONDS]   OP: $OPS" >&2; exit 2 ;; esac
command -v perf >/dev/null || { echo "profile: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
PY=/usr/bin/python3 # python3-libvirt is Debian's; a pyenv python3 on PATH lacks it
TOOLS=tools/rvirtd

[ -f target/plugins/test.wasm ] || cargo xtask plugins
if [ -z "${RVIRTD:-}" ]; then
    # Always asked: a no-op when fresh, and a stale daemon would profile old code.
    [ -x target/profiling/release/rvirtd ] ||
        echo ">> building rvirtd with frame pointers in target/profiling (minutes, once)"
    CARGO_TARGET_DIR=target/profiling RUSTFLAGS="-C force-frame-pointers=yes" \
        cargo build -q --release -p rvirtd
    RVIRTD=target/profiling/release/rvirtd
fi

DIR=$(mktemp -d /tmp/rvirtd-profile.XXXXXX)
DAEMON="" LOOP="" PERF=""
cleanup() {
    local pid
    for pid in $PERF $LOOP $DAEMON; do kill "$pid" 2>/dev/null || true; done
    for pid in $PERF $LOOP $DAEMON; do wait "$pid" 2>/dev/null || true; done
    if [ "${KEEP:-}" = 1 ]; then echo "kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT

"$RVIRTD" --unix-sock-dir "$DIR" >"$DIR/rvirtd.log" 2>&1 &
DAEMON=$!
for _ in $(seq 1 300); do [ -S "$DIR/rvirt-sock" ] && break; sleep 0.1; done
[ -S "$DIR/rvirt-sock" ] || { echo "profile: rvirtd did not start:" >&2; cat "$DIR/rvirtd.log" >&2; exit 1; }
URI="test+unix:///default?socket=$DIR/rvirt-sock"
LOOP_ARGS=("$TOOLS/profile-loop.py" "$URI" "$OP" --seconds "$SECS" --server-pid "$DAEMON")
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

plain=$("$PY" "${LOOP_ARGS[@]}" | grep '^RESULT')
floor=$("$PY" "$TOOLS/profile-loop.py" - pingpong --seconds 1 | grep '^RESULT')

# The profiled window: warm up, attach perf, then start the clock (SIGUSR1), so perf's
# attach and the warm-up stay out of both the samples and the figures.
"$PY" "${LOOP_ARGS[@]}" --wait-signal >"$DIR/loop.out" & # not in a subshell: $! is python
LOOP=$!
until grep -q READY "$DIR/loop.out"; do
    kill -0 "$LOOP" 2>/dev/null || { echo "profile: the client loop failed" >&2; exit 1; }
    sleep 0.1
done
perf record -q -e cpu-clock -c 50000 -g -p "$DAEMON" -o "$DIR/perf.data" 2>"$DIR/perf.log" &
PERF=$!
sleep 0.5
kill -USR1 "$LOOP"
wait "$LOOP"
LOOP=""
kill -INT "$PERF"
wait "$PERF" || true
PERF=""
[ -s "$DIR/perf.data" ] || { echo "profile: perf recorded nothing:" >&2; cat "$DIR/perf.log" >&2; exit 1; }
profiled=$(grep '^RESULT' "$DIR/loop.out")

echo "== profile: $OP, ${SECS} s per window, $RVIRTD"
printf '%-30s %10s %14s %12s %14s %8s\n' "per op" "wall µs" "server CPU µs" "(user/sys)" \
    "client CPU µs" "ops"
for run in "without perf:$plain" "under perf:$profiled" "floor (socketpair ping-pong):$floor"; do
    r=${run#*:}
    printf '%-30s %10s %14s %12s %14s %8s\n' "${run%%:*}" "$(field wall_us "$r")" \
        "$(field server_cpu_us "$r")" "$(field server_user_us "$r")/$(field server_sys_us "$r")" \
        "$(field client_cpu_us "$r")" "$(field ops "$r")"
done
echo "(floor: the same loop over a bare Unix socketpair between two processes, the least a"
echo " round trip costs on this machine right now; it drifts with the VM host's load)"
echo
# --no-inline: inline expansion runs addr2line per address, which hangs on the .cwasm files.
perf script --no-inline -i "$DIR/perf.data" 2>/dev/null >"$DIR/perf.txt"
"$PY" "$TOOLS/profile_stages.py" --user-us "$(field server_user_us "$plain")" \
    --sys-us "$(field server_sys_us "$plain")" "$DIR/perf.txt"
echo "µs/op: each row's user samples scaled to the user CPU per op without perf, its kernel"
echo "samples to the system CPU per op without perf (perf inflates both, see 'under perf')."
