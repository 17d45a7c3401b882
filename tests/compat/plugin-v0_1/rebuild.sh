#!/usr/bin/env bash
# rebuild.sh — rebuilds the frozen 0.1.0 compat plugin from its source commit and checks that
# the result is byte-identical to the committed prebuilt/compat.wasm.
#
#   tests/compat/plugin-v0_1/rebuild.sh          rebuild and compare (exit 1 if it differs)
#   tests/compat/plugin-v0_1/rebuild.sh --write  rebuild and replace the committed component
#
# The source is the commit named in SOURCE_COMMIT (tagged `compat-plugin-v0.1.0`): the crate in
# this directory as it was there, against the SDK and wit/ of that commit (rvirt:driver@0.1.0).
# Byte-identical output needs the same rustc (RUSTC_VERSION) and the lock file of that commit;
# paths are remapped so neither the checkout's nor cargo's home location reaches the binary,
# and symbol names are stripped (they carry a hash of the path dependencies' locations).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel)
SOURCE_COMMIT=$(cat "$here/SOURCE_COMMIT")
RUSTC_VERSION=$(cat "$here/RUSTC_VERSION")

if [ "$(rustc --version)" != "$RUSTC_VERSION" ]; then
    echo "rebuild.sh: the prebuilt component was made with '$RUSTC_VERSION';" >&2
    echo "this rustc is '$(rustc --version)': the bytes cannot be expected to match." >&2
    exit 2
fi
rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

work=$(mktemp -d /tmp/rvirt-compat-rebuild.XXXXXX)
trap 'git -C "$root" worktree remove --force "$work/src" >/dev/null 2>&1; rm -rf "$work"' EXIT
git -C "$root" worktree add --detach "$work/src" "$SOURCE_COMMIT" >/dev/null 2>&1
crate=$work/src/tests/compat/plugin-v0_1
cargo_home=${CARGO_HOME:-$HOME/.cargo}
(
    cd "$crate"
    RUSTFLAGS="--remap-path-prefix=$work/src=/rvirt --remap-path-prefix=$cargo_home=/cargo" \
        CARGO_PROFILE_RELEASE_STRIP=symbols CARGO_TARGET_DIR="$work/target" \
        cargo build -q --locked --release --target wasm32-wasip2
)
built=$work/target/wasm32-wasip2/release/compat.wasm
if [ "${1:-}" = "--write" ]; then
    mkdir -p "$here/prebuilt"
    cp "$built" "$here/prebuilt/compat.wasm"
    cp "$crate/rvirt-plugin.toml" "$here/prebuilt/compat.toml"
    sha256sum "$here/prebuilt/compat.wasm"
    exit 0
fi
want=$(sha256sum <"$here/prebuilt/compat.wasm" | cut -d' ' -f1)
got=$(sha256sum <"$built" | cut -d' ' -f1)
if [ "$want" = "$got" ]; then
    echo "rebuild.sh: byte-identical ($got)"
else
    echo "rebuild.sh: differs: committed $want, rebuilt $got" >&2
    exit 1
fi
