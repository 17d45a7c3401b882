#!/usr/bin/env bash
# tests/peers/xen/payload.sh OUTDIR [PLUGIN...]
#
# Lays out an rvirt payload for setup.sh (RVIRT_PAYLOAD=OUTDIR) from the checkout's build:
# bin/rvirtd, plugins/NAME.wasm + NAME.toml (every plugin in target/plugins, or only the
# PLUGINs named), etc/grants.toml (the checkout's). OUTDIR's bin/ and plugins/ are laid anew;
# files added to etc/ (a plugin's grants, a rvirtd.conf) are kept.
# Symlinks by default (setup.sh copies what they point to, so a rebuild is picked up by the
# next setup.sh); COPY=1 copies instead, a snapshot that later builds do not change.
# PROFILE=release takes target/release/rvirtd. It builds nothing: `cargo build -p rvirtd` and
# `cargo xtask plugins` make what it takes.
# Each plugin costs 20-85 s of compiling under TCG the first time rvirtd loads it (then it is
# in run.sh's compile cache); plugins with open-at-start URIs (qemu, lxc, bhyve, network,
# storage) are loaded when rvirtd starts, so naming only the plugins a test needs keeps
# the first boot short.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT=${1:?usage: payload.sh OUTDIR [PLUGIN...]}
shift
PROFILE=${PROFILE:-debug}
T=$ROOT/target/$PROFILE
flag=; [ "$PROFILE" = release ] && flag=" --release"
[ -x "$T/rvirtd" ] || { echo "error: $T/rvirtd is missing: cargo build -p rvirtd$flag" >&2; exit 1; }
ls "$ROOT"/target/plugins/*.wasm >/dev/null 2>&1 || { echo "error: no plugins in target/plugins: cargo xtask plugins" >&2; exit 1; }
if [ $# -eq 0 ]; then
    set -- $(for f in "$ROOT"/target/plugins/*.wasm; do f=${f##*/}; echo "${f%.wasm}"; done)
fi
put() { if [ "${COPY:-0}" = 1 ]; then cp -L "$1" "$2"; else ln -sfn "$1" "$2"; fi; }
rm -rf "$OUT/bin" "$OUT/plugins"
mkdir -p "$OUT/bin" "$OUT/plugins" "$OUT/etc"
put "$T/rvirtd" "$OUT/bin/rvirtd"
for p in "$@"; do
    [ -f "$ROOT/target/plugins/$p.wasm" ] || { echo "error: no plugin target/plugins/$p.wasm" >&2; exit 1; }
    put "$ROOT/target/plugins/$p.wasm" "$OUT/plugins/$p.wasm"
    put "$ROOT/target/plugins/$p.toml" "$OUT/plugins/$p.toml"
done
# The checkout's grants, unless the payload has its own file (a link is the checkout's, and
# renewed so that grants added since reach dom0).
if [ -L "$OUT/etc/grants.toml" ] || [ ! -e "$OUT/etc/grants.toml" ]; then
    put "$ROOT/etc/grants.toml" "$OUT/etc/grants.toml"
fi
echo "payload $OUT: rvirtd ($PROFILE) + plugins: $*"
