#!/usr/bin/env bash
# rvirt's one entry point on a fresh Debian machine.
#
#   ./x.sh run     install what is missing, build the host and the plugins, and show
#                  `rvirsh -c test:///default list --all` (the embedded test driver)
#   ./x.sh test    install what is missing, build everything and run every test
#                  (and the ../shared conformance suites when that folder exists)
#   ./x.sh xen-test
#                  the Xen driver against a real Xen 4.17 under QEMU TCG (slow; opt-in, also run
#                  by `test` when RVIRT_XEN=1)
#   ./x.sh doctor  say what this machine has and lacks for rvirt, in one table (installs nothing)
#   ./x.sh bench [host|xml|api|scale|qemu|migrate|lxc|reload|install|netstore|esx|xen ...]
#                  build in release mode and print the benchmarks' figures (all by default)
#   ./x.sh profile OP [SECONDS]
#                  one libvirt call through rvirtd under perf: CPU per op and the share of each
#                  stage (OP: getVersion lookup xmldesc lookup_xmldesc info create_destroy
#                  define_undefine list_all; see tools/rvirtd/profile.sh)
#   ./x.sh soak [--minutes N] [--seed S]
#                  fault-injection soak against a real rvirtd, QEMU and LXC (root; tools/rvirtd/soak/)
#   ./x.sh fuzz [--execs N] [TARGET...]
#                  build the fuzz targets with stable Rust and run each under libFuzzer for N
#                  executions (default 10^6): one table of executions, exec/s and crashes per
#                  target (rpc_packet domain_xml any_xml lxc_monitor manifest; see fuzz/run.sh)
#
# Everything a clean clone needs is installed here; nothing relies on the developer's machine.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests use: QEMU for real guests, busybox/cpio for the test guest and
# containers, dnsmasq/nftables for networks, LVM for logical pools, swtpm for emulated TPMs,
# libvirt's own clients
# (virsh, python3-libvirt, virt-install) and daemon as the reference peer; Go and govmomi
# to build the vSphere simulator (vcsim) the ESX driver is tested against.
APT_PACKAGES=(
    qemu-system-x86 qemu-utils busybox-static cpio iproute2 procps openssh-server openssh-client
    dnsmasq-base nftables lvm2 swtpm
    libvirt-clients python3-libvirt virtinst libvirt-daemon libvirt-daemon-driver-qemu
    libvirt-daemon-driver-lxc
    golang-go golang-github-vmware-govmomi-dev
)
# Installed without their Recommends: virt-install's (virt-viewer) would bring a desktop.
APT_WITHOUT_RECOMMENDS=(virtinst)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "error: need root to run: $*" >&2; return 1; fi
}

# apt-get with its output kept in a log that is printed when it fails (a quiet install that
# fails must still say why).
apt_run() {
    local log
    log=$(mktemp /tmp/rvirt-apt.XXXXXX)
    if as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@" >"$log" 2>&1; then
        rm -f "$log"
        return 0
    fi
    echo "error: apt-get $* failed:" >&2
    tail -n 40 "$log" >&2
    rm -f "$log"
    return 1
}

installed_version() { dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | awk '/install ok installed/ { print $4 }'; }
candidate_version() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2; exit }'; }

# The QEMU packages must come from one release: a machine image may carry a newer `qemu-utils`
# (e.g. 10.x from backports) whose Breaks forbid bookworm's `qemu-system-x86`. Every qemu-*
# package that is wanted or already installed is pinned to the version qemu-system-x86 would
# install, downgrading when needed.
qemu_pins() {
    local want sys_version pkg
    sys_version=$(candidate_version qemu-system-x86)
    [ -n "$sys_version" ] && [ "$sys_version" != "(none)" ] || return 0
    for pkg in $(dpkg-query -W -f='${Package} ${Status}\n' 'qemu-*' 2>/dev/null | awk '/install ok installed/ { print $1 }') "$@"; do
        case $pkg in qemu-*) ;; *) continue ;; esac
        # Only packages built from the qemu source move in lock step (qemu-system-*, -utils,
        # -block-extra, -guest-agent...).
        want=$(apt-cache show "$pkg=$sys_version" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
        [ "$want" = "$sys_version" ] || continue
        [ "$(installed_version "$pkg")" = "$sys_version" ] || echo "$pkg=$sys_version"
    done | sort -u
}

