#!/usr/bin/python3
"""Split a perf profile of rvirtd into the stages of a libvirt round trip.

    perf script --no-inline -i perf.data | profile_stages.py [--user-us U --sys-us S]

Input: `perf script` output with call stacks (`perf record -g`, frame-pointer unwinding: the
wasm code keeps frame pointers, the host must be built with -C force-frame-pointers=yes, as
profile.sh does; without them host stacks stop at the leaf). Each sample goes to ONE stage,
decided by the first of these rules that matches (the rule is counted and printed):

  thread     the sample is on the wasm-epoch thread            -> other: epoch ticker
  kernel     the leaf frame is in the kernel: a page fault or a madvise/mmap/munmap/mprotect/
             mremap/brk syscall in the stack -> kernel: memory; anything else (recv/send, epoll, futex,
             scheduler, wakeups) -> kernel: socket I/O & wakeups, split by the syscall in the
             stack (sendto is the reply write and the client's wakeup, recvfrom the frame
             read, epoll_wait the worker going idle and waking). Kernel time is never charged
             to the user-space stage that made the syscall: libc has no frame pointers, so
             that stage is usually not in the stack anyway.
  wasm-leaf  the leaf is a wasm function (`wasm[N]::function[M]`, from the .cwasm DSO)
             -> plugin wasm, split by the crates named in that frame or, failing that, in the
             wasm frames below it (alloc/mem builtins are decided by the leaf alone):
             alloc/memcpy (also memcmp), virt_xml clone/drop of the typed model, virt_xml
             format, virt_xml parse, virt_xml other, postcard/serde, driver logic (the rest:
             the driver, SDK glue, core/std such as fmt and hashing).
  wasm-callee  a wasm function frame is deeper in the stack, the leaf is host code it called:
             if a frame between leaf and that wasm frame is a host call (virt_host::host_calls,
             space, ctx, resources, outbound; wasmtime component::func::host, the lowering of
             its results) -> host calls made by the plugin; else (wasmtime libcalls such as
             memory.grow, trampolines) -> host call path into the plugin.
  innermost  walking from leaf to root, the first frame that matches a pattern in PATTERNS
             (checked in that order, per frame) decides. libc and unknown frames match nothing
             and are walked past, so malloc/memcpy go to the stage that called them. tokio
             samples are split by the nearest frame of ours further from the leaf: none (the
             worker's scheduler, park, I/O driver), the read loop, the reply path, other.
  libc       nothing matched and the leaf is in libc (malloc/free, syscall stubs): libc has no
             frame pointers, so its caller is lost -> libc, caller unknown.
  none       nothing matched -> other: unattributed.

Ambiguities, decided by order: XDR encode/decode inside dispatch count as reply encode / frame
decode (they are innermost); `rvirtd::accept_unix` is the per-connection task into which
serve_split/read_loop are inlined, so its own samples count as frame read; space commit after
a call returns is host call path (the plugin did not call it).

µs/op: perf's own sampling inflates the daemon's CPU (2-3x at this rate, more in the kernel),
so shares are turned into time with the daemon's CPU per op measured WITHOUT perf, user and
system apart: a row's user-space samples are scaled by --user-us, its kernel samples by
--sys-us (each over all samples of that kind). The sample split matches /proc's utime/stime
split under perf, which is the check that the two can be combined.
"""
import argparse
import collections
import re
import sys

# Entry points only: socket buffers allocate and free pages too, and stay socket I/O.
KERNEL_MEM = re.compile(r"^(asm_)?exc_page_fault$|^__x64_sys_(madvise|mmap|munmap|mprotect|mremap"
                        r"|brk)$")

# (stage, pattern) checked in this order against each frame, leaf to root. Trait impls are
# matched on their self type: `<A as B>::f` is tried as `<A>::f` (so `<DomainRef as Xdr>::encode`
# is reply encode, `<PluginConnection as virt_core::driver::Connection>::f` is virt-host).
PATTERNS = [
    ("reply write", r"virt_rpc::server::write_loop|virt_rpc::server::ClientShared>?::send"),
    ("reply encode", r"virt_rpc::server::(reply_frame|error_frame)|virt_rpc::frame::encode_frame"
                     r"|virt_rpc::xdr::to_bytes|>::encode$"),
    ("frame read & XDR decode", r"virt_rpc::xdr|virt_rpc::server::dispatch::decode_args"
                                r"|>::decode$|virt_rpc::frame"),
    ("host call path into the plugin", r"virt_host::|wasmtime|cranelift|trampoline"),
    ("virt-core facade", r"virt_core::"),
    ("dispatch", r"virt_rpc::server::dispatch|virt_rpc::server::stream|virt_rpc::protocol"
                 r"|virt_rpc::procedure_table"),
    ("frame read & XDR decode", r"virt_rpc::|rvirtd::accept_unix"),
    ("tokio runtime", r"tokio::|mio::|parking_lot|std::thread|std::sys::sync"),
]
PATTERNS = [(stage, re.compile(pattern)) for stage, pattern in PATTERNS]
HOST_CALL = re.compile(r"virt_host::(host_calls|space|ctx|resources|outbound)"
                       r"|wasmtime::runtime::component::func::host")

