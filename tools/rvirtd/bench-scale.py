#!/usr/bin/python3
"""bench-scale.py — libvirt's test driver at scale, through the real python3-libvirt binding
(run with /usr/bin/python3), against one daemon per run (rvirtd or libvirtd 9.0).

    bench-scale.py URI --pid PID [--label L] [--json-out FILE] [-n 10000] [--running 200]
                   [--subscribers 100] [--procs 4] [--idle-conns 100] [--lookups 5000]
    bench-scale.py --table FILE.jsonl      # rvirtd vs libvirtd, medians per figure
    bench-scale.py URI --stall-test [--stall 15] [--stall-events 10000]
                                           # does a subscriber that stops reading lose events?
    (bench-scale.py --subscriber URI ...   # internal: one event-subscriber process)

One run, on a daemon whose test:///default holds only its own default domain:
  1. VmRSS of PID (/proc/PID/status) before anything is defined;
  2. define N domains (api_bench's fixture; defines/s), VmRSS → KiB per domain;
  3. start R of them (starts/s), VmRSS → KiB per running domain;
  4. open C extra idle connections (each answers one getVersion), VmRSS → KiB per connection;
     close them;
  5. listAllDomains(0) and listAllDomains(ACTIVE): latency p50/p99, ops/s;
  6. lookupByName and lookupByUUIDString of random domains: ops/s, p50/p99;
  7. event fan-out: S connections spread over P subscriber processes, each process running
     libvirt's default event loop (virEventRegisterDefaultImpl + a thread looping
     virEventRunDefaultImpl) and every connection registered for lifecycle events. The main
     connection then (a) creates and destroys domains one at a time, 20 ms apart ("paced":
     the latency of one event reaching S subscribers), (b) at a fixed rate of calls, the same
     for every daemon ("rated", --rate, default 300/s: latency under one offered load), and
     (c) back to back ("burst": events/s delivered; a faster daemon offers more load to
     the subscribers, so its latencies there include their queueing). Latency is the time
     from the call's start (perf_counter, which is CLOCK_MONOTONIC and so shared by the
     processes of this machine) to the subscriber's callback. Every subscriber must see every
     event; missing ones are counted and shown. The daemon's CPU time over the phase
     (/proc/PID/stat), per delivery, is its cost of fanning out.
  8. destroy and undefine everything (undefines/s), VmRSS at the end.
For rvirtd, /proc/PID/smaps splits the RSS: the accessible pages of wasmtime's linear-memory
reservations (the plugins' instances) against the rest, the host (the space's records,
connections, compiled code).

Every loop is bounded, each subscriber process has a deadline, and the domains this run
defined are undefined even when a step fails.
"""
import argparse
import json
import os
import random
import select
import statistics
import subprocess
import sys
import threading
import time
import uuid

import libvirt

LIFECYCLE = libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE
STARTED = libvirt.VIR_DOMAIN_EVENT_STARTED
STOPPED = libvirt.VIR_DOMAIN_EVENT_STOPPED


def dom_xml(name, uid):
    # ../shared/bench/api_bench.py's dom_xml, with the UUID chosen by the caller.
    return ("<domain type='test'><name>%s</name><uuid>%s</uuid>"
            "<memory unit='KiB'>131072</memory><currentMemory unit='KiB'>131072</currentMemory>"
            "<vcpu placement='static'>1</vcpu><os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>"
            "<on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>"
            "<devices/></domain>") % (name, uid)


def pct(sorted_vals, p):
    if not sorted_vals:
        return 0.0
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def summarize(lat_ns, wall_s=None):
    s = sorted(lat_ns)
    total = sum(s) / 1e9
    ops = len(s) / (wall_s if wall_s else total) if s and (wall_s or total) else 0.0
    return {
        "count": len(s),
        "ops_per_s": round(ops, 1),
        "p50_us": round(pct(s, 50) / 1000.0, 1),
        "p99_us": round(pct(s, 99) / 1000.0, 1),
        "max_us": round(s[-1] / 1000.0, 1) if s else 0.0,
    }


