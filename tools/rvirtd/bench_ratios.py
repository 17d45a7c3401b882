#!/usr/bin/python3
"""bench_ratios.py FILE.jsonl — rvirtd/libvirtd ratio of median ops/s per op, per client.

Reads the api_bench lines bench.sh writes: python3-libvirt runs labelled rvirtd / libvirtd,
rpc_bench (virt-rpc client, "client": "virt-rpc") runs labelled rvirtd-rpc / libvirtd-rpc.
A ratio above 1 means rvirtd is faster. Comparing one daemon's column across clients shows
the client's share of the time. Runs labelled inproc (python3-libvirt against the in-process
`test:///default`, no daemon) are the client floor: each python rvirtd figure is also printed
as a share of it.
"""
import json
import statistics
import sys
from collections import defaultdict

runs = defaultdict(list)  # (client, daemon) -> results of each run
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    if r.get("bench") != "api_bench":
        continue
    client = r.get("client", "python3-libvirt")
    daemon = r.get("label", "").removesuffix("-rpc")
    runs[(client, daemon)].append(r["results"])

clients = [c for c in ("python3-libvirt", "virt-rpc") if (c, "rvirtd") in runs and (c, "libvirtd") in runs]
if not clients:
    sys.exit("bench_ratios: no rvirtd and libvirtd runs of one client in " + sys.argv[1])


def median(client, daemon, op, field="ops_per_s"):
    v = [res[op][field] for res in runs[(client, daemon)] if op in res]
    return statistics.median(v) if v else None


ops = list(runs[(clients[0], "rvirtd")][0])
print("median ops/s (runs: %s); ratio = rvirtd / libvirtd" % ", ".join(
    "%s %d+%d" % (c, len(runs[(c, "rvirtd")]), len(runs[(c, "libvirtd")])) for c in clients))
print("%-18s" % "" + "".join("  %-30s" % ("-- %s --" % c) for c in clients))
print("%-18s" % "op" + "  %10s %10s %8s" % ("rvirtd", "libvirtd", "ratio") * len(clients))
for op in ops:
    row = "%-18s" % op
    for c in clients:
        rv, lv = median(c, "rvirtd", op), median(c, "libvirtd", op)
        ratio = "%.2fx" % (rv / lv) if rv and lv else "n/a"
        row += "  %10.1f %10.1f %8s" % (rv or 0, lv or 0, ratio)
    print(row)

print()
print("median p99 latency, us (lower is better)")
print("%-18s" % "" + "".join("  %-20s" % ("-- %s --" % c) for c in clients))
print("%-18s" % "op" + "  %9s %10s" % ("rvirtd", "libvirtd") * len(clients))
for op in ops:
    row = "%-18s" % op
    for c in clients:
        rv, lv = median(c, "rvirtd", op, "p99_us"), median(c, "libvirtd", op, "p99_us")
        row += "  %9.1f %10.1f" % (rv or 0, lv or 0)
    print(row)

floor = ("python3-libvirt", "inproc")
if floor in runs and ("python3-libvirt", "rvirtd") in runs:
    print()
    print("python3-libvirt client floor: in-process test:///default (%d runs); "
          "rvirtd through the socket as %% of it" % len(runs[floor]))
    print("%-18s  %12s %12s %8s" % ("op", "inproc", "rvirtd", "share"))
    for op in ops:
        fl, rv = median(*floor, op), median("python3-libvirt", "rvirtd", op)
        share = "%.0f%%" % (100 * rv / fl) if rv and fl else "n/a"
        print("%-18s  %12.1f %12.1f %8s" % (op, fl or 0, rv or 0, share))