# Wasm sub-stages, on the mangled names (legacy `_ZN8virt_xml...` and v0 `_RNv...4core...`).
WASM_ALLOC = re.compile(r"dlmalloc|dlfree|^malloc$|^free$|realloc|calloc|memcpy|memmove|memset"
                        r"|memcmp|__rust_alloc|__rust_dealloc|__rdl_|raw_vec|RawVec")
WASM_CRATES = [
    ("virt_xml clone/drop of the typed model",
     re.compile(r"virt_xml.*[Cc]lone|drop_in_place.*virt_xml")),
    ("virt_xml format", re.compile(r"virt_xml.*([Ww]riter?|escape|format|to_xml)")),
    ("virt_xml parse", re.compile(r"virt_xml.*(parse|[Rr]eader|from_xml|tree|read_)|quick_xml")),
    ("virt_xml other (validation, lookups)", re.compile(r"virt_xml")),
    ("postcard/serde", re.compile(r"postcard|serde")),
]
STAGES = [
    "kernel: socket I/O & wakeups", "kernel: memory (faults, madvise, mmap)", "tokio runtime",
    "frame read & XDR decode", "dispatch", "virt-core facade", "host call path into the plugin",
    "plugin wasm code", "host calls made by the plugin", "reply encode", "reply write",
    "libc, caller unknown", "other: epoch ticker", "other: unattributed",
]

SYSCALL = re.compile(r"__(x64|do)_sys_(\w+)")
FRAME = re.compile(r"^\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)$")
AS_TRAIT = re.compile(r" as [^<>]*(<[^<>]*>)*[^<>]*>")


def samples(lines):
    """Yields (comm, frames leaf first) per sample; a frame is (symbol, dso)."""
    comm, frames = None, []
    for line in lines:
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
        elif not line[0].isspace():
            comm = line.split(None, 1)[0]
        else:
            match = FRAME.match(line)
            if match:
                symbol = re.sub(r"\+0x[0-9a-f]+$", "", match.group(2))
                frames.append((symbol, match.group(3)))
    if comm is not None:
        yield comm, frames


def is_wasm(symbol, dso):
    return symbol.startswith("wasm[") or dso.endswith(".cwasm")


def is_wasm_function(symbol, dso):
    """Plugin code proper; the cwasm's trampolines are wasmtime's entry and exit."""
    return is_wasm(symbol, dso) and "::function[" in symbol


def wasm_sub_stage(wasm_frames):
    if WASM_ALLOC.search(wasm_frames[0]):
        return "alloc/memcpy"
    for symbol in wasm_frames:
        for stage, pattern in WASM_CRATES:
            if pattern.search(symbol):
                return stage
    return "driver logic"


def tokio_sub_stage(frames):
    """Whose tokio time: the worker's own loop, or a task of ours (nearest frame of ours)."""
    ours = next((s for s, _ in frames if re.search(r"virt_|rvirtd::", s)), "")
    if not ours:
        return "worker: scheduler, park, I/O driver"
    if re.search(r"write_loop|ClientShared>?::send", ours):
        return "in the reply path (mpsc, writes)"
    if re.search(r"accept_unix|read_loop|handle_frame|FrameBuffer", ours):
        return "in the read loop (select!, timers, watch)"
    return "in other tasks of ours"


def classify(comm, frames):
    """(stage, sub-stage or None, rule) for one sample."""
    if comm == "wasm-epoch":
        return "other: epoch ticker", None, "thread"
    if not frames:
        return "other: unattributed", None, "none"
    leaf, leaf_dso = frames[0]
    if leaf_dso == "[kernel.kallsyms]":
        if any(KERNEL_MEM.search(symbol) for symbol, dso in frames if dso == "[kernel.kallsyms]"):
            return "kernel: memory (faults, madvise, mmap)", None, "kernel"
        syscall = next((m.group(2) for m in map(SYSCALL.match, (s for s, _ in frames)) if m), None)
        sub = "syscall " + syscall if syscall else "no syscall (irq, softirq)"
        return "kernel: socket I/O & wakeups", sub, "kernel"
    wasm_at = next((i for i, (s, d) in enumerate(frames) if is_wasm_function(s, d)), None)
    if wasm_at == 0:
        wasm_frames = [s for s, d in frames if is_wasm_function(s, d)]
        return "plugin wasm code", "wasm: " + wasm_sub_stage(wasm_frames), "wasm-leaf"
    if wasm_at is not None:
        if any(HOST_CALL.search(symbol) for symbol, _ in frames[:wasm_at]):
            return "host calls made by the plugin", None, "wasm-callee, a host call"
        return "host call path into the plugin", None, "wasm-callee, wasmtime runtime"
    for symbol, _ in frames:
        owner = AS_TRAIT.sub(">", symbol)
        for stage, pattern in PATTERNS:
            match = pattern.search(owner)
            if match:
                sub = tokio_sub_stage(frames) if stage == "tokio runtime" else None
                return stage, sub, "innermost " + match.group(0)
    if "libc.so" in leaf_dso:
        return "libc, caller unknown", None, "libc"
    return "other: unattributed", None, "none"