def timed(fn, n):
    lat = []
    pc = time.perf_counter_ns
    for i in range(n):
        t0 = pc()
        fn(i)
        lat.append(pc() - t0)
    return lat


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def wasm_rss_kib(pid):
    """RSS of wasmtime's linear memories. Each is a reservation laid out as a guard (---p),
    the accessible pages (rw-p: anonymous, and the module's data image mapped copy-on-write
    from its .cwasm file), then the rest of the 4 GiB and the trailing guard (---p, over
    1 GiB): sum the rw-p pieces just before each such trailing guard."""
    maps = []  # [start, end, perms, path, rss_kib]
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                fields = line.split()
                if not fields:
                    continue
                if "-" in fields[0] and not fields[0].endswith(":"):
                    lo, hi = (int(x, 16) for x in fields[0].split("-"))
                    maps.append([lo, hi, fields[1], fields[5] if len(fields) > 5 else "", 0])
                elif fields[0] == "Rss:" and maps:
                    maps[-1][4] += int(fields[1])
    except OSError:
        return None
    total = 0
    for i, (lo, hi, perms, path, _) in enumerate(maps):
        if perms != "---p" or path or hi - lo < (1 << 30):
            continue
        j, start = i - 1, lo
        while (j >= 0 and maps[j][1] == start and maps[j][2] == "rw-p"
               and (not maps[j][3] or maps[j][3].endswith(".cwasm"))):
            total += maps[j][4]
            start = maps[j][0]
            j -= 1
    return total


