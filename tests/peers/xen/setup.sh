#!/usr/bin/env bash
# tests/peers/xen/setup.sh [WORKDIR]   (default: target/xen-peer in the checkout)
#
# Prepares a real Xen 4.17 machine to boot under QEMU TCG (tests/peers/xen/run.sh), all from
# Debian bookworm packages:
#   WORKDIR/xen             the hypervisor (xen-hypervisor-4.17-amd64, an ELF multiboot image)
#   WORKDIR/vmlinuz         Debian's kernel (linux-image-amd64's current version), dom0 and domU
#   WORKDIR/dom0.cpio.gz    the dom0 initramfs: busybox, xl/xenstored/xenconsoled, the Xen and
#                           network modules, a root shell on COM2, the PV test domU under /guest,
#                           and the optional rvirt payload (below) started at boot
#   WORKDIR/domU.cpio.gz    the PV test domU's ramdisk (also inside dom0 as /guest/domU.cpio.gz)
#
# RVIRT_PAYLOAD=DIR puts DIR into dom0 as /opt/rvirt: bin/* (each with the shared libraries
# ldd names; copies have their debug info stripped unless RVIRT_PAYLOAD_STRIP=0),
# plugins/*.wasm + *.toml, etc/grants.toml and etc/rvirtd.conf (written when absent). When
# bin/rvirtd is there, dom0 starts it and serves its read-write socket on TCP 16509 without
# auth. tests/peers/xen/payload.sh makes such a directory from the checkout's build.
#
# Idempotent: the downloads and extractions are kept; the initramfs is rebuilt only when this
# directory's scripts, the payload or the packages changed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
W=${1:-$ROOT/target/xen-peer}
mkdir -p "$W"
W=$(cd "$W" && pwd)
PAYLOAD=${RVIRT_PAYLOAD:-}
if [ -n "$PAYLOAD" ]; then
    [ -d "$PAYLOAD" ] || { echo "error: RVIRT_PAYLOAD=$PAYLOAD is not a directory" >&2; exit 1; }
    PAYLOAD=$(cd "$PAYLOAD" && pwd)
fi
START=$(date +%s.%N)
log() { echo ">> $*"; }
elapsed() { awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "error: need root to run: $*" >&2; return 1; fi
}
apt_quiet() {
    local out
    out=$(mktemp /tmp/rvirt-xen-apt.XXXXXX)
    if as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@" >"$out" 2>&1; then rm -f "$out"; return 0; fi
    echo "error: apt-get $* failed:" >&2; cat "$out" >&2; rm -f "$out"; return 1
}
installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# ---- 1. host packages --------------------------------------------------------------------
# QEMU is the project's (./x.sh pins the qemu-* set to one release): only checked here.
if ! installed qemu-system-x86; then
    echo "error: qemu-system-x86 is missing: run ./x.sh test (or ./x.sh bench qemu), which installs" \
        "the pinned QEMU set" >&2
    exit 1
