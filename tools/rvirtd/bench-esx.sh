#!/usr/bin/env bash
# bench-esx.sh — issue 13's figures: list-all and dumpxml latency through rvirt's ESX plugin
# against govmomi's own client code (what govc runs) on the same vcsim, both keeping one
# logged-in session:
#   - rvirt: python3-libvirt → rvirtd → the esx plugin → vSphere SOAP over HTTPS;
#     listAllDomains(0) and XMLDesc(0) of one machine (a VMX file read and converted);
#   - govc: govmomi's property collector over a container view (`govc ls`) and one
#     machine's config, summary and runtime (`govc vm.info -e`), tests/peers/vcsim/govmomi-bench.
# Prints the medians, side by side; the calls run in alternating batches.
#
#   tools/rvirtd/bench-esx.sh [ROUNDS]     (default 200; Go and govmomi from Debian)
#
# Environment: RVIRTD (default target/release/rvirtd), PLUGINS (default target/plugins).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
ROUNDS=${1:-200}
RVIRTD=${RVIRTD:-$ROOT/target/release/rvirtd}
PLUGINS=${PLUGINS:-$ROOT/target/plugins}
[ -x "$RVIRTD" ] || { echo "bench: build $RVIRTD first (./x.sh bench esx does)"; exit 1; }
tests/peers/vcsim/build.sh "$ROOT/target/peers" >/dev/null

DIR=$(mktemp -d /tmp/esxbench.XXXXXX)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT

# vcsim as a standalone ESX host with one user, its machines' VMX files written by rvirt.
TMPDIR=$DIR "$ROOT/target/peers/vcsim" -esx -l 127.0.0.1:0 -username root -password bench \
    -vm 20 >"$DIR/vcsim.out" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$DIR/vcsim.out" ] && break; sleep 0.1; done
PORT=$(sed -n 's|^vcsim https://[^@]*@127.0.0.1:\([0-9]*\)/sdk .*|\1|p' "$DIR/vcsim.out")
[ -n "$PORT" ] || { echo "bench: vcsim did not start"; exit 1; }

printf '[credentials-bench]\nusername=root\npassword=bench\n\n[auth-esx-127.0.0.1]\ncredentials=bench\n' >"$DIR/auth.conf"
: >"$DIR/rvirtd.conf"
LIBVIRT_AUTH_FILE=$DIR/auth.conf RVIRT_STATE_ROOT=$DIR/state RVIRT_PLUGIN_PATH=$PLUGINS \
    RVIRT_GRANTS=$ROOT/etc/grants.toml RVIRT_CACHE_DIR=/tmp/rvirt-bench-compiled \
    "$RVIRTD" --unix-sock-dir "$DIR" -f "$DIR/rvirtd.conf" 2>"$DIR/rvirtd.log" &
PIDS+=($!)
for _ in $(seq 600); do [ -S "$DIR/rvirt-sock" ] && break; sleep 0.1; done

NAME="esx://root@127.0.0.1:$PORT/?no_verify=1"
URI="esx+unix:///?socket=$DIR/rvirt-sock&name=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$NAME")"

# One machine defined through rvirt, so that its VMX file exists to be read back.
/usr/bin/python3 - "$URI" <<'PY'
import sys
import libvirt
conn = libvirt.open(sys.argv[1])
conn.storagePoolLookupByName("LocalDS_0").createXML(
    "<volume><name>bench/bench.vmdk</name><capacity unit='MiB'>16</capacity>"
    "<target><format type='vmdk'/></target></volume>", 0)
conn.defineXML(
    "<domain type='vmware'><name>bench</name><memory>524288</memory><vcpu>2</vcpu>"
    "<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>"
    "<source file='[LocalDS_0] bench/bench.vmdk'/><target dev='sda' bus='scsi'/></disk>"
    "<controller type='scsi' index='0' model='lsilogic'/>"
    "<interface type='bridge'><source bridge='VM Network'/><model type='e1000'/></interface>"
    "</devices></domain>")
print("machines %d" % len(conn.listAllDomains(0)))
PY
# Batches of 20 calls, rvirt's and govc's alternating, so that whatever else the machine
# does weighs on both columns alike; the figure is the median of the batch medians.
BATCH=20
for _ in $(seq $(( (ROUNDS + BATCH - 1) / BATCH ))); do
    /usr/bin/python3 - "$URI" "$BATCH" >>"$DIR/rvirt.out" <<'PY'
import statistics, sys, time
import libvirt
uri, rounds = sys.argv[1], int(sys.argv[2])
conn = libvirt.open(uri)
def median(call):
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000
print("list-all %.3f" % median(lambda: conn.listAllDomains(0)))
print("dumpxml %.3f" % median(lambda: conn.lookupByName("bench").XMLDesc(0)))
PY
    "$ROOT/target/peers/govmomi-bench" -u "https://root:bench@127.0.0.1:$PORT/sdk" -n "$BATCH" \
        -vm bench >>"$DIR/govc.out"
done
MACHINES=$(/usr/bin/python3 -c 'import sys, libvirt; print(len(libvirt.open(sys.argv[1]).listAllDomains(0)))' "$URI")

figure() { awk -v k="$1" '$1 == k { print $2 }' "$2" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "ESX on vcsim ($MACHINES machines), medians of $ROUNDS calls in alternating batches of $BATCH, ms"
printf '%-10s %10s %10s %8s\n' op rvirt govc ratio
for op in list-all dumpxml; do
    r=$(figure "$op" "$DIR/rvirt.out"); g=$(figure "$op" "$DIR/govc.out")
    printf '%-10s %10s %10s %8s\n' "$op" "$r" "$g" "$(awk -v r="$r" -v g="$g" 'BEGIN { printf "%.2f", r / g }')"
done
echo "(ratio = rvirt / govc; the target is <= 1.00)"