def cpu_s(pid):
    """User + system CPU seconds the process has used (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory(pid, settle=0.5):
    time.sleep(settle)
    return {"rss_kib": rss_kib(pid), "wasm_rss_kib": wasm_rss_kib(pid)}


# ---------------------------------------------------------------------------------------
# Subscriber process.


def subscriber(a):
    libvirt.registerErrorHandler(lambda *x: None, None)
    libvirt.virEventRegisterDefaultImpl()

    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, daemon=True).start()

    got = []  # (connection index, name, event, perf_counter) appended by the loop thread
    counts = [0] * a.conns
    prefix = a.prefix

    def cb(conn, dom, event, detail, ci):
        name = dom.name()
        if name.startswith(prefix):
            got.append((ci, name, event, time.perf_counter()))
            counts[ci] += 1

    conns = []
    for ci in range(a.conns):
        c = libvirt.open(a.uri)
        c.domainEventRegisterAny(None, LIFECYCLE, cb, ci)
        conns.append(c)
    # One round trip on each, so that registration is complete everywhere.
    for c in conns:
        c.getVersion()
    print("ready", flush=True)

    line = sys.stdin.readline().split()  # "expect N": events each connection should see
    expect = int(line[1]) if len(line) == 2 and line[0] == "expect" else 0
    deadline = time.monotonic() + a.timeout
    last, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = len(got)
        if min(counts) >= expect:
            break
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > a.quiet:
            break  # nothing new for a while: what is missing is missing
        time.sleep(0.01)
    out = {"events": list(got), "counts": list(counts)}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    for c in conns:
        try:
            c.close()
        except libvirt.libvirtError:
            pass
    os._exit(0)


# ---------------------------------------------------------------------------------------
# Event fan-out, driven from the main connection.


def fanout(a, conn, tag, targets):
    """targets: inactive domains to create/destroy. Returns the figures."""
    procs = []
    per = [a.subscribers // a.procs + (1 if i < a.subscribers % a.procs else 0) for i in range(a.procs)]
    per = [n for n in per if n > 0]
    res = {}
    try:
        for n in per:
            procs.append(subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--subscriber", a.uri,
                 "--conns", str(n), "--prefix", tag, "--timeout", "120", "--quiet", "10"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        t_setup = time.perf_counter()
        deadline = time.monotonic() + 120
        waiting = {p.stdout.fileno(): p for p in procs}
        while waiting and time.monotonic() < deadline:
            r, _, _ = select.select(list(waiting), [], [], 1.0)
            for fd in r:
                line = waiting[fd].stdout.readline()
                if line.strip() != "ready":
                    raise RuntimeError("subscriber failed to start (%r)" % line)
                del waiting[fd]
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError("subscriber exited with %s" % p.returncode)
        if waiting:
            raise RuntimeError("%d subscriber processes not ready after 120 s" % len(waiting))
        res["subscribe_s"] = round(time.perf_counter() - t_setup, 2)

        cpu0 = cpu_s(a.pid)
        calls = {}  # (name, event) -> (phase, perf_counter at the call's start)
        pc = time.perf_counter
        paced = targets[:a.paced]
        rated = targets[a.paced:a.paced + a.rated]
        burst = targets[a.paced + a.rated:a.paced + a.rated + a.burst]
        for d in paced:
            t = pc()
            d.create()
            calls[(d.name(), STARTED)] = ("paced", t)
            time.sleep(0.02)
            t = pc()
            d.destroy()
            calls[(d.name(), STOPPED)] = ("paced", t)
            time.sleep(0.02)
        time.sleep(0.5)
        # The same offered load for both daemons: calls started at a fixed rate.
        t_rated = pc()
        k = 0
        for d in rated:
            for call, ev in ((d.create, STARTED), (d.destroy, STOPPED)):
                wait = t_rated + k / a.rate - pc()
                if wait > 0:
                    time.sleep(wait)
                t = pc()
                call()
                calls[(d.name(), ev)] = ("rated", t)
                k += 1
        time.sleep(0.5)
        t_burst = pc()
        for d in burst:
            t = pc()
            d.create()
            calls[(d.name(), STARTED)] = ("burst", t)
            t = pc()
            d.destroy()
            calls[(d.name(), STOPPED)] = ("burst", t)
        t_burst_calls = pc() - t_burst

        expect = len(calls)
        outs = []
        for p in procs:
            p.stdin.write("expect %d\n" % expect)
            p.stdin.flush()
        for p in procs:
            out, _ = p.communicate(timeout=180)
            outs.append(json.loads(out.strip().splitlines()[-1]))
        # The daemon's CPU for the calls and every delivery (and the subscribers' keepalives).
        cpu = cpu_s(a.pid) - cpu0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    lat = {"paced": [], "rated": [], "burst": []}
    last_recv = {"paced": 0.0, "rated": 0.0, "burst": 0.0}
    missing = []
    extra = 0
    sub = 0
    for out in outs:
        seen = [set() for _ in out["counts"]]
        for ci, name, ev, t in out["events"]:
            key = (name, ev)
            if key not in calls or key in seen[ci]:
                extra += 1
                continue
            seen[ci].add(key)
            phase, t0 = calls[key]
            lat[phase].append(int((t - t0) * 1e9))
            last_recv[phase] = max(last_recv[phase], t)
        for s in seen:
            for key in calls:
                if key not in s:
                    missing.append((sub, key[0], key[1]))
            sub += 1
    res["subscribers"] = sub
    res["daemon_cpu_s"] = round(cpu, 2)
    delivered = sum(len(v) for v in lat.values())
    if delivered:
        res["daemon_cpu_us_per_delivery"] = round(cpu / delivered * 1e6, 2)
    res["events_per_subscriber"] = expect
    res["deliveries_expected"] = expect * sub
    res["missing"] = len(missing)
    res["missing_examples"] = [list(m) for m in missing[:5]]
    res["unexpected"] = extra
    for phase in ("paced", "rated", "burst"):
        s = summarize(lat[phase])
        del s["ops_per_s"]
        res[phase + "_latency"] = s
    n_burst = len(lat["burst"])
    if n_burst and last_recv["burst"] > t_burst:
        res["burst_deliveries_per_s"] = round(n_burst / (last_recv["burst"] - t_burst), 1)
    res["rate_calls_per_s"] = a.rate
    if lat["rated"] and last_recv["rated"] > t_rated:
        res["rated_deliveries_per_s"] = round(len(lat["rated"]) / (last_recv["rated"] - t_rated), 1)
    res["burst_calls"] = 2 * len(burst)
    res["burst_calls_per_s"] = round(2 * len(burst) / t_burst_calls, 1) if t_burst_calls else 0.0
    return res


# ---------------------------------------------------------------------------------------
# A subscriber that stops reading (--stall-test).


def stall_subscriber(a):
    libvirt.registerErrorHandler(lambda *x: None, None)
    libvirt.virEventRegisterDefaultImpl()

    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=loop, daemon=True).start()
    got = []

    def cb(conn, dom, event, detail, opaque):
        if dom.name().startswith(a.prefix):
            if not got:
                time.sleep(a.stall)  # the event loop, and so the socket, stops here
            got.append(event)
    c = libvirt.open(a.uri)
    c.domainEventRegisterAny(None, LIFECYCLE, cb, None)
    c.getVersion()
    print("ready", flush=True)
    line = sys.stdin.readline().split()
    expect = int(line[1]) if len(line) == 2 and line[0] == "expect" else 0
    deadline = time.monotonic() + a.stall + a.timeout
    last, last_change = -1, time.monotonic()
    while time.monotonic() < deadline and len(got) < expect:
        if len(got) != last:
            last, last_change = len(got), time.monotonic()
        elif time.monotonic() - last_change > a.stall + a.quiet:
            break
        time.sleep(0.05)
    sys.stdout.write(json.dumps({"got": len(got)}) + "\n")
    sys.stdout.flush()
    os._exit(0)


def stall_test(a):
    """One subscriber stalls its event loop for --stall s on the first event while the main
    connection creates and destroys one domain --stall-events/2 times: how many arrive."""
    libvirt.registerErrorHandler(lambda *x: None, None)
    conn = libvirt.open(a.uri)
    tag = "st%s" % uuid.uuid4().hex[:6]
    d = conn.defineXML(dom_xml(tag, uuid.uuid4()))
    p = None
    try:
        p = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--stall-subscriber", a.uri, "--prefix", tag,
             "--stall", str(a.stall), "--timeout", "120", "--quiet", "10"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        r, _, _ = select.select([p.stdout], [], [], 60)
        if not r or p.stdout.readline().strip() != "ready":
            raise RuntimeError("stalling subscriber did not start")
        pairs = a.stall_events // 2
        t0 = time.perf_counter()
        for _ in range(pairs):
            d.create()
            d.destroy()
        took = time.perf_counter() - t0
        p.stdin.write("expect %d\n" % (2 * pairs))
        p.stdin.flush()
        out, _ = p.communicate(timeout=a.stall + 200)
        got = json.loads(out.strip().splitlines()[-1])["got"]
    finally:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
        d.undefine()
        conn.close()
    print("[%s] stall test: %d events in %.1f s to a subscriber stalled %g s: %d delivered, %d lost"
          % (a.label, 2 * pairs, took, a.stall, got, 2 * pairs - got))
    return 0 if got == 2 * pairs else 2


# ---------------------------------------------------------------------------------------
# The run.


def run(a):
    libvirt.registerErrorHandler(lambda *x: None, None)
    conn = libvirt.open(a.uri)  # kept open throughout: the test driver's state lives with it
    for _ in range(50):
        conn.getVersion()
    rng = random.Random(a.seed)
    tag = "sc%s" % uuid.uuid4().hex[:6]
    names = ["%s-%05d" % (tag, i) for i in range(a.n)]
    uuids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(a.n)]
    xmls = [dom_xml(nm, u) for nm, u in zip(names, uuids)]
    pre = len(conn.listAllDomains(0))
    res = {}
    mem = {}
    doms = []
    started = []
    mem["before"] = memory(a.pid)
    print("[%s] %d domains before; defining %d" % (a.label, pre, a.n), flush=True)
    try:
        t0 = time.perf_counter()
        res["define"] = summarize(timed(lambda i: doms.append(conn.defineXML(xmls[i])), a.n))
        res["define"]["wall_s"] = round(time.perf_counter() - t0, 2)
        mem["defined"] = memory(a.pid)

        # Start every (n/running)-th domain.
        step = max(1, a.n // max(1, a.running))
        started = [doms[i] for i in range(0, a.n, step)][:a.running]
        res["start"] = summarize(timed(lambda i: started[i].create(), len(started)))
        mem["started"] = memory(a.pid)

        idle = []
        t0 = time.perf_counter()
        try:
            for _ in range(a.idle_conns):
                c = libvirt.open(a.uri)
                c.getVersion()
                idle.append(c)
            res["open_conns_s"] = round(time.perf_counter() - t0, 3)
            mem["idle_conns"] = memory(a.pid, settle=1.0)
        finally:
            for c in idle:
                c.close()

        total = len(conn.listAllDomains(0))
        active = len(conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE))
        res["list_all"] = summarize(timed(lambda i: conn.listAllDomains(0), a.list_iters))
        res["list_all"]["domains"] = total
        res["list_active"] = summarize(timed(
            lambda i: conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE), a.list_iters * 5))
        res["list_active"]["domains"] = active
        if total != pre + a.n or active < len(started):
            raise RuntimeError("listAllDomains: %d domains (%d active), expected %d (≥%d active)"
                               % (total, active, pre + a.n, len(started)))

        picks = [rng.randrange(a.n) for _ in range(a.lookups)]

        def by_name(i):
            if conn.lookupByName(names[picks[i]]) is None:
                raise RuntimeError("lookupByName")

        def by_uuid(i):
            if conn.lookupByUUIDString(uuids[picks[i]]) is None:
                raise RuntimeError("lookupByUUIDString")
        res["lookup_name"] = summarize(timed(by_name, a.lookups))
        res["lookup_uuid"] = summarize(timed(by_uuid, a.lookups))

        running = set(id(d) for d in started)
        inactive = [d for d in doms if id(d) not in running]
        rng.shuffle(inactive)
        res["events"] = fanout(a, conn, tag, inactive[:a.paced + a.rated + a.burst])
        mem["after_events"] = memory(a.pid)
    finally:
        failures = []

        def und(i):
            d = doms[i]
            try:
                if d.isActive():
                    d.destroy()
                d.undefine()
            except libvirt.libvirtError as e:
                failures.append(d.name())
                if len(failures) <= 5:
                    print("[%s] cleanup %s: %s" % (a.label, d.name(), e), file=sys.stderr)
        res["undefine"] = summarize(timed(und, len(doms)))
        if failures:
            print("[%s] %d domains could not be undefined" % (a.label, len(failures)), file=sys.stderr)
        mem["undefined"] = memory(a.pid)
        try:
            left = [d.name() for d in conn.listAllDomains(0) if d.name().startswith(tag)]
        except libvirt.libvirtError as e:
            left = ["(cannot list: %s)" % e]
        if left:
            print("[%s] %d domains left after cleanup" % (a.label, len(left)), file=sys.stderr)
        out = {
            "bench": "bench_scale",
            "label": a.label,
            "uri": a.uri,
            "driver_type": conn.getType(),
            "lib_version": conn.getLibVersion(),
            "n": a.n,
            "running": len(started),
            "idle_conns": a.idle_conns,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "results": res,
            "memory": mem,
        }
        conn.close()
    d = derived(out)
    out["derived"] = d
    report(out)
    if a.json_out:
        with open(a.json_out, "a") as f:
            f.write(json.dumps(out) + "\n")
    return 0 if out["results"]["events"]["missing"] == 0 else 2


def derived(out):
    m, r = out["memory"], out["results"]
    d = {}
    d["rss_before_kib"] = m["before"]["rss_kib"]
    d["rss_defined_kib"] = m["defined"]["rss_kib"]
    d["kib_per_domain"] = round((m["defined"]["rss_kib"] - m["before"]["rss_kib"]) / out["n"], 2)
    if all(m[k].get("wasm_rss_kib") is not None for k in ("before", "defined", "started", "idle_conns")):
        # rvirtd: how much of each step's growth is the test plugin's wasm linear memory.
        d["wasm_kib_per_domain"] = round(
            (m["defined"]["wasm_rss_kib"] - m["before"]["wasm_rss_kib"]) / out["n"], 2)
        if out["running"]:
            d["wasm_kib_per_running"] = round(
                (m["started"]["wasm_rss_kib"] - m["defined"]["wasm_rss_kib"]) / out["running"], 2)
        if out["idle_conns"]:
            d["wasm_kib_per_conn"] = round(
                (m["idle_conns"]["wasm_rss_kib"] - m["started"]["wasm_rss_kib"]) / out["idle_conns"], 2)
    if out["running"]:
        d["kib_per_running"] = round(
            (m["started"]["rss_kib"] - m["defined"]["rss_kib"]) / out["running"], 2)
    d["rss_started_kib"] = m["started"]["rss_kib"]
    if out["idle_conns"]:
        d["kib_per_conn"] = round(
            (m["idle_conns"]["rss_kib"] - m["started"]["rss_kib"]) / out["idle_conns"], 2)
    d["rss_idle_conns_kib"] = m["idle_conns"]["rss_kib"]
    return d


ROWS = [
    # (label, getter, unit, better)
    ("define ×N, ops/s", lambda o: o["results"]["define"]["ops_per_s"], "", "hi"),
    ("start ×R, ops/s", lambda o: o["results"]["start"]["ops_per_s"], "", "hi"),
    ("listAllDomains(all), ops/s", lambda o: o["results"]["list_all"]["ops_per_s"], "", "hi"),
    ("listAllDomains(all), p99 ms", lambda o: o["results"]["list_all"]["p99_us"] / 1000, "", "lo"),
    ("listAllDomains(active), ops/s", lambda o: o["results"]["list_active"]["ops_per_s"], "", "hi"),
    ("listAllDomains(active), p99 µs", lambda o: o["results"]["list_active"]["p99_us"], "", "lo"),
    ("lookupByName, ops/s", lambda o: o["results"]["lookup_name"]["ops_per_s"], "", "hi"),
    ("lookupByName, p50 / p99 µs", lambda o: (o["results"]["lookup_name"]["p50_us"],
                                              o["results"]["lookup_name"]["p99_us"]), "", "lo"),
    ("lookupByUUIDString, ops/s", lambda o: o["results"]["lookup_uuid"]["ops_per_s"], "", "hi"),
    ("lookupByUUIDString, p50 / p99 µs", lambda o: (o["results"]["lookup_uuid"]["p50_us"],
                                                    o["results"]["lookup_uuid"]["p99_us"]), "", "lo"),
    ("event, paced: p50 / p99 / max ms", lambda o: tuple(
        o["results"]["events"]["paced_latency"][k] / 1000 for k in ("p50_us", "p99_us", "max_us")), "", "lo"),
    ("event, rated: p50 / p99 / max ms", lambda o: tuple(
        o["results"]["events"]["rated_latency"][k] / 1000 for k in ("p50_us", "p99_us", "max_us")), "", "lo"),
    ("event, burst: p50 / p99 / max ms", lambda o: tuple(
        o["results"]["events"]["burst_latency"][k] / 1000 for k in ("p50_us", "p99_us", "max_us")), "", "lo"),
    ("event, burst: deliveries/s", lambda o: o["results"]["events"].get("burst_deliveries_per_s", 0), "", "hi"),
    ("event, burst: driver calls/s", lambda o: o["results"]["events"]["burst_calls_per_s"], "", "hi"),
    ("event fan-out: daemon CPU µs per delivery", lambda o: o["results"]["events"]["daemon_cpu_us_per_delivery"], "", "lo"),
    ("events missing (of expected)", lambda o: o["results"]["events"]["missing"], "", "lo"),
    ("undefine ×N, ops/s", lambda o: o["results"]["undefine"]["ops_per_s"], "", "hi"),
    ("RSS before, MiB", lambda o: o["derived"]["rss_before_kib"] / 1024, "", "lo"),
    ("RSS with N defined, MiB", lambda o: o["derived"]["rss_defined_kib"] / 1024, "", "lo"),
    ("KiB per defined domain", lambda o: o["derived"]["kib_per_domain"], "", "lo"),
    ("KiB per running domain (extra)", lambda o: o["derived"].get("kib_per_running", 0), "", "lo"),
    ("KiB per idle connection", lambda o: o["derived"].get("kib_per_conn", 0), "", "lo"),
    ("RSS at the end (all undefined), MiB", lambda o: o["memory"]["undefined"]["rss_kib"] / 1024, "", "lo"),
]


def fmt(v):
    if isinstance(v, tuple):
        return " / ".join(fmt(x) for x in v)
    if v is None:
        return "n/a"
    if isinstance(v, int):
        return "%d" % v
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def report(o):
    e = o["results"]["events"]
    print("[%s] %s: %d defined + %d running, %d idle conns, %d subscribers × %d events"
          % (o["label"], o["uri"], o["n"], o["running"], o["idle_conns"], e["subscribers"],
             e["events_per_subscriber"]))
    for label, get, _, _ in ROWS:
        try:
            v = get(o)
        except (KeyError, TypeError):
            v = None
        print("  %-38s %s" % (label, fmt(v)))
    w = o["memory"]
    if w["defined"].get("wasm_rss_kib"):
        print("  wasm linear memory RSS, MiB: before %.1f, defined %.1f, started %.1f, end %.1f"
              % tuple(w[k]["wasm_rss_kib"] / 1024 for k in ("before", "defined", "started", "undefined")))
    if e["missing"]:
        print("  MISSING events (subscriber, domain, event), first ones: %s" % e["missing_examples"])


def table(path):
    runs = {}
    for line in open(path):
        if line.startswith("{"):
            o = json.loads(line)
            if o.get("bench") == "bench_scale":
                runs.setdefault(o["label"], []).append(o)
    rv, lv = runs.get("rvirtd", []), runs.get("libvirtd", [])
    if not rv or not lv:
        sys.exit("bench-scale: no rvirtd and libvirtd runs in " + path)
    o0 = rv[0]
    print("bench-scale: %d defined test-driver domains, %d running, %d idle connections, "
          "%d subscribers; medians of %d rvirtd and %d libvirtd runs"
          % (o0["n"], o0["running"], o0["idle_conns"], o0["results"]["events"]["subscribers"],
             len(rv), len(lv)))
    print("events: %d per subscriber; rated phase at %s calls/s"
          % (o0["results"]["events"]["events_per_subscriber"], o0["results"]["events"].get("rate_calls_per_s")))
    print("ratio = rvirtd / libvirtd (↑: higher is better, ↓: lower is better)")
    print()
    print("| figure | rvirtd | libvirtd | ratio |")
    print("|---|---|---|---|")

    def med(rs, get):
        vals = []
        for o in rs:
            try:
                vals.append(get(o))
            except (KeyError, TypeError):
                pass
        if not vals:
            return None
        if isinstance(vals[0], tuple):
            return tuple(statistics.median(v[k] for v in vals) for k in range(len(vals[0])))
        if all(isinstance(v, int) for v in vals):
            return int(round(statistics.median(vals)))
        return statistics.median(vals)

    for label, get, _, better in ROWS:
        a, b = med(rv, get), med(lv, get)
        first = lambda v: v[0] if isinstance(v, tuple) else v
        ratio = ("%.2f× %s" % (first(a) / first(b), "↑" if better == "hi" else "↓")
                 if a is not None and b and first(b) else "")
        print("| %s | %s | %s | %s |" % (label, fmt(a), fmt(b), ratio))
    if all("wasm_kib_per_domain" in o["derived"] for o in rv):
        print()
        print("rvirtd, wasm linear memory (the test plugin's pooled instances) in each figure, "
              "the rest being host state:")
        for key, what in (("kib_per_domain", "KiB per defined domain"),
                          ("kib_per_running", "KiB per running domain"),
                          ("kib_per_conn", "KiB per idle connection")):
            tot = med(rv, lambda o: o["derived"][key])
            wasm = med(rv, lambda o: o["derived"]["wasm_" + key])
            if tot is not None and wasm is not None:
                print("  %s: %s, of which wasm %s" % (what, fmt(tot), fmt(wasm)))
        ends = [(o["memory"]["undefined"]["rss_kib"], o["memory"]["undefined"]["wasm_rss_kib"]) for o in rv]
        print("  RSS at the end: %s MiB, of which wasm %s MiB" % (
            fmt(statistics.median(e[0] for e in ends) / 1024), fmt(statistics.median(e[1] for e in ends) / 1024)))
    miss = {lab: [o["results"]["events"]["missing"] for o in rs] for lab, rs in runs.items()}
    print("events missing per run: %s" % ", ".join("%s %s" % (k, v) for k, v in miss.items()))


def main():
    ap = argparse.ArgumentParser(description="test-driver scale benchmark (python3-libvirt)")
    ap.add_argument("uri", nargs="?")
    ap.add_argument("--pid", type=int, help="the daemon's pid, for its VmRSS")
    ap.add_argument("--label", default="")
    ap.add_argument("--json-out")
    ap.add_argument("-n", type=int, default=10000, help="domains to define")
    ap.add_argument("--running", type=int, default=200, help="of them to start")
    ap.add_argument("--idle-conns", type=int, default=100)
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--procs", type=int, default=4, help="subscriber processes")
    ap.add_argument("--paced", type=int, default=50, help="paced create+destroy pairs")
    ap.add_argument("--rated", type=int, default=100, help="create+destroy pairs at --rate")
    ap.add_argument("--rate", type=float, default=300, help="calls/s of the rated phase")
    ap.add_argument("--burst", type=int, default=100, help="back-to-back create+destroy pairs")
    ap.add_argument("--lookups", type=int, default=5000)
    ap.add_argument("--list-iters", type=int, default=10)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--table", metavar="FILE")
    ap.add_argument("--stall-test", action="store_true",
                    help="only: one subscriber stops reading for --stall s while --stall-events go out")
    ap.add_argument("--stall", type=float, default=15)
    ap.add_argument("--stall-events", type=int, default=10000)
    ap.add_argument("--stall-subscriber", action="store_true", help=argparse.SUPPRESS)
    # Subscriber mode (internal).
    ap.add_argument("--subscriber", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--conns", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--prefix", default="", help=argparse.SUPPRESS)
    ap.add_argument("--timeout", type=float, default=120, help=argparse.SUPPRESS)
    ap.add_argument("--quiet", type=float, default=10, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.table:
        table(a.table)
        return 0
    if not a.uri:
        ap.error("URI is required")
    if a.subscriber:
        subscriber(a)
        return 0
    if a.stall_subscriber:
        stall_subscriber(a)
        return 0
    if a.stall_test:
        return stall_test(a)
    if not a.pid:
        ap.error("--pid is required")
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