fi
# xen-utils-4.17 is NOT installed on the host: its xen-utils-common needs udev, which would
# upgrade systemd on a shared build machine, and its maintainer scripts start Xen services.
# The .debs of the toolstack and of the libraries it links are extracted into WORKDIR/rootfs
# instead (step 2). The host needs busybox-static and cpio for the initramfs, and socat, the
# TCP front of rvirtd's unix socket in dom0 (rvirtd's own TCP listener is TLS only).
HOST_PACKAGES=(busybox-static cpio socat libncurses6 libtinfo6 binutils)
missing=()
for p in "${HOST_PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
apt_updated=
apt_update_once() { [ -n "$apt_updated" ] || { log "apt-get update"; apt_quiet update -q; apt_updated=1; }; }
if [ ${#missing[@]} -gt 0 ]; then
    apt_update_once
    log "apt-get install ${missing[*]}"
    apt_quiet install -y -q --no-install-recommends "${missing[@]}"
fi

# ---- 2. Debian packages downloaded and extracted (not installed) ---------------------------
# The kernel is whatever linux-image-amd64 currently depends on (linux-image-6.1.0-N-amd64).
# The packages' versions are resolved with apt-cache once, and again only after the package
# lists changed (WORKDIR/debs/resolved: "package version" lines).
XEN_DEBS=(xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common xenstore-utils
    libxenmisc4.17 libxenstore4 libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1
    libxentoollog1 libxentoolcore1 libxenhypfs1 libxendevicemodel1 libyajl2)
mkdir -p "$W/debs"
RESOLVED=$W/debs/resolved
resolve() {
    local k
    k=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    [ -n "$k" ] || return 1
    apt-cache policy "$k" "${XEN_DEBS[@]}" 2>/dev/null | awk '
        /^[^ ].*:$/ { p = substr($0, 1, length($0) - 1) }
        /^  Candidate:/ { if ($2 == "(none)") exit 1; print p, $2; n++ }
        END { if (n != '$((${#XEN_DEBS[@]} + 1))') exit 1 }' > "$RESOLVED.tmp" && mv "$RESOLVED.tmp" "$RESOLVED"
}
fresh() { [ -s "$RESOLVED" ] && for l in /var/lib/apt/lists /var/cache/apt/pkgcache.bin; do [ ! -e "$l" ] || [ "$RESOLVED" -nt "$l" ] || return 1; done; }
if ! fresh; then
    resolve || { apt_update_once; resolve; } || { echo "error: apt-cache cannot resolve the kernel and Xen packages" >&2; exit 1; }
fi
# Download what is missing in one apt-get call, then list the files in order.
deb_of() { ls "$W/debs/${1}_${2//:/%3a}_"*.deb 2>/dev/null | head -1 || true; }
get=()
while read -r p v; do
    if [ -z "$(deb_of "$p" "$v")" ]; then rm -f "$W/debs/${p}_"*.deb; get+=("$p=$v"); fi
done < "$RESOLVED"
if [ ${#get[@]} -gt 0 ]; then
    log "apt-get download ${get[*]}"
    (cd "$W/debs" && apt_quiet download -q "${get[@]}")
fi
want_files=()
DEBS=()
while read -r p v; do
    DEBS+=("$p")
    f=$(deb_of "$p" "$v")
    [ -n "$f" ] || { echo "error: $p=$v was not downloaded" >&2; exit 1; }
    want_files+=("$f")
done < "$RESOLVED"
# One extraction of exactly these .debs; redone when the set changes (a new kernel, a Xen update).
debs_id=$(printf '%s\n' "${want_files[@]##*/}" | sha256sum | cut -c1-16)
if [ "$(cat "$W/rootfs/.debs" 2>/dev/null)" != "$debs_id" ]; then
    log "extracting ${DEBS[*]}"
    rm -rf "$W/rootfs"; mkdir -p "$W/rootfs"
    for f in "${want_files[@]}"; do dpkg-deb -x "$f" "$W/rootfs"; done
    echo "$debs_id" > "$W/rootfs/.debs"
fi
X=$W/rootfs
KV=$(ls "$X/lib/modules")
[ "$(echo "$KV" | wc -l)" -eq 1 ] || { echo "error: expected one kernel in $X/lib/modules, found: $KV" >&2; exit 1; }
if [ ! -s "$W/xen" ] || [ "$X/boot/xen-4.17-amd64.gz" -nt "$W/xen" ]; then
    zcat "$X/boot/xen-4.17-amd64.gz" > "$W/xen.tmp" && mv "$W/xen.tmp" "$W/xen"
fi
cp -u "$X/boot/vmlinuz-$KV" "$W/vmlinuz"

# ---- 3. initramfs, unless nothing changed -----------------------------------------------
stamp() {
    sha256sum "$HERE/setup.sh" "$HERE/build-initramfs.sh" "$ROOT/etc/grants.toml"
    echo "debs $debs_id kernel $KV strip ${RVIRT_PAYLOAD_STRIP:-1}"
    if [ -n "$PAYLOAD" ]; then
        echo "payload $PAYLOAD"
        find -L "$PAYLOAD" -printf '%P %s %T@\n' | sort
    fi
}
STAMP=$(stamp | sha256sum | cut -d' ' -f1)
if [ -s "$W/dom0.cpio.gz" ] && [ -s "$W/domU.cpio.gz" ] && [ "$(cat "$W/initramfs.stamp" 2>/dev/null)" = "$STAMP" ]; then
    log "initramfs up to date ($W/dom0.cpio.gz)"
    log "setup done in $(elapsed) s"
    exit 0
fi
log "building the initramfs (kernel $KV${PAYLOAD:+, payload $PAYLOAD})"
"$HERE/build-initramfs.sh" "$W" "$KV" "$PAYLOAD"
echo "$STAMP" > "$W/initramfs.stamp"
ls -la "$W/xen" "$W/vmlinuz" "$W/domU.cpio.gz" "$W/dom0.cpio.gz"
log "setup done in $(elapsed) s"