def demangle(symbol):
    """Readable wasm names: `wasm[0]::function[3]::_ZN8virt_xml3xml...E` -> virt_xml::xml::..."""
    match = re.search(r"_ZN(.*?)(17h[0-9a-f]{16})?E?$", symbol)
    if not match:
        return symbol
    parts, rest = [], match.group(1)
    while rest and rest[0].isdigit():
        digits = re.match(r"\d+", rest).group()
        parts.append(rest[len(digits):len(digits) + int(digits)])
        rest = rest[len(digits) + int(digits):]
    name = "::".join(parts) or symbol
    for code, text in (("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$RF$", "&"),
                       ("$C$", ","), ("$u7b$", "{"), ("$u7d$", "}"), ("$u5b$", "["),
                       ("$u5d$", "]"), ("$u3b$", ";"), ("$BP$", "*"), ("..", "::")):
        name = name.replace(code, text)
    # Names in the cwasm are cut short: drop a partial hash, and `_` before a leading `<`.
    name = re.sub(r"::h[0-9a-f]*$", "", name).replace("::_<", "::<")
    return "wasm:" + re.sub(r"^_<", "<", name)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file", nargs="?", help="perf script output (default stdin)")
    parser.add_argument("--user-us", type=float, default=0.0,
                        help="server user CPU per op (without perf), to turn shares into µs/op")
    parser.add_argument("--sys-us", type=float, default=0.0,
                        help="server system CPU per op (without perf)")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    source = open(args.file, errors="replace") if args.file else sys.stdin
    stage_count, sub_count = collections.Counter(), collections.Counter()  # sub: (stage, sub)
    rules, leaves = collections.Counter(), collections.Counter()
    kernel_count = collections.Counter()  # per row name, the samples whose leaf is the kernel
    total = 0
    for comm, frames in samples(source):
        stage, sub, rule = classify(comm, frames)
        leaf = frames[0] if frames else ("[no stack]", "")
        in_kernel = leaf[1] == "[kernel.kallsyms]"
        total += 1
        stage_count[stage] += 1
        kernel_count[stage] += in_kernel
        rules[(stage, rule)] += 1
        if sub:
            sub_count[(stage, sub)] += 1
            kernel_count[(stage, sub)] += in_kernel
        leaves[(leaf[0], leaf[1], stage)] += 1
    if not total:
        sys.exit("profile_stages: no samples in the input")

    kernel_total = sum(kernel_count[stage] for stage in stage_count)
    user_rate = args.user_us / max(total - kernel_total, 1)
    sys_rate = args.sys_us / max(kernel_total, 1)

    def row(name, count, key=None):
        kernel = kernel_count[key or name]
        per_op = (count - kernel) * user_rate + kernel * sys_rate
        print("%-46s %8d %6.1f%% %8s" % (name, count, count / total * 100,
                                         "%.1f" % per_op if args.user_us + args.sys_us else "-"))

    print("%-46s %8s %7s %8s" % ("stage (path order)", "samples", "share", "µs/op"))
    for stage in STAGES:
        if stage_count[stage]:
            row(stage, stage_count[stage])
        for (parent, sub), count in sorted(sub_count.items(), key=lambda item: -item[1]):
            if parent == stage:
                row("  " + sub, count, (parent, sub))
    kernel_count["total"] = kernel_total
    row("total", total)
    print("(samples in the kernel: %.1f%%)" % (kernel_total / total * 100))

    print("\ndecided by (rule: samples)")
    for (stage, rule), count in sorted(rules.items(), key=lambda item: -item[1]):
        print("  %-36s %-44s %7d" % (stage, rule[:44], count))

    # The kernel's leaves are mostly where interrupts are re-enabled (cpu-clock samples land
    # there), so the user-space list is the one that names code.
    user_leaves = collections.Counter({key: count for key, count in leaves.items()
                                       if key[1] != "[kernel.kallsyms]"})
    for title, counter in (("", leaves), (" outside the kernel", user_leaves)):
        print("\ntop %d leaf symbols%s" % (args.top, title))
        for (symbol, _, stage), count in counter.most_common(args.top):
            print("  %5.1f%%  %-70s %s" % (count / total * 100, demangle(symbol)[:70], stage))
    return 0


if __name__ == "__main__":
    sys.exit(main())
