#!/usr/bin/env bash
# bench-esx.sh — issue 13's figures: list-all and dumpxml latency through rvirt's ESX plugin
# against govmomi's own client code (what govc runs) on the same vcsim, both keeping one
# logged-in session:
#   - rvirt: python3-libvirt → rvirtd → the esx plugin → vSphere SOAP over HTTPS;
#     listAllDomains(0) and XMLDesc(0) of one machine (a VMX file read and converted);
#   - govc: govmomi's property collector over a container view (`govc ls`) and one
#     machine's config, summary and runtime (`govc vm.info -e`), tests/peers/vcsim/govmomi-bench.
# Prints the medians of ROUNDS calls each, side by side.
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
/usr/bin/python3 - "$URI" "$ROUNDS" "$DIR/rvirt.out" <<'PY'
import statistics, sys, time
import libvirt
uri, rounds, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
conn = libvirt.open(uri)
pool = conn.storagePoolLookupByName("LocalDS_0")
pool.createXML("<volume><name>bench/bench.vmdk</name><capacity unit='MiB'>16</capacity>"
               "<target><format type='vmdk'/></target></volume>", 0)
dom = conn.defineXML(
    "<domain type='vmware'><name>bench</name><memory>524288</memory><vcpu>2</vcpu>"
    "<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>"
    "<source file='[LocalDS_0] bench/bench.vmdk'/><target dev='sda' bus='scsi'/></disk>"
    "<controller type='scsi' index='0' model='lsilogic'/>"
    "<interface type='bridge'><source bridge='VM Network'/><model type='e1000'/></interface>"
    "</devices></domain>")
def median(call):
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000
listed = len(conn.listAllDomains(0))
with open(out, "w") as f:
    f.write("list-all %.3f\n" % median(lambda: conn.listAllDomains(0)))
    f.write("dumpxml %.3f\n" % median(lambda: conn.lookupByName("bench").XMLDesc(0)))
    f.write("machines %d\n" % listed)
PY

"$ROOT/target/peers/govmomi-bench" -u "https://root:bench@127.0.0.1:$PORT/sdk" -n "$ROUNDS" \
    -vm bench >"$DIR/govc.out"

figure() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
echo "ESX on vcsim ($(figure machines "$DIR/rvirt.out") machines), medians of $ROUNDS calls, ms"
printf '%-10s %10s %10s %8s\n' op rvirt govc ratio
for op in list-all dumpxml; do
    r=$(figure "$op" "$DIR/rvirt.out"); g=$(figure "$op" "$DIR/govc.out")
    printf '%-10s %10s %10s %8s\n' "$op" "$r" "$g" "$(awk -v r="$r" -v g="$g" 'BEGIN { printf "%.2f", r / g }')"
done
echo "(ratio = rvirt / govc; the target is <= 1.00)"
