#!/usr/bin/env bash
# Builds the fuzz targets with stable Rust and runs each under libFuzzer for a number of
# executions, then prints one table: executions, seconds, exec/s, corpus size and crashes per
# target. Exits non-zero when a target crashed (or timed out, or ran out of memory), after
# printing the reproducer's path.
#
#   fuzz/run.sh [--execs N] [TARGET...]      (default: 1000000 executions, every target)
#
# No nightly and no cargo-fuzz: libfuzzer-sys compiles libFuzzer itself (needs a C++
# compiler), and the coverage instrumentation is made of stable codegen options. The build
# goes to fuzz/target (its own workspace), so the main target directory never sees an
# instrumented crate. Corpora grow in fuzz/target/corpus/TARGET (not committed), seeded from
# fuzz/seeds/TARGET and from the project's own files (its tests' XML, its plugin manifests and
# grants). Crashes land in fuzz/target/artifacts/TARGET/; rerun one with
# `fuzz/target/<host>/release/TARGET FILE`, and pin it as a unit test of the crate it broke.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd .. && pwd)

ALL_TARGETS=(rpc_packet domain_xml any_xml lxc_monitor manifest)
execs=1000000
targets=()
while [ $# -gt 0 ]; do
    case $1 in
    --execs)
        [ $# -ge 2 ] || { echo "error: --execs needs a number" >&2; exit 2; }
        execs=$2
        shift 2
        ;;
    --execs=*) execs=${1#--execs=}; shift ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "error: unknown option $1" >&2; exit 2 ;;
    *)
        case " ${ALL_TARGETS[*]} " in
        *" $1 "*) targets+=("$1") ;;
        *) echo "error: unknown target '$1' (${ALL_TARGETS[*]})" >&2; exit 2 ;;
        esac
        shift
        ;;
    esac
done
[[ $execs =~ ^[0-9]+$ ]] || { echo "error: --execs wants a whole number, not '$execs'" >&2; exit 2; }
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

# What libFuzzer is told per target: the longest input worth trying, and a dictionary.
max_len() {
    case $1 in
    domain_xml | any_xml) echo 16384 ;;
    rpc_packet) echo 8192 ;;
    lxc_monitor) echo 1024 ;;
    manifest) echo 4096 ;;
    esac
}
dict() {
    case $1 in
    domain_xml | any_xml) echo dict/domain.dict ;;
    manifest) echo dict/manifest.dict ;;
    esac
}

# Seeds taken from the project itself, refreshed on every run (a seed dir is read, never
# written: new inputs go to the corpus dir).
seed_dir() {
    local target=$1 dir=target/seeds/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    [ -d "seeds/$target" ] && cp seeds/"$target"/* "$dir"/
    local n=0 file
    case $target in
    domain_xml | any_xml)
        while IFS= read -r file; do
            n=$((n + 1))
            cp "$file" "$dir/project-$n.xml"
        done < <(find "$root/crates" "$root/plugins" "$root/tests" "$root/tools" -name '*.xml' \
            -size -16k -not -path '*/target/*' | sort)
        ;;
    manifest)
        while IFS= read -r file; do
            n=$((n + 1))
            cp "$file" "$dir/project-$n.toml"
        done < <(find "$root/plugins" "$root/tests" "$root/etc" -name '*.toml' -not -name Cargo.toml \
            -size -4k -not -path '*/target/*' | sort)
        ;;
    esac
    echo "$dir"
}

command -v c++ >/dev/null || command -v "${CXX:-g++}" >/dev/null ||
    { echo "error: libfuzzer-sys needs a C++ compiler: apt-get install g++" >&2; exit 1; }
host=$(rustc -vV | sed -n 's/^host: //p')
# sancov with inline 8-bit counters, the PC table and compare tracing is what cargo-fuzz asks
# of LLVM; `--cfg fuzzing` is what libfuzzer-sys and the crates expect; debug assertions and
# overflow checks make arithmetic slips crash instead of wrapping. `--target` keeps these
# flags off build scripts and proc macros (they run on the host, uninstrumented).
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-simplifycfg-branch-fold-threshold=0 \
-Cdebug-assertions -Coverflow-checks"
echo ">> building the fuzz targets (fuzz/target/$host/release)"
bin_args=()
for target in "${targets[@]}"; do bin_args+=(--bin "$target"); done
cargo build --quiet --release --target "$host" --manifest-path Cargo.toml "${bin_args[@]}"

mkdir -p target/logs
rows=()
failed=()
for target in "${targets[@]}"; do
    corpus=target/corpus/$target
    artifacts=target/artifacts/$target
    log=target/logs/$target.log
    mkdir -p "$corpus" "$artifacts"
    seeds=$(seed_dir "$target")
    args=(-runs="$execs" -print_final_stats=1 -max_len="$(max_len "$target")" -timeout=10
        -rss_limit_mb=2048 -artifact_prefix="$artifacts/")
    [ -z "$(dict "$target")" ] || args+=(-dict="$(dict "$target")")
    echo ">> $target: $execs executions (log: fuzz/$log)"
    start=$(date +%s.%N)
    status=0
    "target/$host/release/$target" "${args[@]}" "$corpus" "$seeds" >"$log" 2>&1 || status=$?
    end=$(date +%s.%N)
    final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
    n_execs=$(final_stat number_of_executed_units)
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    crashes=0
    if [ "$status" -ne 0 ]; then
        crashes=1
        reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        grep -m 1 -E '^==[0-9]+== ERROR|panicked at|^ALARM|out-of-memory|deadly signal' "$log" >&2 || true
        echo "!! $target failed (exit $status): reproducer ${reproducer:+fuzz/$reproducer}" >&2
        echo "   rerun: fuzz/target/$host/release/$target ${reproducer:+fuzz/$reproducer}" >&2
        echo "   log:   fuzz/$log" >&2
        failed+=("$target")
        # A crash stops libFuzzer before its final stats: count from the last status line.
        [ -n "$n_execs" ] || n_execs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
    fi
    n_execs=${n_execs:-0}
    per_second=$(awk -v n="$n_execs" -v s="$seconds" 'BEGIN { printf "%.0f", (s > 0 ? n / s : n) }')
    # The inputs libFuzzer keeps (its last `corp:` figure); the corpus dir also holds the
    # ones later inputs made redundant.
    corpus_size=$(grep -oE 'corp: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
    corpus_size=${corpus_size:-0}
    rows+=("$(printf '%-12s %12s %8s %9s %8s %8s' "$target" "$n_execs" "$seconds" "$per_second" "$corpus_size" "$crashes")")
done

echo
printf '%-12s %12s %8s %9s %8s %8s\n' target executions seconds exec/s corpus crashes
for row in "${rows[@]}"; do echo "$row"; done
if [ ${#failed[@]} -gt 0 ]; then
    echo "error: crashes in: ${failed[*]} (reproducers above; pin each as a regression test)" >&2
    exit 1
fi