install_packages() {
    local missing=() pins=() qemu_wanted=() pkg
    for pkg in "$@"; do
        [ -n "$(installed_version "$pkg")" ] || missing+=("$pkg")
        case $pkg in qemu-*) qemu_wanted+=("$pkg") ;; esac
    done
    [ ${#qemu_wanted[@]} -eq 0 ] || mapfile -t pins < <(qemu_pins "${qemu_wanted[@]}")
    [ ${#missing[@]} -eq 0 ] && [ ${#pins[@]} -eq 0 ] && return 0
    # Package lists may be absent or old on a fresh machine: refresh them, then decide the pins.
    apt_run update -q
    [ ${#qemu_wanted[@]} -eq 0 ] || mapfile -t pins < <(qemu_pins "${qemu_wanted[@]}")
    local args=()
    for pkg in "${missing[@]}"; do
        case " ${pins[*]} " in *" $pkg="*) ;; *) args+=("$pkg") ;; esac
    done
    args+=("${pins[@]}")
    [ ${#args[@]} -eq 0 ] && return 0
    echo ">> apt-get install ${args[*]}"
    local plain=() bare=()
    for pkg in "${args[@]}"; do
        case " ${APT_WITHOUT_RECOMMENDS[*]} " in *" ${pkg%%=*} "*) bare+=("$pkg") ;; *) plain+=("$pkg") ;; esac
    done
    [ ${#plain[@]} -eq 0 ] || apt_run install -y -q --allow-downgrades "${plain[@]}"
    [ ${#bare[@]} -eq 0 ] || apt_run install -y -q --no-install-recommends "${bare[@]}"
}

rust_target() {
    command -v cargo >/dev/null || { echo "error: cargo not found; install rustup first" >&2; exit 1; }
    rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
}

build() {
    rust_target
    cargo xtask plugins "$@"
    cargo build --workspace --bins "$@"
}

# One table of what rvirt needs and whether this machine has it; exits 1 if something the
# tests need is missing. Installs nothing.
doctor() {
    local missing=0
    row() { printf '%-28s %-9s %s\n' "$1" "$2" "$3"; }
    need() { row "$1" "missing" "$2"; missing=1; }
    row "what" "status" "detail"
    row "----" "------" "------"
    for pkg in "${APT_PACKAGES[@]}"; do
        local version
        version=$(installed_version "$pkg")
        if [ -n "$version" ]; then row "$pkg" "ok" "$version"; else need "$pkg" "apt-get install $pkg (./x.sh test does)"; fi
    done
    local sys_version utils_version
    sys_version=$(installed_version qemu-system-x86)
    utils_version=$(installed_version qemu-utils)
    if [ -n "$sys_version" ] && [ -n "$utils_version" ] && [ "$sys_version" != "$utils_version" ]; then
        need "qemu set" "qemu-system-x86 $sys_version but qemu-utils $utils_version (./x.sh test pins them)"
    fi
    if command -v cargo >/dev/null; then row "rust" "ok" "$(rustc --version 2>/dev/null)"; else need "rust" "install rustup"; fi
    if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
        row "wasm32-wasip2" "ok" "rustup target"
    else need "wasm32-wasip2" "rustup target add wasm32-wasip2"; fi
    if [ -e /dev/kvm ]; then
        if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then row "kvm" "present" "/dev/kvm (tests use TCG: <domain type='qemu'>)"
        else row "kvm" "no access" "/dev/kvm not read-write for $(id -un); TCG only"; fi
    else row "kvm" "absent" "TCG only"; fi
    if command -v qemu-system-x86_64 >/dev/null; then
        row "tcg" "ok" "$(qemu-system-x86_64 --version | head -n1)"
    else need "tcg" "no qemu-system-x86_64"; fi
    local v2="" v1=()
    [ -f /sys/fs/cgroup/cgroup.controllers ] && v2=/sys/fs/cgroup
    [ -f /sys/fs/cgroup/unified/cgroup.controllers ] && v2=/sys/fs/cgroup/unified
    for controller in cpu cpuacct memory devices freezer blkio pids cpuset; do
        [ -d "/sys/fs/cgroup/$controller" ] && v1+=("$controller")
    done
    local v2_controllers=""
    [ -n "$v2" ] && v2_controllers=$(cat "$v2/cgroup.controllers")
    if [ ${#v1[@]} -eq 0 ] && [ -n "$v2" ]; then row "cgroups" "ok" "v2 at $v2: ${v2_controllers:-no controllers}"
    elif [ ${#v1[@]} -gt 0 ] && [ -n "$v2" ]; then row "cgroups" "ok" "hybrid: v1 (${v1[*]}), v2 at $v2 (${v2_controllers:-empty})"
    elif [ ${#v1[@]} -gt 0 ]; then row "cgroups" "ok" "v1 (${v1[*]})"
    else need "cgroups" "no cgroup hierarchy mounted under /sys/fs/cgroup"; fi
    local ns
    for ns in mount pid net uts ipc user; do
        if unshare "--$ns" true 2>/dev/null; then row "namespace $ns" "ok" "unshare --$ns"
        else row "namespace $ns" "denied" "unshare --$ns failed (LXC needs it)"; [ "$ns" = user ] || missing=1; fi
    done
    if [ -d ../shared ]; then row "../shared" "present" "conformance suites, testdata, bench"
    else row "../shared" "absent" "only the project's own tests run"; fi
    return $missing
}

case "${1:-run}" in
run)
    build
    exec ./target/debug/rvirsh -c test:///default list --all
    ;;
test)
    install_packages "${APT_PACKAGES[@]}"
    build
    [ -x tests/guest/build.sh ] && tests/guest/build.sh
    # RVIRT_XEN=1 adds the real-Xen test (minutes under TCG), which needs the release rvirtd.
    [ "${RVIRT_XEN:-0}" = 1 ] && cargo build --release -p rvirtd
    cargo test --workspace --no-fail-fast
    # libfuzzer-sys compiles libFuzzer: a C++ compiler must be there.
    command -v c++ >/dev/null || install_packages g++
    fuzz/run.sh --execs 100000
    if [ -d ../shared/conformance ]; then
        ./x.sh conformance
    fi
    ;;
xen-test)
    # The Xen plugin against a real Xen 4.17 booted under QEMU TCG (tests/peers/xen): rvirtd
    # and the plugin in dom0, the host's virsh through the forwarded port. Slow, so opt-in.
    install_packages "${APT_PACKAGES[@]}"
    build
    cargo build --release -p rvirtd
    RVIRT_XEN=1 exec cargo test -p rvirt-tests --test all -- xen_real --nocapture
    ;;
doctor)
    doctor
    ;;
conformance)
    # The shared suites against rvirtd serving the test driver (needs ../shared).
    [ -x tools/rvirtd/conformance.sh ] && exec tools/rvirtd/conformance.sh
    echo "no conformance runner yet"
    ;;
bench)
    # Every benchmark, or the ones named: host xml api scale qemu migrate lxc reload install
    # netstore esx
    # (xen: opt-in, minutes under TCG). Each prints its figures;
    # those that compare with libvirt need ../shared (its testdata, bench scripts, libvirtd).
    shift
    [ $# -gt 0 ] || set -- host xml api scale qemu migrate lxc reload install netstore esx
    rust_target
    cargo xtask plugins
    cargo build --release --workspace --bins
    for bench in "$@"; do
        echo "== bench: $bench"
        case $bench in
        host) cargo bench -p virt-host --bench host ;;
        xml)
            if [ -d ../shared/libvirt-testdata/qemuxml2xmloutdata ]; then
                cargo run -q --release -p xtask -- xml-bench ../shared/libvirt-testdata/qemuxml2xmloutdata
            else echo "skipped: ../shared/libvirt-testdata is missing"; fi ;;
        api)
            if [ -d ../shared/bench ]; then
                install_packages "${APT_PACKAGES[@]}"
                RVIRTD=target/release/rvirtd tools/rvirtd/bench.sh 1
            else echo "skipped: ../shared/bench is missing"; fi ;;
        migrate)
            # Live migration time and downtime between two rvirtds, two libvirtds, and
            # rvirtd <-> libvirtd both ways, each "host" in its own network namespace (~3 min).
            install_packages "${APT_PACKAGES[@]}"
            tests/guest/build.sh >/dev/null
            RVIRTD=target/release/rvirtd tools/rvirtd/bench-migrate.sh 6 ;;
        scale)
            # 10,000 domains, 200 running, events to 100 clients, memory: rvirtd and libvirtd
            # (~1.5 min).
            if [ -d ../shared/conformance ]; then
                install_packages "${APT_PACKAGES[@]}"
                RVIRTD=target/release/rvirtd tools/rvirtd/bench-scale.sh 3
            else echo "skipped: ../shared/conformance is missing"; fi ;;
        qemu)
            install_packages "${APT_PACKAGES[@]}"
            tests/guest/build.sh >/dev/null
            cargo bench -p rvirt-tests --bench qemu_start ;;
        lxc)
            install_packages "${APT_PACKAGES[@]}"
            cargo bench -p rvirt-tests --bench lxc_start ;;
        reload) RVIRTD=target/release/rvirtd cargo bench -p rvirt-tests --bench hot_reload ;;
        install) cargo run -q --release -p xtask -- bench-install --runs 3 ;;
        netstore)
            if [ -d ../shared/conformance ]; then
                # libvirtd 9.0's network driver writes its NAT rules with iptables.
                install_packages "${APT_PACKAGES[@]}" iptables
                tools/rvirtd/bench-netstore.sh 3
            else echo "skipped: ../shared/conformance is missing"; fi ;;
        esx)
            install_packages "${APT_PACKAGES[@]}"
            tools/rvirtd/bench-esx.sh 200 ;;
        xen)
            # define+start through rvirtd in dom0 against `xl create` by hand, on the real
            # Xen under TCG (minutes); printed by the real-Xen test.
            install_packages "${APT_PACKAGES[@]}"
            RVIRT_XEN=1 cargo test -q -p rvirt-tests --test all -- xen_real --nocapture 2>&1 \
                | grep -E 'XEN-START|test result' ;;
        *) echo "unknown bench '$bench' (host xml api scale qemu lxc reload install netstore esx xen)" >&2; exit 2 ;;
        esac
    done
    ;;
profile)
    # perf and the python client are the only things the profile needs beyond the build.
    shift
    command -v perf >/dev/null || install_packages linux-perf
    install_packages python3-libvirt
    rust_target
    exec tools/rvirtd/profile.sh "$@"
    ;;
soak)
    # Opt-in, not part of `test`: a debug build (the host's fault hook exists only there),
    # the plugins and the test guest, then tools/rvirtd/soak/soak.py with the remaining arguments.
    shift
    install_packages qemu-system-x86 qemu-utils busybox-static cpio iproute2 python3-libvirt e2fsprogs util-linux
    build
    tests/guest/build.sh >/dev/null
    exec /usr/bin/python3 tools/rvirtd/soak/soak.py "$@"
    ;;
fuzz)
    # Stable Rust only, and a C++ compiler: libfuzzer-sys builds libFuzzer itself. `test`
    # runs a smoke of 10^5 executions per target.
    shift
    command -v c++ >/dev/null || install_packages g++
    exec fuzz/run.sh "$@"
    ;;
*)
    echo "usage: $0 run|test|doctor|conformance|bench [NAME...]|profile OP [SECONDS]|fuzz [--execs N] [TARGET...]" >&2
    exit 2
    ;;
esac
