#!/usr/bin/env bash
# bench-migrate.sh — live migration time and downtime, rvirtd next to libvirtd 9.0.
#
#   tools/rvirtd/bench-migrate.sh [MOVES]      (default 6; root; release rvirtd)
#
# Two "hosts" on this machine: network namespaces joined by a veth pair (10.250.0.1 and
# .2), each with a daemon of its own (own state, sockets, host UUID). The test guest
# (tests/guest) boots on the first and moves back and forth MOVES times with
# `virsh migrate --live --p2p`; after each move the destination's
# `domjobinfo --completed` gives the migration's time and the guest's downtime, and the
# wall time of the virsh call is measured around it. First between two rvirtds, then
# between two libvirtds (the Debian packages, started here the way
# ../shared/conformance/start-libvirtd.sh starts its reference daemon, plus `--listen` on
# TCP without authentication: tests/peers/libvirtd/netns-libvirtd.sh), then once each way
# between an rvirtd and a libvirtd.
# Prints medians side by side. Environment: RVIRTD (default target/release/rvirtd),
# OUT (JSON lines, default /tmp/rvirt-bench-migrate.jsonl), SKIP_LIBVIRTD=1.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
MOVES=${1:-6}
RVIRTD=${RVIRTD:-$ROOT/target/release/rvirtd}
OUT=${OUT:-/tmp/rvirt-bench-migrate.jsonl}
[ "$(id -u)" = 0 ] || { echo "bench-migrate: run as root (network namespaces)"; exit 1; }
[ -x "$RVIRTD" ] || cargo build -q --release -p rvirtd || exit 1
GUEST=$(tests/guest/build.sh) || exit 1
W=$(mktemp -d /tmp/rvmig.XXXXXX)
NS=(rvbm1 rvbm2)
ADDR=(10.250.0.1 10.250.0.2)
DAEMONS=()
LIBVIRTDS=()

