#!/usr/bin/env bash
# bench-netstore.sh — issue 11's network and storage figures for rvirtd and the reference
# libvirtd 9.0 side by side, both daemons in one network namespace of their own (so their
# bridges and rules stay off the host), alternating ROUNDS times:
#   - network start: `virsh net-start` of a NAT network until its dnsmasq answers a DNS
#     query on the bridge address (the guest-visible moment a network is up);
#   - vol-upload / vol-download of a 256 MiB raw volume of random data, in MB/s;
#   - vol-clone of a qcow2 volume holding 64 MiB of data, against `qemu-img convert` of the
#     same image by hand (what the daemon adds to the copy).
# Prints one table of medians.
#
#   tools/rvirtd/bench-netstore.sh [ROUNDS]     (default 3; root; needs ../shared)
#
# Environment: SHARED (default ../shared), RVIRTD (default target/release/rvirtd), PLUGINS
# (default target/plugins).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SHARED=${SHARED:-../shared}
ROUNDS=${1:-3}
RVIRTD=${RVIRTD:-$ROOT/target/release/rvirtd}
PLUGINS=${PLUGINS:-$ROOT/target/plugins}
[ -x "$SHARED/conformance/start-libvirtd.sh" ] || { echo "bench: $SHARED/conformance not found"; exit 1; }
[ -x "$RVIRTD" ] || { echo "bench: build $RVIRTD first (./x.sh bench netstore does)"; exit 1; }

NS=rvnetstore$$
DIR=$(mktemp -d /tmp/nsb.XXXXXX)
DAEMON=""
in_ns() { ip netns exec "$NS" "$@"; }
cleanup() {
    for uri in "${RV_URI:-}" "${LV_URI:-}"; do
        [ -n "$uri" ] || continue
        for net in benchnet; do in_ns virsh -q -c "$uri" net-destroy "$net" >/dev/null 2>&1; done
    done
    if [ -n "$DAEMON" ]; then kill -TERM "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null; fi
    in_ns "$SHARED/conformance/start-libvirtd.sh" stop "$DIR/lvd" >/dev/null 2>&1
    ip netns del "$NS" 2>/dev/null
    rm -rf "$DIR"
}
trap cleanup EXIT

ip netns add "$NS" || exit 1
in_ns ip link set lo up
: >"$DIR/rvirtd.conf"
# Not through in_ns: a backgrounded function is a subshell, and $! must be rvirtd itself
# (ip and env exec into it) for the cleanup's SIGTERM to reach it.
ip netns exec "$NS" env RVIRT_STATE_ROOT="$DIR/rv" RVIRT_PLUGIN_PATH="$PLUGINS" \
    RVIRT_GRANTS="$ROOT/etc/grants.toml" \
    "$RVIRTD" --unix-sock-dir "$DIR" -f "$DIR/rvirtd.conf" >"$DIR/rvirtd.log" 2>&1 &
DAEMON=$!
for _ in $(seq 1 600); do [ -S "$DIR/rvirt-sock" ] && break; sleep 0.1; done
RV_URI="qemu+unix:///system?socket=$DIR/rvirt-sock"
eval "$(in_ns "$SHARED/conformance/start-libvirtd.sh" start "$DIR/lvd" 2>"$DIR/lvd.log")" ||
    { echo "bench: libvirtd did not start"; cat "$DIR/lvd.log"; exit 1; }
LV_URI=$QEMU_URI

# One DNS query (for ".", type NS) to ADDRESS:53; exit 0 once anything answers.
DNS_PROBE='
import socket, sys, time
deadline = time.monotonic() + 30
query = bytes.fromhex("12340100000100000000000000000200" "01")
while time.monotonic() < deadline:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.02)
    try:
        s.sendto(query, (sys.argv[1], 53))
        s.recv(512)
        sys.exit(0)
    except OSError:
        time.sleep(0.005)
    finally:
        s.close()
sys.exit(1)'

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

net_xml() { # NAME BRIDGE OCTET
    echo "<network><name>$1</name><forward mode='nat'/><bridge name='$2'/>
<ip address='192.168.$3.1' netmask='255.255.255.0'><dhcp><range start='192.168.$3.2' end='192.168.$3.254'/></dhcp></ip></network>"
}

