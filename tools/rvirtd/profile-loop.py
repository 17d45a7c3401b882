#!/usr/bin/python3
"""Drive one libvirt call in a loop against a daemon and report its cost per call.

    profile-loop.py URI OP [--seconds S | --count N] [--server-pid PID] [--wait-signal]

Used by profile.sh. The real python3-libvirt client, so that the bytes on the wire and the
client's share of each round trip are those of a real user. It defines its own domain, warms up
(plugin compilation, instance pool, caches), then runs OP for S seconds or N times and prints
wall, server CPU (and its user/system split) and client CPU per op. Server CPU is utime and
stime of --server-pid from /proc/PID/stat (every thread of the daemon, 10 ms ticks: over a
few seconds that is < 1 %).
With --wait-signal it prints READY after the warm-up and waits for SIGUSR1, so that a
profiler can attach before the measured window starts.

OP `pingpong` (URI ignored) is the floor: the same loop over a bare Unix socketpair, 28 bytes
each way between this process and a forked echo child (its "server CPU"). On a VM the wakeup
of the other side dominates a small call, and it drifts with the host's load.
"""
import argparse
import os
import signal
import socket
import sys
import time
import uuid

import libvirt

OPS = ("getVersion", "lookup", "xmldesc", "lookup_xmldesc", "info", "create_destroy",
       "define_undefine", "list_all", "pingpong")


def domain_xml(name):
    return ("<domain type='test'><name>%s</name><memory unit='KiB'>131072</memory>"
            "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices/></domain>" % name)


def server_cpu_s(pid):
    """(utime, stime) of every thread of `pid`, in seconds (zeros without a pid)."""
    if not pid:
        return 0.0, 0.0
    with open("/proc/%d/stat" % pid) as stat:
        # The command name may hold spaces: fields count from after its closing parenthesis.
        fields = stat.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def client_cpu_s():
    times = os.times()
    return times.user + times.system


def echo_child():
    """(pid, call, stop) for pingpong: a forked process that echoes what it receives."""
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        ours.close()  # else the child would never see EOF
        while True:
            data = theirs.recv(64)
            if not data:
                os._exit(0)
            theirs.send(data)
    theirs.close()

    def call():
        ours.send(b"x" * 28)
        ours.recv(64)

    def stop():
        ours.close()
        os.waitpid(pid, 0)
    return pid, call, stop


def run(call, args):
    """Runs the measured window: (ops, wall s, (server user, system CPU s), client CPU s)."""
    server0, client0, wall0 = server_cpu_s(args.server_pid), client_cpu_s(), time.perf_counter()
    count = 0
    if args.count:
        for _ in range(args.count):
            call()
        count = args.count
    else:
        deadline = wall0 + args.seconds
        while time.perf_counter() < deadline:
            call()
            count += 1
    wall = time.perf_counter() - wall0
    server1 = server_cpu_s(args.server_pid)
    server = (server1[0] - server0[0], server1[1] - server0[1])
    return count, wall, server, client_cpu_s() - client0


def report(op, count, wall, server, client):
    def per_op(seconds):
        return seconds / count * 1e6
    print("RESULT op=%s ops=%d wall_us=%.1f server_cpu_us=%.1f server_user_us=%.1f "
          "server_sys_us=%.1f client_cpu_us=%.1f"
          % (op, count, per_op(wall), per_op(sum(server)), per_op(server[0]), per_op(server[1]),
             per_op(client)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("op", choices=OPS)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--count", type=int, default=0, help="run N ops instead of --seconds")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--wait-signal", action="store_true")
    args = parser.parse_args()

    if args.op == "pingpong":
        args.server_pid, call, stop = echo_child()
        report(args.op, *run(call, args))
        stop()
        return 0

    libvirt.registerErrorHandler(lambda *_: None, None)
    conn = libvirt.open(args.uri)
    name = "prof-" + uuid.uuid4().hex[:8]
    dom = conn.defineXML(domain_xml(name))
    # Each op is one libvirt API call, except the pairs, which count as one op (two calls).
    ops = {
        "getVersion": conn.getVersion,
        "lookup": lambda: conn.lookupByName(name),
        "xmldesc": lambda: dom.XMLDesc(0),
        "lookup_xmldesc": lambda: conn.lookupByName(name).XMLDesc(0),
        "info": dom.info,
        "create_destroy": lambda: (dom.create(), dom.destroy()),
        "define_undefine": lambda: conn.defineXML(domain_xml(name + "-d")).undefine(),
        # As api_bench.py's listAllDomains: 1000 domains besides the driver's own.
        "list_all": lambda: conn.listAllDomains(0),
    }
    listed = []
    if args.op == "list_all":
        listed = [conn.defineXML(domain_xml("%s-%d" % (name, i))) for i in range(999)]
    call = ops[args.op]
    for _ in range(args.warmup):
        call()

    if args.wait_signal:
        # Blocked before READY is printed, so a signal sent right after it is not lost.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        print("READY", flush=True)
        signal.sigwait({signal.SIGUSR1})

    result = run(call, args)
    if dom.isActive():
        dom.destroy()
    dom.undefine()
    for extra in listed:
        extra.undefine()
    conn.close()
    report(args.op, *result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
