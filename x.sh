#!/usr/bin/env bash
# rvirt's one entry point on a fresh Debian machine.
#
#   ./x.sh run     install what is missing, build the host and the plugins, and show
#                  `rvirsh -c test:///default list --all` (the embedded test driver)
#   ./x.sh test    install what is missing, build everything and run every test
#                  (and the ../shared conformance suites when that folder exists)
#   ./x.sh bench [host|xml|api|qemu|lxc|reload ...]
#                  build in release mode and print the benchmarks' figures (all by default)
#
# Everything a clean clone needs is installed here; nothing relies on the developer's machine.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests use: QEMU for real guests, busybox/cpio for the test guest and
# containers, libvirt's own clients (virsh, python3-libvirt) and daemon as the reference peer.
APT_PACKAGES=(
    qemu-system-x86 qemu-utils busybox-static cpio iproute2 procps
    libvirt-clients python3-libvirt libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-driver-lxc
)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "error: need root to run: $*" >&2; return 1; fi
}

install_packages() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo ">> apt-get install ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null ||
        { as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
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

case "${1:-run}" in
run)
    build
    exec ./target/debug/rvirsh -c test:///default list --all
    ;;
test)
    install_packages "${APT_PACKAGES[@]}"
    build
    [ -x tests/guest/build.sh ] && tests/guest/build.sh
    cargo test --workspace --no-fail-fast
    if [ -d ../shared/conformance ]; then
        ./x.sh conformance
    fi
    ;;
conformance)
    # The shared suites against rvirtd serving the test driver (needs ../shared).
    [ -x tools/rvirtd/conformance.sh ] && exec tools/rvirtd/conformance.sh
    echo "no conformance runner yet"
    ;;
bench)
    # Every benchmark, or the ones named: host xml api qemu lxc reload. Each prints its figures;
    # those that compare with libvirt need ../shared (its testdata, bench scripts, libvirtd).
    shift
    [ $# -gt 0 ] || set -- host xml api qemu lxc reload
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
        qemu)
            install_packages "${APT_PACKAGES[@]}"
            tests/guest/build.sh >/dev/null
            cargo bench -p rvirt-tests --bench qemu_start ;;
        lxc)
            install_packages "${APT_PACKAGES[@]}"
            cargo bench -p rvirt-tests --bench lxc_start ;;
        reload) RVIRTD=target/release/rvirtd cargo bench -p rvirt-tests --bench hot_reload ;;
        *) echo "unknown bench '$bench' (host xml api qemu lxc reload)" >&2; exit 2 ;;
        esac
    done
    ;;
*)
    echo "usage: $0 run|test|conformance|bench [NAME...]" >&2
    exit 2
    ;;
esac