declare -A OCTET=([rvirtd]=211 [libvirtd]=212) BRIDGE=([rvirtd]=rvbench0 [libvirtd]=lvbench0)
declare -A URI=([rvirtd]=$RV_URI [libvirtd]=$LV_URI)
dd if=/dev/urandom of="$DIR/data.img" bs=1M count=256 status=none
for daemon in rvirtd libvirtd; do
    uri=${URI[$daemon]}
    net_xml benchnet "${BRIDGE[$daemon]}" "${OCTET[$daemon]}" >"$DIR/$daemon-net.xml"
    in_ns virsh -q -c "$uri" net-define "$DIR/$daemon-net.xml" >/dev/null || exit 1
    mkdir -p "$DIR/pool-$daemon"
    in_ns virsh -q -c "$uri" "pool-define-as benchpool dir --target $DIR/pool-$daemon; pool-start benchpool" >/dev/null || exit 1
    # A qcow2 volume with 64 MiB of data to clone.
    in_ns virsh -q -c "$uri" vol-create-as benchpool src.qcow2 1G --format qcow2 >/dev/null || exit 1
    qemu-io -f qcow2 -c "write -P 7 0 64M" "$DIR/pool-$daemon/src.qcow2" >/dev/null || exit 1
    in_ns virsh -q -c "$uri" pool-refresh benchpool >/dev/null
done

for round in $(seq 1 "$ROUNDS"); do
    for daemon in rvirtd libvirtd; do
        uri=${URI[$daemon]}
        t0=$(now)
        in_ns virsh -q -c "$uri" net-start benchnet >/dev/null || { echo "$daemon: net-start failed"; exit 1; }
        in_ns /usr/bin/python3 -c "$DNS_PROBE" "192.168.${OCTET[$daemon]}.1" || { echo "$daemon: dnsmasq never answered"; exit 1; }
        t1=$(now)
        elapsed "$t0" "$t1" >>"$DIR/$daemon.net"; echo >>"$DIR/$daemon.net"
        in_ns virsh -q -c "$uri" net-destroy benchnet >/dev/null

        in_ns virsh -q -c "$uri" vol-create-as benchpool up.img 256M --format raw >/dev/null || exit 1
        t0=$(now)
        in_ns virsh -q -c "$uri" vol-upload up.img "$DIR/data.img" --pool benchpool || exit 1
        t1=$(now)
        in_ns virsh -q -c "$uri" vol-download up.img "$DIR/down-$daemon.img" --pool benchpool || exit 1
        t2=$(now)
        cmp -s "$DIR/data.img" "$DIR/down-$daemon.img" || { echo "$daemon: download differs"; exit 1; }
        calc "256 / $(elapsed "$t0" "$t1")" >>"$DIR/$daemon.up"; echo >>"$DIR/$daemon.up"
        calc "256 / $(elapsed "$t1" "$t2")" >>"$DIR/$daemon.down"; echo >>"$DIR/$daemon.down"
        rm -f "$DIR/down-$daemon.img"
        in_ns virsh -q -c "$uri" vol-delete up.img --pool benchpool >/dev/null

        t0=$(now)
        in_ns virsh -q -c "$uri" vol-clone src.qcow2 copy.qcow2 --pool benchpool >/dev/null || exit 1
        t1=$(now)
        in_ns virsh -q -c "$uri" vol-delete copy.qcow2 --pool benchpool >/dev/null
        t2=$(now)
        qemu-img convert -f qcow2 -O qcow2 "$DIR/pool-$daemon/src.qcow2" "$DIR/by-hand.qcow2"
        t3=$(now)
        rm -f "$DIR/by-hand.qcow2"
        # What one virsh call costs anyway (a process, a connection, a lookup).
        in_ns virsh -q -c "$uri" vol-info src.qcow2 --pool benchpool >/dev/null
        t4=$(now)
        calc "($(elapsed "$t0" "$t1") - $(elapsed "$t2" "$t3")) * 1000" >>"$DIR/$daemon.clone"
        echo >>"$DIR/$daemon.clone"
        calc "($(elapsed "$t0" "$t1") - $(elapsed "$t2" "$t3") - $(elapsed "$t3" "$t4")) * 1000" >>"$DIR/$daemon.clonenet"
        echo >>"$DIR/$daemon.clonenet"
    done
done

printf '\n%-10s %20s %18s %20s %24s %22s\n' daemon "net-start→DNS (ms)" "vol-upload (MB/s)" \
    "vol-download (MB/s)" "clone over qemu-img (ms)" "same, less a virsh call"
for daemon in rvirtd libvirtd; do
    printf '%-10s %20.1f %18.0f %20.0f %24.1f %22.1f\n' "$daemon" \
        "$(calc "$(median <"$DIR/$daemon.net") * 1000")" \
        "$(median <"$DIR/$daemon.up")" "$(median <"$DIR/$daemon.down")" \
        "$(median <"$DIR/$daemon.clone")" "$(median <"$DIR/$daemon.clonenet")"
done
echo "($ROUNDS rounds, medians; 256 MiB random data; clone of a qcow2 with 64 MiB written)"
