#!/usr/bin/env bash
# tests/peers/xen/build-initramfs.sh WORKDIR KERNEL_VERSION [PAYLOAD]   (setup.sh calls it)
#
# Builds WORKDIR/domU.cpio.gz (the PV test guest) and WORKDIR/dom0.cpio.gz from the Debian
# packages setup.sh extracted into WORKDIR/rootfs, the host's busybox-static and socat, and
# the optional rvirt payload directory.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
W=$1 KV=$2 PAYLOAD=${3:-}
X=$W/rootfs                       # the extracted .debs
MODS=$X/lib/modules/$KV/kernel
LIBPATH=$X/usr/lib/x86_64-linux-gnu:$X/lib/x86_64-linux-gnu
R=                                # the root being filled

# ---- helpers -------------------------------------------------------------------------------
# The shared libraries a binary needs, as ldd resolves them (the extracted Xen libraries
# first), one path a line; a library ldd cannot find is an error.
libs_of() {
    local out
    out=$(LD_LIBRARY_PATH=$LIBPATH ldd "$1" 2>&1) || { [[ $out == *"not a dynamic executable"* ]] && return 0; echo "$out" >&2; return 1; }
    if grep -q 'not found' <<<"$out"; then
        echo "error: $1 needs a library this host lacks:" >&2; grep 'not found' <<<"$out" >&2; return 1
    fi
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out"
}
# copy SRC to DEST inside $R (DEST defaults to SRC without the extraction prefix), then every
# library it needs at the path the dynamic loader searches (extracted ones lose the prefix).
copybin() {
    local src=$1 dst=${2:-${1#"$X"}} lib rel
    mkdir -p "$R$(dirname "$dst")"
    cp -L "$src" "$R$dst"
    for lib in $(libs_of "$src"); do
        rel=${lib#"$X"}
        [ -e "$R$rel" ] && continue
        mkdir -p "$R$(dirname "$rel")"
        cp -L "$lib" "$R$rel"
    done
}
# every busybox applet as a symlink at its usual place (a real file already there wins)
busybox_tree() {
    mkdir -p "$R/bin"
    cp /bin/busybox "$R/bin/busybox"
    local applet
    for applet in $(busybox --list-full); do
        [ -e "$R/$applet" ] || [ -L "$R/$applet" ] && continue
        mkdir -p "$R/$(dirname "$applet")"
        ln -s /bin/busybox "$R/$applet"
    done
}
# add_modules GROUP NAME...: kernel modules with their dependencies (read from each .ko's
# .modinfo, since the .deb carries no modules.dep), copied to $R/lib/modules/NAME.ko, their
# load order written to $R/lib/modules/GROUP.order (a module may be in several groups; the
# init scripts' `load GROUP` skips those already loaded).
declare -A MODPATH=()
while IFS= read -r f; do n=${f##*/}; n=${n%.ko}; MODPATH[${n//-/_}]=$f; done < <(find "$MODS" -name '*.ko')
add_modules() {
    local group=$1 m n f dep
    shift
    mkdir -p "$R/lib/modules"
    touch "$R/lib/modules/$group.order"
    for m in "$@"; do
        n=${m//-/_}
        grep -qx "$n" "$R/lib/modules/$group.order" && continue
        f=${MODPATH[$n]:-}
        [ -n "$f" ] || { echo "error: kernel $KV has no module $m" >&2; return 1; }
        for dep in $(tr '\0' '\n' <"$f" | grep -a -m1 '^depends=' | cut -d= -f2 | tr ',' ' '); do
            add_modules "$group" "$dep"
        done
        cp "$f" "$R/lib/modules/$n.ko"
        echo "$n" >> "$R/lib/modules/$group.order"
    done
}
LOAD_FN='load() { for m in $(cat /lib/modules/$1.order); do [ -d /sys/module/$m ] || insmod /lib/modules/$m.ko || echo "insmod $m failed"; done; }'
cpio_gz() { (cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) > "$1.tmp" && mv "$1.tmp" "$1"; }

# ---- the PV test domU -------------------------------------------------------------------
# busybox with a shell script as /init (not busybox init). It prints DOMU-HELLO on hvc0 and
# runs until the toolstack ends it. `xl shutdown` writes "poweroff" to the domain's
# control/shutdown xenstore key; the kernel's watch on it (drivers/xen/manage.c) runs
# orderly_poweroff(), i.e. the usermode helper /sbin/poweroff = busybox poweroff, which only
# signals pid 1 (SIGUSR2; halt SIGUSR1). `xl reboot` ("reboot") goes through the kernel's
# ctrl_alt_del, which signals pid 1 too (seen: the REBOOT line below). A shell that ignores
# those signals never goes down, so /init traps them and calls `poweroff -f` / `reboot -f`
# (reboot(2), i.e. SCHEDOP_shutdown): xl sees "shutdown, reason poweroff" (code 0) at once
# and applies on_poweroff. Block and net front ends are loaded for guests given disks/vifs.
R=$W/domU-root
rm -rf "$R"; mkdir -p "$R"/{proc,sys,dev,tmp,etc}
busybox_tree
add_modules front xen-blkfront xen-netfront
cat > "$R/init" <<EOI
#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
$LOAD_FN
EOI
cat >> "$R/init" <<'EOI'
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
load front 2>/dev/null
on() { echo "DOMU-$1: requested by the toolstack"; sync; $2 -f; }
trap 'on POWEROFF poweroff' USR2
trap 'on HALT poweroff' USR1
trap 'on REBOOT reboot' TERM INT
echo "DOMU-HELLO: $(uname -r) $(cat /proc/cmdline)"
# `wait` returns when a trapped signal arrives, so the trap runs at once.
while :; do sleep 3600 & wait $!; done
EOI
chmod +x "$R/init"
cpio_gz "$W/domU.cpio.gz"

# ---- dom0 ---------------------------------------------------------------------------------
R=$W/dom0-root
rm -rf "$R"
mkdir -p "$R"/{proc,sys,dev,run,tmp,root,etc/xen,var/lib/xen,var/log/xen,var/cache,guest,lib/modules}
busybox_tree
B=/usr/lib/xen-4.17/bin
for b in $B/xl $B/xenstored $B/xenconsoled $B/xen-init-dom0 $B/libxl-save-helper $B/xenconsole \
    $B/xen-cpuid /usr/bin/xenstore /usr/bin/xenstore-ls /usr/bin/xenstore-read \
    /usr/bin/xenstore-write /usr/bin/xenstore-rm /usr/bin/xenstore-list /usr/bin/xenstore-exists \
    /usr/bin/xenstore-watch /usr/bin/xenstore-chmod; do
    copybin "$X$b"
done
# glibc dlopens libgcc_s for thread cancellation/unwinding
mkdir -p "$R/lib/x86_64-linux-gnu"; cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$R/lib/x86_64-linux-gnu/"
cp -r "$X/etc/xen/scripts" "$R/etc/xen/"; cp "$X/etc/xen/xl.conf" "$R/etc/xen/"
# Xen's device nodes and xenfs; the network card (virtio-net or e1000, as run.sh is told);
# 9p over virtio for the host directory run.sh shares (rvirtd's compile cache); the back
# ends, bridge, tun and loop a Xen driver's guests with disks and vifs use (loaded once dom0
# is ready, in the background: status "backends").
add_modules xen xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs
add_modules virtio virtio_pci
add_modules virtio-net virtio_net
add_modules e1000 e1000
add_modules 9p 9pnet_virtio 9p
add_modules backends xen-netback xen-blkback bridge tun loop
cp "$W/vmlinuz" "$R/guest/vmlinuz"; cp "$W/domU.cpio.gz" "$R/guest/"
cat > "$R/guest/domU.cfg" <<'EOC'
# The PV test guest: Debian's kernel and a busybox ramdisk that prints DOMU-HELLO on hvc0.
name = "domU-test"
type = "pv"
kernel = "/guest/vmlinuz"
ramdisk = "/guest/domU.cpio.gz"
extra = "console=hvc0 quiet"
memory = 128
vcpus = 1
on_poweroff = "destroy"
on_reboot = "restart"
on_crash = "destroy"
EOC
sed -e 's/^name = .*/name = "domU-pvh"/' -e 's/^type = .*/type = "pvh"/' \
    -e 's/^# The PV test guest/# The same guest as PVH (an HVM container, no device model)/' \
    "$R/guest/domU.cfg" > "$R/guest/domU-pvh.cfg"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\n' > "$R/etc/group"
printf 'hosts: files\n' > "$R/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n10.0.2.15 dom0\n' > "$R/etc/hosts"
echo dom0 > "$R/etc/hostname"

# ---- the rvirt payload --------------------------------------------------------------------
if [ -n "$PAYLOAD" ]; then
    O=/opt/rvirt
    mkdir -p "$R$O"
    cp -rL "$PAYLOAD/." "$R$O/"
    if [ -d "$PAYLOAD/bin" ]; then
        for b in "$PAYLOAD"/bin/*; do
            [ -f "$b" ] && [ -x "$b" ] || continue
            copybin "$b" "$O/bin/${b##*/}"
            if [ "${RVIRT_PAYLOAD_STRIP:-1}" != 0 ] && readelf -S "$b" 2>/dev/null | grep -q '\.debug_info'; then
                strip --strip-debug "$R$O/bin/${b##*/}"
            fi
        done
    fi
    if [ -x "$PAYLOAD/bin/rvirtd" ]; then
        copybin "$(command -v socat)" /usr/bin/socat
        mkdir -p "$R$O/etc"
        [ -f "$R$O/etc/grants.toml" ] || cp "$ROOT/etc/grants.toml" "$R$O/etc/grants.toml"
        [ -f "$R$O/etc/rvirtd.conf" ] || cat > "$R$O/etc/rvirtd.conf" <<'EOC'
# rvirtd in the Xen test peer's dom0 (tests/peers/xen); the TCP front on 16509 is socat.
unix_sock_dir = "/run/rvirt"
log_filter = "info"
EOC
    fi
fi

cat > "$R/init" <<EOI
#!/bin/sh
$LOAD_FN
EOI
cat >> "$R/init" <<'EOI'
# dom0's init (tests/peers/xen/build-initramfs.sh). Progress goes to hvc0 (Xen's COM1, the
# host's WORKDIR/serial.log) and to /run/peer/status, which `ctl.py WORKDIR wait-ready` reads.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin:/opt/rvirt/bin HOME=/root
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs shm /dev/shm
mount -t tmpfs run /run; ln -s /run /var/run
mkdir -p /run/peer /run/xen /run/xenstored /var/lib/xenstored /var/log/xen/console
up() { cut -d' ' -f1 /proc/uptime; }
status() { echo "$* $(up)" >> /run/peer/status; echo "DOM0-STATUS: $* at $(up) s"; }
hostname dom0

# The root shell on COM2: ctl.py writes command lines into WORKDIR/ctl.sock; a non-interactive
# sh reads them from the port as a script (no prompt, no echo) and answers on the same port.
if grep -q 'ctl=1' /proc/cmdline; then
    stty -F /dev/ttyS1 raw -echo 115200 2>/dev/null
    setsid sh -c 'while :; do sh /dev/ttyS1 </dev/null >/dev/ttyS1 2>&1; done' &
    status ctl
fi

# Only the drivers of the devices run.sh gave: virtio (1af4:*) for virtio-net and 9p, e1000.
load xen
has() { for d in /sys/bus/pci/devices/*; do [ "$(cat $d/vendor):$(cat $d/device)" = "$1" ] && return 0; done; return 1; }
if has 0x1af4:0x1000 || has 0x1af4:0x1041 || has 0x1af4:0x1009 || has 0x1af4:0x1049; then load virtio; fi
if has 0x1af4:0x1000 || has 0x1af4:0x1041; then load virtio-net; fi
if has 0x1af4:0x1009 || has 0x1af4:0x1049; then load 9p; fi
if has 0x8086:0x100e; then load e1000; fi

# QEMU user networking: dom0 is 10.0.2.15, the host's forwards arrive on it.
ip link set lo up
for n in /sys/class/net/*; do
    n=${n##*/}; [ "$n" = lo ] && continue
    ip link set "$n" up && ip addr add 10.0.2.15/24 dev "$n" && ip route add default via 10.0.2.2 && status "net $n" && break
done

mount -t xenfs xenfs /proc/xen
echo "DOM0: $(cat /sys/hypervisor/type) $(cat /sys/hypervisor/version/major).$(cat /sys/hypervisor/version/minor)"
xenstored --pid-file=/run/xenstored.pid
xen-init-dom0
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console
if xl list >/dev/null 2>&1; then status dom0-ready; else status dom0-failed; fi

# rvirtd from the payload: plugins, grants and configuration under /opt/rvirt, state in the
# system places (/etc/rvirt, /var/lib/rvirt, /run/rvirt); socat serves the read-write socket
# on TCP 16509 (rvirtd's own TCP listener is TLS only), so a client there is root.
# Compiling a plugin under TCG takes 20-85 s, so the compile cache lives on the host
# (WORKDIR/rvirt-cache, shared by run.sh as the 9p tag rvirtcache) and outlives the boot;
# without the share it is in dom0's memory.
if [ -x /opt/rvirt/bin/rvirtd ]; then
    echo want > /run/peer/rvirtd
    mkdir -p /var/log/rvirt /var/cache/rvirt
    if grep -qs rvirtcache /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag; then
        mount -t 9p -o trans=virtio,version=9p2000.L,cache=mmap,msize=262144 rvirtcache /var/cache/rvirt \
            && status cache-shared || echo "DOM0: cannot mount the rvirtcache share"
    fi
    RVIRT_PLUGIN_PATH=/opt/rvirt/plugins RVIRT_GRANTS=/opt/rvirt/etc/grants.toml \
        RVIRT_CACHE_DIR=/var/cache/rvirt/compiled NO_COLOR=1 \
        setsid rvirtd -f /opt/rvirt/etc/rvirtd.conf -p /run/rvirtd.pid \
        </dev/null >>/var/log/rvirt/rvirtd.log 2>&1 &
    i=0
    while [ ! -S /run/rvirt/rvirt-sock ] && [ $i -lt 600 ] && kill -0 $! 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
    if [ -S /run/rvirt/rvirt-sock ]; then
        setsid socat TCP-LISTEN:16509,fork,reuseaddr UNIX-CONNECT:/run/rvirt/rvirt-sock </dev/null >>/var/log/rvirt/socat.log 2>&1 &
        sleep 0.2
        status rvirtd-ready
    else
        status rvirtd-failed
        tail -20 /var/log/rvirt/rvirtd.log
    fi
fi

status init-done
(load backends >/dev/null 2>&1; status backends) &
# DOM0_ARGS=peerdebug (run.sh): the process list on the console every 20 s.
if grep -q peerdebug /proc/cmdline; then
    while :; do sleep 20; echo "DOM0-DEBUG at $(up) s:"; ps; done
fi
while :; do sleep 3600; done
EOI
chmod +x "$R/init"
cpio_gz "$W/dom0.cpio.gz"
