#!/bin/bash
# tests/guest/build.sh [DIR] — builds rvirt's test guest into DIR (default: $RVIRT_TEST_GUEST_DIR,
# else <workspace>/target/test-guest) and prints DIR:
#   DIR/vmlinuz      Debian's amd64 kernel (the package linux-image-amd64 depends on)
#   DIR/initrd.img   a busybox-static initramfs whose /init is tests/guest/init, with the few
#                    kernel modules it loads (virtio, ACPI button, evdev, pvpanic)
# Needs: apt-get (root, to download the kernel package), dpkg, busybox-static. Idempotent: the
# kernel is downloaded once; the initramfs is rebuilt when init or this script changes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${1:-${RVIRT_TEST_GUEST_DIR:-$here/../../target/test-guest}}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
busybox=/bin/busybox
if ! "$busybox" --list 2>/dev/null | grep -qx cpio || ! ldd "$busybox" 2>&1 | grep -q 'not a dynamic'; then
	apt-get install -y busybox-static >/dev/null
fi

# The kernel and its modules, once.
if [[ ! -f $dir/vmlinuz || ! -d $dir/kernel/lib/modules ]]; then
	pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	work=$(mktemp -d "$dir/download.XXXXXX")
	(cd "$work" && apt-get download "$pkg" >/dev/null 2>&1)
	rm -rf "$dir/kernel"
	dpkg -x "$work"/linux-image-*.deb "$dir/kernel"
	rm -rf "$work"
	cp "$dir"/kernel/boot/vmlinuz-* "$dir/vmlinuz.tmp" && mv "$dir/vmlinuz.tmp" "$dir/vmlinuz"
fi
kver=$(ls "$dir/kernel/lib/modules" | head -n1)

# The initramfs, when its inputs changed.
if [[ -f $dir/initrd.img && $dir/initrd.img -nt $here/init && $dir/initrd.img -nt $here/build.sh ]]; then
	echo "$dir"
	exit 0
fi
modules_root=$dir/kernel/lib/modules/$kver
[[ -f $modules_root/modules.dep ]] || "$busybox" depmod -b "$dir/kernel" "$kver"
root=$(mktemp -d "$dir/initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/lib/modules/$kver"
cp "$busybox" "$root/bin/busybox"
cp "$here/init" "$root/init"
chmod 755 "$root/init"
# Each wanted module with everything it depends on (modules.dep lists a module's whole closure).
for module in virtio_pci virtio_blk virtio_net virtio_console virtio_balloon virtiofs button evdev pvpanic-mmio; do
	line=$(grep -E "/${module}\.ko:" "$modules_root/modules.dep") || { echo "no module $module" >&2; exit 1; }
	for file in ${line/:/}; do
		mkdir -p "$root/lib/modules/$kver/$(dirname "$file")"
		cp "$modules_root/$file" "$root/lib/modules/$kver/$file"
	done
done
"$busybox" depmod -b "$root" "$kver"
(cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1 >"$dir/initrd.img.tmp")
mv "$dir/initrd.img.tmp" "$dir/initrd.img"
echo "$dir"
