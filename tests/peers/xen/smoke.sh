#!/usr/bin/env bash
# tests/peers/xen/smoke.sh [WORKDIR] [HOSTPORT]   (defaults: target/xen-peer, 16609)
#
# The whole peer end to end, with timings: setup.sh (RVIRT_PAYLOAD is passed on), run.sh,
# wait-ready, `xl info`/`xl list`, the PV test domU created, seen on its console, shut down
# with `xl shutdown -w`, created again and destroyed, the same guest as PVH, and, when the
# payload has rvirtd,
# `virsh -c test+tcp://127.0.0.1:HOSTPORT/default list --all` answered by rvirtd in dom0.
# QEMU is stopped on exit, whatever happens.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
W=${1:-$ROOT/target/xen-peer}
PORT=${2:-16609}
C() { "$HERE/ctl.py" "$W" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
step() { echo; echo "== $*"; }

step "setup"
t=$(now); "$HERE/setup.sh" "$W"; W=$(cd "$W" && pwd); T_SETUP=$(since "$t")
trap '"$HERE/stop.sh" "$W" >/dev/null 2>&1 || true' EXIT

step "boot"
t=$(now); "$HERE/run.sh" "$W" "$PORT"; C wait-ready -t 600; T_READY=$(since "$t")

step "xl info (head) and xl list"
C 'xl info | head -12; xl list'

step "xl create /guest/domU.cfg"
t=$(now); C 'xl create /guest/domU.cfg'; T_CREATE=$(since "$t")
t=$(now)
C 'i=0; until grep -q DOMU-HELLO /var/log/xen/console/guest-domU-test.log 2>/dev/null; do
       i=$((i + 1)); [ $i -lt 300 ] || exit 1; sleep 0.2; done
   cat /var/log/xen/console/guest-domU-test.log; xl list'
T_BANNER=$(since "$t")

step "xl shutdown -w domU-test"
t=$(now); C 'xl shutdown -w domU-test || exit 1
   i=0; while xl domid domU-test >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done
   tail -2 /var/log/xen/console/guest-domU-test.log'
T_SHUTDOWN=$(since "$t")

step "xl create + xl destroy"
t=$(now); C 'xl create -q /guest/domU.cfg'; T_CREATE2=$(since "$t")
t=$(now); C 'xl destroy domU-test && xl list'; T_DESTROY=$(since "$t")

step "PVH: xl create /guest/domU-pvh.cfg, banner, xl shutdown -w"
t=$(now)
C 'xl create -q /guest/domU-pvh.cfg || exit 1
   i=0; until grep -q DOMU-HELLO /var/log/xen/console/guest-domU-pvh.log 2>/dev/null; do
       i=$((i + 1)); [ $i -lt 300 ] || exit 1; sleep 0.2; done
   grep DOMU-HELLO /var/log/xen/console/guest-domU-pvh.log; xl shutdown -w domU-pvh'
T_PVH=$(since "$t")

T_VIRSH="- (no rvirtd in the payload)"
if C 'test -x /opt/rvirt/bin/rvirtd' >/dev/null; then
    step "virsh -c test+tcp://127.0.0.1:$PORT/default list --all (rvirtd in dom0)"
    t=$(now); virsh -c "test+tcp://127.0.0.1:$PORT/default" list --all; T_VIRSH=$(since "$t")
    t=$(now); virsh -c "test+tcp://127.0.0.1:$PORT/default" list --all >/dev/null; T_VIRSH2=$(since "$t")
    T_VIRSH="$T_VIRSH s first, $T_VIRSH2 s again"
    C 'grep -E "plugin loaded" /var/log/rvirt/rvirtd.log | sed "s/.*plugin=//"'
fi

step "memory"
RSS=$(ps -o rss= -p "$(cat "$W/qemu.pid")")
C 'free -m | head -2; xl info | grep -E "^(total|free)_memory"'
echo "QEMU RSS on the host: $((RSS / 1024)) MiB"

step "figures (host load: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "setup ${T_SETUP} s | boot to ready ${T_READY} s | xl create ${T_CREATE} s (banner +${T_BANNER} s)" \
     "| xl shutdown -w ${T_SHUTDOWN} s | xl create -q ${T_CREATE2} s | xl destroy ${T_DESTROY} s" \
     "| PVH create+banner+shutdown ${T_PVH} s" \
     "| virsh list ${T_VIRSH}"
