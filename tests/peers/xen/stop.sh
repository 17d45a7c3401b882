#!/usr/bin/env bash
# tests/peers/xen/stop.sh WORKDIR : kills the QEMU that run.sh started for WORKDIR (only that
# pid, and only when its command line names WORKDIR). Nothing in the guest needs saving.
set -euo pipefail
W=$(cd "${1:?usage: stop.sh WORKDIR}" && pwd)
pid=$(cat "$W/qemu.pid" 2>/dev/null || true)
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "not running"; rm -f "$W/qemu.pid"; exit 0
fi
if ! tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF "$W/"; then
    echo "error: pid $pid is not this peer's QEMU; not killing it" >&2; exit 1
fi
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
rm -f "$W/qemu.pid"
echo "stopped (pid $pid)"
