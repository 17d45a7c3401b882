#!/usr/bin/env bash
# tests/peers/xen/run.sh WORKDIR HOSTPORT
#
# Boots the machine setup.sh prepared in WORKDIR, in the background: Debian's Xen 4.17 under
# QEMU TCG (no KVM needed), dom0 = Debian's kernel + WORKDIR/dom0.cpio.gz. Returns at once;
# `ctl.py WORKDIR wait-ready` waits for dom0 (and rvirtd), `stop.sh WORKDIR` ends it.
#   WORKDIR/qemu.pid     QEMU's pid
#   WORKDIR/serial.log   COM1: Xen's console, dom0's kernel (hvc0) and /init's progress
#   WORKDIR/ctl.sock     COM2: dom0's root shell (ctl.py)
#   WORKDIR/qemu.log     QEMU's own messages
#   WORKDIR/rvirt-cache  dom0's /var/cache/rvirt over 9p: rvirtd's compiled plugins, kept
#                        across boots (compiling one under TCG takes 20-60 s)
#   127.0.0.1:HOSTPORT   -> dom0 10.0.2.15:16509 (rvirtd through socat, when in the payload)
# Environment: CPU (qemu64,+svm,+npt: SVM with nested paging, so Xen has HAP, which PVH
# guests need as Debian's Xen is built without shadow paging; `-cpu max` crashes dom0),
# NIC (virtio-net-pci or e1000),
# MEM (MiB, 2048), DOM0_MEM (1024M), SMP (2), XEN_ARGS / DOM0_ARGS (appended),
# RUN_TIMEOUT (seconds before QEMU is killed anyway, 7200; 0: never).
# The guest network is QEMU user networking with restrict=on: dom0 reaches nothing outside;
# only the host port forward comes in.
set -euo pipefail
W=${1:?usage: run.sh WORKDIR HOSTPORT}
PORT=${2:?usage: run.sh WORKDIR HOSTPORT}
W=$(cd "$W" && pwd)
for f in xen vmlinuz dom0.cpio.gz; do
    [ -s "$W/$f" ] || { echo "error: $W/$f is missing: run tests/peers/xen/setup.sh $W" >&2; exit 1; }
done
if [ -s "$W/qemu.pid" ] && kill -0 "$(cat "$W/qemu.pid")" 2>/dev/null \
    && tr '\0' ' ' < "/proc/$(cat "$W/qemu.pid")/cmdline" | grep -qF "$W/"; then
    echo "error: already running (pid $(cat "$W/qemu.pid")): tests/peers/xen/stop.sh $W" >&2
    exit 1
fi
rm -f "$W/qemu.pid" "$W/ctl.sock" "$W/serial.log" "$W/ctl.lock"
mkdir -p "$W/rvirt-cache"
echo "$PORT" > "$W/port"
date +%s.%N > "$W/boot.start"
# shellcheck disable=SC2086
setsid timeout -s KILL "${RUN_TIMEOUT:-7200}" qemu-system-x86_64 \
    -machine q35,accel=tcg -cpu "${CPU:-qemu64,+svm,+npt}" -smp "${SMP:-2}" -m "${MEM:-2048}" \
    -display none -monitor none -no-reboot -nodefaults \
    -pidfile "$W/qemu.pid" \
    -serial "file:$W/serial.log" \
    -chardev "socket,id=ctl,path=$W/ctl.sock,server=on,wait=off" -serial chardev:ctl \
    -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$PORT-:16509" \
    -device "${NIC:-virtio-net-pci},netdev=n0" \
    -virtfs "local,path=$W/rvirt-cache,mount_tag=rvirtcache,security_model=none,id=rvirtcache" \
    -kernel "$W/xen" \
    -append "console=com1 com1=115200,8n1 dom0_mem=${DOM0_MEM:-1024M},max:${DOM0_MEM:-1024M} bootscrub=0 ${XEN_ARGS:-}" \
    -initrd "$W/vmlinuz console=hvc0 earlyprintk=xen rdinit=/init ctl=1 ${DOM0_ARGS:-},$W/dom0.cpio.gz" \
    </dev/null >"$W/qemu.log" 2>&1 &
for _ in $(seq 100); do
    [ -s "$W/qemu.pid" ] && break
    kill -0 $! 2>/dev/null || { echo "error: QEMU exited:" >&2; cat "$W/qemu.log" >&2; exit 1; }
    sleep 0.1
done
[ -s "$W/qemu.pid" ] || { echo "error: QEMU wrote no pid file" >&2; exit 1; }
echo "xen peer booting: pid $(cat "$W/qemu.pid"), rvirtd port 127.0.0.1:$PORT, serial $W/serial.log"
