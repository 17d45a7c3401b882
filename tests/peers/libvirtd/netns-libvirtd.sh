#!/bin/bash
# netns-libvirtd.sh — the reference libvirtd 9.0 (Debian's packages) as a migration peer:
# one daemon in network namespace NS, listening on ADDR:16509 (plain TCP, no
# authentication: a test network) and on DIR/sock/libvirt-sock, with every directory it
# writes under DIR and a host UUID of its own, so that two of them (or one beside an
# rvirtd) are two "hosts" on this machine. Adapted from the recipe in
# ../shared/conformance/start-libvirtd.sh (mount namespace with /etc/libvirt, /run/libvirt,
# /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt bound to DIR; QEMU as root, no
# security driver, no virtlogd), which does not listen on TCP.
#
#   netns-libvirtd.sh start NS ADDR DIR UUID   start; prints the unix socket's path
#   netns-libvirtd.sh stop NS DIR              stop it and every process left in NS (its QEMUs)
set -euo pipefail

case ${1:-} in
start)
    ns=$2 addr=$3 dir=$4 uuid=$5
    [ -x /usr/sbin/libvirtd ] || { echo "netns-libvirtd: /usr/sbin/libvirtd is missing (apt-get install libvirt-daemon libvirt-daemon-driver-qemu)" >&2; exit 1; }
    mkdir -p "$dir"/{etc,run,lib,cache,log,sock}
    cat >"$dir/libvirtd.conf" <<EOF
unix_sock_dir = "$dir/sock"
unix_sock_rw_perms = "0777"
auth_unix_rw = "none"
auth_unix_ro = "none"
listen_tls = 0
listen_tcp = 1
listen_addr = "$addr"
auth_tcp = "none"
host_uuid = "$uuid"
log_outputs = "3:file:$dir/log/libvirtd.log"
EOF
    cat >"$dir/etc/qemu.conf" <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
namespaces = [ ]
lock_manager = "nop"
EOF
    : >"$dir/etc/libvirt.conf"
    # Debian's QEMU driver wants its user and group to exist before it reads qemu.conf.
    cp /etc/passwd "$dir/passwd"
    cp /etc/group "$dir/group"
    getent passwd libvirt-qemu >/dev/null ||
        echo 'libvirt-qemu:x:64055:64055:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin' >>"$dir/passwd"
    getent group libvirt-qemu >/dev/null || echo 'libvirt-qemu:x:64055:' >>"$dir/group"
    getent group kvm >/dev/null || echo 'kvm:x:64056:' >>"$dir/group"
    for m in /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
        mkdir -p "$m"
    done
    # `ip netns exec` gives the daemon a mount namespace of its own for the binds; libvirt
    # 9.0's LXC code trips over an empty cgroup2 beside v1 controllers, so it is unmounted
    # there (as the shared recipe does).
    setsid ip netns exec "$ns" sh -c "
mount --make-rprivate /
mount --bind $dir/etc /etc/libvirt
mount --bind $dir/run /run/libvirt
mount --bind $dir/lib /var/lib/libvirt
mount --bind $dir/cache /var/cache/libvirt
mount --bind $dir/log /var/log/libvirt
mount --bind $dir/passwd /etc/passwd
mount --bind $dir/group /etc/group
if grep -q ' /sys/fs/cgroup/unified cgroup2 ' /proc/self/mounts; then umount /sys/fs/cgroup/unified || true; fi
exec /usr/sbin/libvirtd --listen -f $dir/libvirtd.conf --pid-file $dir/libvirtd.pid" \
        </dev/null >"$dir/stdout.log" 2>&1 &
    echo $! >"$dir/launcher.pid"
    for _ in $(seq 1 300); do
        [ -S "$dir/sock/libvirt-sock" ] && break
        sleep 0.1
    done
    [ -S "$dir/sock/libvirt-sock" ] || { echo "netns-libvirtd: libvirtd did not start:" >&2; tail -n 20 "$dir/stdout.log" "$dir/log/libvirtd.log" >&2; exit 1; }
    echo "$dir/sock/libvirt-sock"
    ;;
stop)
    ns=$2 dir=$3
    if [ -f "$dir/launcher.pid" ]; then
        kill "$(cat "$dir/launcher.pid")" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$(cat "$dir/launcher.pid")" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$(cat "$dir/launcher.pid")" 2>/dev/null || true
    fi
    # The QEMUs it started live on in the namespace (libvirtd daemonizes them).
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ;;
*)
    echo "usage: $0 start NS ADDR DIR UUID | stop NS DIR" >&2
    exit 2
    ;;
esac