cleanup() {
    stop_libvirtds
    for pid in "${DAEMONS[@]}"; do kill "$pid" 2>/dev/null; done
    sleep 0.5
    pkill -9 -f "$W/" 2>/dev/null
    for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT INT TERM

for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null; ip netns add "$ns"; done
ip link add rvbm1v type veth peer name rvbm2v
for i in 0 1; do
    ip link set "rvbm$((i + 1))v" netns "${NS[$i]}"
    ip -n "${NS[$i]}" addr add "${ADDR[$i]}/24" dev "rvbm$((i + 1))v"
    ip -n "${NS[$i]}" link set lo up
    ip -n "${NS[$i]}" link set "rvbm$((i + 1))v" up
done

# start_rvirtd I: an rvirtd in namespace I; sets URI[I].
declare -a URI TCP
start_rvirtd() {
    local i=$1 d=$W/rvirtd$1
    mkdir -p "$d"
    printf 'listen_tcp = true\nlisten_addr = "%s"\n' "${ADDR[$i]}" >"$d/rvirtd.conf"
    printf '%032x\n' $((0xbe00 + i)) >"$d/machine-id"
    ip netns exec "${NS[$i]}" sh -c "mount --bind $d/machine-id /etc/machine-id && exec env RVIRT_STATE_ROOT=$d/state RVIRT_PLUGIN_PATH=$ROOT/target/plugins RVIRT_GRANTS=$ROOT/etc/grants.toml RVIRT_CACHE_DIR=/tmp/rvirt-test-daemon-compiled $RVIRTD --unix-sock-dir $d -f $d/rvirtd.conf" >"$d/log" 2>&1 &
    DAEMONS+=($!)
    for _ in $(seq 1 300); do [ -S "$d/rvirt-sock" ] && break; sleep 0.1; done
    URI[$i]="qemu+unix:///system?socket=$d/rvirt-sock"
    TCP[$i]="qemu+tcp://${ADDR[$i]}/system"
}

# start_libvirtd I: libvirtd 9.0 in namespace I with its own directories and host UUID
# (tests/peers/libvirtd/netns-libvirtd.sh).
start_libvirtd() {
    local i=$1 d=$W/lvd$1 socket
    socket=$(tests/peers/libvirtd/netns-libvirtd.sh start "${NS[$i]}" "${ADDR[$i]}" "$d" \
        "$(printf '00000000-0000-4000-8000-%012x' $((0x1be00 + i)))") || return 1
    LIBVIRTDS+=("${NS[$i]} $d")
    URI[$i]="qemu+unix:///system?socket=$socket"
    TCP[$i]="qemu+tcp://${ADDR[$i]}/system"
    # The first qemu:/// call probes QEMU.
    virsh -c "${URI[$i]}" version >/dev/null 2>&1
}
stop_libvirtds() {
    local entry
    for entry in "${LIBVIRTDS[@]}"; do
        # shellcheck disable=SC2086
        tests/peers/libvirtd/netns-libvirtd.sh stop $entry
    done
    LIBVIRTDS=()
}

guest_xml() {
    cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$GUEST/vmlinuz</kernel>
    <initrd>$GUEST/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$W/$1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='$W/$1.serial' append='on'/>
      <target port='0'/>
    </serial>
    <memballoon model='virtio'/>
  </devices>
</domain>
EOF
}

# field NAME TEXT: the number after "NAME:" in domjobinfo's output.
field() { sed -n "s/^$1: *\([0-9][0-9]*\).*/\1/p" <<<"$2" | head -n1; }

# run_moves LABEL FROM TO: boots a guest on FROM and moves it FROM→TO→FROM... MOVES times.
run_moves() {
    local label=$1 a=$2 b=$3 name=bm$RANDOM src dst
    qemu-img create -q -f qcow2 "$W/$name.qcow2" 64M
    guest_xml "$name" >"$W/$name.xml"
    virsh -c "${URI[$a]}" create "$W/$name.xml" >/dev/null || { echo "$label: cannot start the guest"; return 1; }
    for _ in $(seq 1 300); do grep -q RVIRT-READY "$W/$name.serial" 2>/dev/null && break; sleep 0.2; done
    src=$a; dst=$b
    for move in $(seq 1 "$MOVES"); do
        local t0 t1 out info elapsed downtime
        t0=$(date +%s%N)
        out=$(virsh -c "${URI[$src]}" migrate --live --p2p --unsafe "$name" "${TCP[$dst]}" --migrateuri "tcp://${ADDR[$dst]}" 2>&1) ||
            { echo "$label move $move: $out"; virsh -c "${URI[$src]}" destroy "$name" >/dev/null 2>&1; return 1; }
        t1=$(date +%s%N)
        info=$(virsh -c "${URI[$dst]}" domjobinfo --completed "$name" 2>&1)
        elapsed=$(field "Time elapsed" "$info")
        downtime=$(field "Total downtime" "$info")
        printf '{"bench": "migrate", "label": "%s", "move": %d, "wall_ms": %d, "time_elapsed_ms": %s, "downtime_ms": %s}\n' \
            "$label" "$move" $(((t1 - t0) / 1000000)) "${elapsed:-null}" "${downtime:-null}" >>"$OUT"
        printf '  %s move %d: virsh migrate %d ms, time elapsed %s ms, downtime %s ms\n' \
            "$label" "$move" $(((t1 - t0) / 1000000)) "${elapsed:-?}" "${downtime:-?}"
        local tmp=$src; src=$dst; dst=$tmp
    done
    virsh -c "${URI[$src]}" destroy "$name" >/dev/null 2>&1
}

: >"$OUT"
echo "== rvirtd -> rvirtd"
start_rvirtd 0; start_rvirtd 1
run_moves rvirtd 0 1
for pid in "${DAEMONS[@]}"; do kill "$pid" 2>/dev/null; done; DAEMONS=(); sleep 1

if [ "${SKIP_LIBVIRTD:-0}" != 1 ] && [ -x /usr/sbin/libvirtd ]; then
    echo "== libvirtd -> libvirtd"
    start_libvirtd 0; start_libvirtd 1
    run_moves libvirtd 0 1
    stop_libvirtds
    echo "== rvirtd <-> libvirtd (one move each way)"
    start_rvirtd 0; start_libvirtd 1
    MOVES=2 run_moves rvirtd-libvirtd 0 1
fi

/usr/bin/python3 - "$OUT" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print()
print("| daemons | moves | virsh migrate, median ms | time elapsed, median ms | downtime, median ms |")
print("|---|---|---|---|---|")
for label in dict.fromkeys(row["label"] for row in rows):
    mine = [row for row in rows if row["label"] == label]
    def med(key):
        values = [row[key] for row in mine if row[key] is not None]
        return f"{statistics.median(values):.0f}" if values else "-"
    print(f"| {label} | {len(mine)} | {med('wall_ms')} | {med('time_elapsed_ms')} | {med('downtime_ms')} |")
EOF
echo "JSON lines in $OUT"
