#!/usr/bin/python3
"""rvirt's fault-injection soak (`./x.sh soak [--minutes N] [--seed S]`).

A real rvirtd (debug build, so the host's test-only fault hook exists) serves qemu:///system,
lxc:///system and test:///default from a state root that is a small loop-mounted ext4. Client
threads (python3-libvirt, and rvirsh for rvirt's own virt-rpc client) run mixed operations on
a fixed set of domains, each domain owned by one thread so that its expected state is known:
define, start, destroy, save/restore, snapshots, NIC hotplug, suspend/resume, lookups and XML.
A fault injector, on a schedule drawn from --seed, SIGKILLs and restarts rvirtd, SIGKILLs a
QEMU or an LXC controller, makes a plugin call trap or spin (RVIRT_FAULT_DIR, see
crates/virt-host/src/fault.rs), fills the state file system, and aborts the daemon in the
middle of a journal write. After every fault (clients paused between operations) and at the
end, invariants are checked: defined domains are still defined with the XML that was defined,
running ones still run or were reported stopped with the right reason, no process, tap, veth,
cgroup or run directory of a stopped domain is left, rvirtd's fds and RSS stay bounded, and
every client error is a libvirt error within the per-call deadline.

It prints a table (operations, faults per kind, violations, p99 latency outside fault
windows) and exits 1 if any invariant was violated. Logs go to target/soak/<time>/.
Needs root (loop mount, namespaces, taps), QEMU, busybox-static, python3-libvirt.
"""

import argparse
import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid as uuidlib
import xml.etree.ElementTree as ET

import libvirt

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.."))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
RVIRTD = os.path.join(TARGET, "debug/rvirtd")
RVIRSH = os.path.join(TARGET, "debug/rvirsh")
QEMU = "/usr/bin/qemu-system-x86_64"
GUEST = os.environ.get("RVIRT_TEST_GUEST_DIR", os.path.join(TARGET, "test-guest"))

CALL_DEADLINE = 60.0  # a call that takes longer is a hang: a violation
RSS_BOUND_KIB = 512 * 1024
FD_BOUND = 128
SPIN_BUDGET = 10.0  # rvirtd's per-call CPU budget (HostConfig::from_environment)

FAULT_KINDS = [
    "daemon-kill",
    "journal-abort",
    "qemu-kill",
    "lxc-controller-kill",
    "plugin-trap",
    "plugin-spin",
    "disk-full",
]

SHUTOFF = libvirt.VIR_DOMAIN_SHUTOFF
RUNNING = libvirt.VIR_DOMAIN_RUNNING
PAUSED = libvirt.VIR_DOMAIN_PAUSED

LOG_LOCK = threading.Lock()
LOG_FILE = None
T0 = time.monotonic()


def log(message):
    line = "[%8.2f] %s" % (time.monotonic() - T0, message)
    with LOG_LOCK:
        if LOG_FILE:
            LOG_FILE.write(line + "\n")
            LOG_FILE.flush()
        if os.environ.get("SOAK_VERBOSE"):
            print(line, file=sys.stderr, flush=True)


def run(*argv, check=True, timeout=60):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(argv), result.stderr.strip()))
    return result.stdout


# ---------------------------------------------------------------- bookkeeping


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = {}  # (kind, op) -> [ok, libvirt error]
        self.samples = []  # (start, end, kind, op)
        self.faults = {kind: 0 for kind in FAULT_KINDS}
        self.windows = []  # (start, end) of fault windows
        self.violations = []
        self.seen = set()
        self.max_rss_kib = 0
        self.max_fds = 0
        self.checks = 0
        self.restarts = 0

    def op(self, kind, name, ok, start, end):
        with self.lock:
            counts = self.ops.setdefault((kind, name), [0, 0])
            counts[0 if ok else 1] += 1
            self.samples.append((start, end, kind, name))

    def violation(self, what, detail):
        # One problem seen by several checks counts once (the label says which check).
        key = (what, detail.split(": ", 1)[-1] if detail.startswith(("after ", "start:", "final:")) else detail)
        with self.lock:
            if key in self.seen:
                log("(again) VIOLATION %s: %s" % (what, detail))
                return
            self.seen.add(key)
            self.violations.append((time.monotonic() - T0, what, detail))
        log("VIOLATION %s: %s" % (what, detail))
        print("soak: VIOLATION %s: %s" % (what, detail.splitlines()[0] if detail else ""),
              file=sys.stderr, flush=True)

    def p99_outside_windows(self, kinds=None):
        with self.lock:
            windows = list(self.windows)
            samples = list(self.samples)
        durations = []
        for start, end, kind, _ in samples:
            if kind in ("check", "cleanup") or (kinds and kind not in kinds):
                continue
            if any(start < w_end and end > w_start for w_start, w_end in windows):
                continue
            durations.append(end - start)
        if not durations:
            return None, 0
        durations.sort()
        return durations[min(len(durations) - 1, int(len(durations) * 0.99))], len(durations)


class Gate:
    """Clients pass it around each operation; the checker closes it to see a quiet system."""

    def __init__(self):
        self.cv = threading.Condition()
        self.active = 0
        self.closed = False

    def enter(self):
        with self.cv:
            while self.closed:
                self.cv.wait()
            self.active += 1

    def leave(self):
        with self.cv:
            self.active -= 1
            self.cv.notify_all()

    def close(self, timeout):
        deadline = time.monotonic() + timeout
        with self.cv:
            self.closed = True
            while self.active > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(left)
        return True

    def open(self):
        with self.cv:
            self.closed = False
            self.cv.notify_all()


class Watchdog(threading.Thread):
    """Every libvirt call registers here; one past CALL_DEADLINE is a hang."""

    def __init__(self, stats):
        super().__init__(daemon=True, name="watchdog")
        self.stats = stats
        self.lock = threading.Lock()
        self.inflight = {}
        self.next_id = 0
        self.reported = set()
        self.stop = False

    def begin(self, what):
        with self.lock:
            self.next_id += 1
            self.inflight[self.next_id] = (time.monotonic(), what, threading.current_thread().name)
            return self.next_id

    def end(self, call_id):
        with self.lock:
            self.inflight.pop(call_id, None)

    def run(self):
        while not self.stop:
            time.sleep(1)
            now = time.monotonic()
            with self.lock:
                late = [(cid, v) for cid, v in self.inflight.items()
                        if now - v[0] > CALL_DEADLINE and cid not in self.reported]
                for cid, _ in late:
                    self.reported.add(cid)
            for _, (start, what, thread) in late:
                self.stats.violation("hang", "%s in %s has not returned after %.0f s"
                                     % (what, thread, now - start))


# ---------------------------------------------------------------- the machine


class Machine:
    """Everything the soak creates on this machine, and its removal."""

    def __init__(self, seed, keep_dir):
        self.work = tempfile.mkdtemp(prefix="rvirt-soak-", dir="/tmp")
        self.report_dir = keep_dir
        self.image = os.path.join(self.work, "state.img")
        self.state_root = os.path.join(self.work, "state")
        self.faults = os.path.join(self.work, "faults")
        self.sock_dir = os.path.join(self.work, "sock")
        self.loop = None
        self.mounted = False
        self.bridge = "soakbr%d" % (seed % 10000)
        self.bridge_made = False
        for d in (self.state_root, self.faults, self.sock_dir):
            os.makedirs(d, exist_ok=True)

    def setup(self):
        run("truncate", "-s", "96M", self.image)
        self.loop = run("losetup", "--find", "--show", self.image).strip()
        run("mkfs.ext4", "-q", "-m", "0", "-F", self.loop)
        run("mount", self.loop, self.state_root)
        self.mounted = True
        run("ip", "link", "add", self.bridge, "type", "bridge", check=False)
        run("ip", "link", "set", self.bridge, "up")
        self.bridge_made = True
        # The LXC containers' root: busybox and its applets.
        root = os.path.join(self.work, "lxcroot")
        for sub in ("bin", "sbin", "proc", "sys", "dev", "tmp", "etc", "root", "run"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)
        shutil.copy("/bin/busybox", os.path.join(root, "bin/busybox"))
        for applet in ("sh", "sleep", "echo", "cat", "true"):
            os.symlink("busybox", os.path.join(root, "bin", applet))
        with open(os.path.join(root, "etc/passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\n")
        self.lxc_root = root

    def fill_disk(self):
        stat = os.statvfs(self.state_root)
        free = stat.f_bavail * stat.f_frsize
        path = os.path.join(self.state_root, "soak-fill")
        run("fallocate", "-l", str(max(free - 4096, 4096)), path, check=False)
        # Top off what fallocate left (block rounding), until ENOSPC.
        subprocess.run(["dd", "if=/dev/zero", "of=" + path + "2", "bs=4k"],
                       capture_output=True, timeout=60)
        stat = os.statvfs(self.state_root)
        return stat.f_bavail * stat.f_frsize

    def free_disk(self):
        for name in ("soak-fill", "soak-fill2"):
            try:
                os.unlink(os.path.join(self.state_root, name))
            except FileNotFoundError:
                pass

    def teardown(self):
        self.free_disk() if self.mounted else None
        if self.mounted:
            for _ in range(10):
                if subprocess.run(["umount", self.state_root], capture_output=True).returncode == 0:
                    break
                time.sleep(0.5)
            else:
                subprocess.run(["umount", "-l", self.state_root], capture_output=True)
        if self.loop:
            subprocess.run(["losetup", "-d", self.loop], capture_output=True)
        if self.bridge_made:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)


class Daemon:
    """rvirtd over the machine's state root, restartable."""

    def __init__(self, machine):
        self.machine = machine
        self.proc = None
        self.conf = os.path.join(machine.work, "rvirtd.conf")
        with open(self.conf, "w"):
            pass
        self.log_path = os.path.join(machine.report_dir, "rvirtd.log")
        self.socket = os.path.join(machine.sock_dir, "rvirt-sock")
        self.expect_death = False

    def uri(self, base):
        scheme, rest = base.split("://", 1)
        return "%s+unix://%s?socket=%s" % (scheme, rest, self.socket)

    def start(self, timeout=180):
        env = dict(os.environ)
        env.update({
            "RVIRT_PLUGIN_PATH": os.path.join(TARGET, "plugins"),
            "RVIRT_CACHE_DIR": os.path.join(TARGET, "soak-compiled"),
            "RVIRT_STATE_ROOT": self.machine.state_root,
            "RVIRT_GRANTS": os.path.join(ROOT, "etc/grants.toml"),
            "RVIRT_FAULT_DIR": self.machine.faults,
            "RUST_LOG": env.get("SOAK_RVIRTD_LOG", "info"),
            "RUST_BACKTRACE": "1",
        })
        logf = open(self.log_path, "a")
        logf.write("==== rvirtd start at %.2f\n" % (time.monotonic() - T0))
        logf.flush()

        def no_core():
            import resource
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        self.proc = subprocess.Popen(
            [RVIRTD, "--unix-sock-dir", self.machine.sock_dir, "-f", self.conf],
            env=env, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, preexec_fn=no_core)
        logf.close()
        self.expect_death = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("rvirtd exited with %s at start (see %s)"
                                   % (self.proc.returncode, self.log_path))
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.socket)
                s.close()
                log("rvirtd %d up" % self.proc.pid)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("rvirtd did not listen within %d s" % timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def pid(self):
        return self.proc.pid if self.proc else None

    def kill9(self):
        self.expect_death = True
        try:
            self.proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def stop(self):
        if not self.alive():
            return
        self.expect_death = True
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


# ---------------------------------------------------------------- domains


class Dom:
    """One domain the soak owns, and what the daemon should say about it."""

    def __init__(self, name, kind, base_uri, xml, uuid):
        self.name = name
        self.kind = kind  # qemu | lxc | test
        self.base_uri = base_uri
        self.xml = xml
        self.uuid = uuid
        self.defined = False
        self.running = False
        self.paused = False
        self.reason = None  # expected shutoff reason after our last stop, if known
        self.uncertain = None  # set of (defined, running) outcomes allowed after a lost call
        self.save_file = None
        self.save_valid = False
        self.snapshots = []
        self.lock = threading.Lock()

    def __repr__(self):
        return "%s(defined=%s running=%s reason=%s uncertain=%s)" % (
            self.name, self.defined, self.running, self.reason, self.uncertain)


def qemu_xml(name, uuid, machine):
    disk = os.path.join(machine.work, name + ".qcow2")
    if not os.path.exists(disk):
        run("qemu-img", "create", "-q", "-f", "qcow2", disk, "64M")
    return """<domain type='qemu'>
  <name>%(name)s</name>
  <uuid>%(uuid)s</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>%(guest)s/vmlinuz</kernel>
    <initrd>%(guest)s/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>%(qemu)s</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='%(disk)s'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'>
      <log file='%(log)s' append='on'/>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <memballoon model='virtio'/>
  </devices>
</domain>
""" % {"name": name, "uuid": uuid, "guest": GUEST, "qemu": QEMU, "disk": disk,
       "log": os.path.join(machine.work, name + ".serial.log")}


def lxc_xml(name, uuid, machine):
    return """<domain type='lxc'>
  <name>%(name)s</name>
  <uuid>%(uuid)s</uuid>
  <memory unit='MiB'>64</memory>
  <os>
    <type>exe</type>
    <init>/bin/sh</init>
    <initarg>-c</initarg>
    <initarg>echo READY; while :; do sleep 5; done</initarg>
  </os>
  <devices>
    <filesystem type='mount'>
      <source dir='%(root)s'/>
      <target dir='/'/>
    </filesystem>
    <interface type='bridge'>
      <source bridge='%(bridge)s'/>
    </interface>
    <console type='pty'/>
  </devices>
</domain>
""" % {"name": name, "uuid": uuid, "root": machine.lxc_root, "bridge": machine.bridge}


def test_xml(name, uuid):
    return """<domain type='test'>
  <name>%s</name>
  <uuid>%s</uuid>
  <memory unit='KiB'>65536</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>
""" % (name, uuid)


def essentials(xml_text):
    """The parts of a definition that must survive exactly (libvirt adds defaults around them)."""
    root = ET.fromstring(xml_text)

    def text(path):
        node = root.find(path)
        return node.text.strip() if node is not None and node.text else None

    memory = root.find("memory")
    mem_kib = None
    if memory is not None and memory.text:
        unit = memory.get("unit", "KiB")
        factor = {"KiB": 1, "k": 1, "MiB": 1024, "M": 1024, "GiB": 1 << 20}.get(unit, 1)
        mem_kib = int(memory.text) * factor
    return {
        "type": root.get("type"),
        "name": text("name"),
        "uuid": text("uuid"),
        "memory_kib": mem_kib,
        "kernel": text("os/kernel"),
        "initrd": text("os/initrd"),
        "init": text("os/init"),
        "disks": sorted(s.get("file") for s in root.findall("devices/disk/source")),
        "filesystems": sorted(s.get("dir") for s in root.findall("devices/filesystem/source")),
    }


# ---------------------------------------------------------------- clients


def is_lost(conn, error):
    """True when a failed call lost its connection (the daemon died): outcome unknown."""
    try:
        if conn is None or not conn.isAlive():
            return True
    except libvirt.libvirtError:
        return True
    return error.get_error_code() in (libvirt.VIR_ERR_RPC, libvirt.VIR_ERR_NO_CONNECT,
                                      libvirt.VIR_ERR_INVALID_CONN)


class Lost(Exception):
    """The connection died during a call."""


class Failed(Exception):
    """The daemon answered with a libvirt error."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


class Soak:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.stats = Stats()
        self.gate = Gate()
        self.watchdog = Watchdog(self.stats)
        self.stop = threading.Event()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        self.report_dir = os.path.join(TARGET, "soak", "%s-seed%d" % (stamp, self.seed))
        os.makedirs(self.report_dir, exist_ok=True)
        self.machine = Machine(self.seed, self.report_dir)
        self.daemon = Daemon(self.machine)
        self.generation = 0  # daemon starts; test-driver domains live for one generation
        self.events = {}  # name -> list of (time, event, detail)
        self.events_lock = threading.Lock()
        self.domains = []
        self.clients = []
        self.trap_errors = 0

    # -- calls

    def call(self, conn, kind, op, fn, *args):
        """One libvirt call under the deadline; Lost / Failed on error."""
        call_id = self.watchdog.begin("%s %s" % (kind, op))
        start = time.monotonic()
        ok = False
        try:
            result = fn(*args)
            ok = True
            return result
        except libvirt.libvirtError as error:
            message = error.get_error_message() or ""
            if error.get_error_code() == libvirt.VIR_ERR_INTERNAL_ERROR and \
                    ("trapped" in message or "CPU time budget" in message):
                with self.stats.lock:
                    self.trap_errors += 1
            if is_lost(conn, error):
                raise Lost(str(error))
            raise Failed(error)
        except Exception as error:  # not a libvirt error: a violation of its own
            self.stats.violation("non-libvirt error", "%s %s: %r\n%s" % (
                kind, op, error, traceback.format_exc()))
            raise Lost(repr(error))
        finally:
            end = time.monotonic()
            self.watchdog.end(call_id)
            self.stats.op(kind, op, ok, start, end)

    def open(self, base_uri, events=True):
        uri = self.daemon.uri(base_uri)
        conn = libvirt.open(uri)
        if events:
            conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                        self.on_lifecycle, None)
        return conn

    def on_lifecycle(self, _conn, dom, event, detail, _opaque):
        with self.events_lock:
            self.events.setdefault(dom.name(), []).append((time.monotonic(), event, detail))

    def events_since(self, name, since):
        with self.events_lock:
            return [(e, d) for t, e, d in self.events.get(name, []) if t >= since]

    # -- setup

    def make_domains(self):
        rng = random.Random(self.seed)

        def new_uuid():
            return str(uuidlib.UUID(int=rng.getrandbits(128), version=4))

        m = self.machine
        for i in range(2):
            name = "soakq%d" % i
            u = new_uuid()
            self.domains.append(Dom(name, "qemu", "qemu:///system", qemu_xml(name, u, m), u))
        for i in range(2):
            name = "soakl%d" % i
            u = new_uuid()
            self.domains.append(Dom(name, "lxc", "lxc:///system", lxc_xml(name, u, m), u))
        for i in range(4):
            name = "soakt%d" % i
            u = new_uuid()
            self.domains.append(Dom(name, "test", "test:///default", test_xml(name, u), u))

    def dom(self, name):
        return next(d for d in self.domains if d.name == name)

    # -- the run

    def main(self):
        global LOG_FILE
        LOG_FILE = open(os.path.join(self.report_dir, "soak.log"), "w")
        log("seed %d, %d minutes, work %s" % (self.seed, self.args.minutes, self.machine.work))
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=self.event_loop, daemon=True, name="events").start()
        self.machine.setup()
        self.make_domains()
        self.daemon.start()
        self.generation += 1
        self.watchdog.start()
        self.anchor = self.open("test:///default", events=False)
        self.checker_conns = {}
        self.baseline_check()
        self.start_clients()
        injector_rng = random.Random(self.seed ^ 0x5eed)
        deadline = time.monotonic() + self.args.minutes * 60
        kinds = []
        next_fault = time.monotonic() + injector_rng.uniform(6, 12)
        while time.monotonic() < deadline:
            time.sleep(0.2)
            reap_orphans(self.daemon.pid())
            self.watch_daemon()
            if time.monotonic() < next_fault:
                continue
            if not kinds:
                kinds = list(FAULT_KINDS)
                injector_rng.shuffle(kinds)
            kind = kinds.pop()
            self.inject(kind, injector_rng)
            next_fault = time.monotonic() + injector_rng.uniform(6, 14)
        log("time is up: stopping the clients")
        self.stop.set()
        self.gate.open()
        for client in self.clients:
            client.join(timeout=CALL_DEADLINE + 10)
            if client.is_alive():
                self.stats.violation("hang", "client %s did not stop" % client.name)
        self.watch_daemon()
        self.check("final", settle=True)
        self.final_cleanup_check()

    def event_loop(self):
        while True:
            try:
                libvirt.virEventRunDefaultImpl()
            except Exception:  # keep the loop alive
                time.sleep(0.1)

    def start_clients(self):
        doms = {d.name: d for d in self.domains}
        plan = [
            ("py-qemu0", PyClient, [doms["soakq0"]]),
            ("py-qemu1", PyClient, [doms["soakq1"]]),
            ("py-lxc", PyClient, [doms["soakl0"]]),
            ("py-test", PyClient, [doms["soakt0"], doms["soakt1"]]),
            ("rvirsh", RvirshClient, [doms["soakl1"], doms["soakt2"], doms["soakt3"]]),
        ]
        for index, (name, cls, owned) in enumerate(plan):
            client = cls(self, name, owned, random.Random(self.seed * 1000 + index))
            self.clients.append(client)
            client.start()

    def watch_daemon(self):
        if self.daemon.alive():
            return
        if not self.daemon.expect_death:
            self.stats.violation("daemon died", "rvirtd exited with %s unprompted:\n%s"
                                 % (self.daemon.proc.returncode, self.daemon.log_tail()))
            self.restart_daemon()

    def restart_daemon(self):
        # Clients finish the calls the dead daemon failed before the test driver's volatile
        # domains are forgotten, so none of them defines one on the new daemon meanwhile.
        self.gate.close(CALL_DEADLINE + 5)
        try:
            self.restart_daemon_closed()
        finally:
            self.gate.open()

    def restart_daemon_closed(self):
        self.daemon.start()
        self.generation += 1
        self.stats.restarts += 1
        # test:///default is volatile: its domains went with the daemon.
        for d in self.domains:
            if d.kind == "test":
                with d.lock:
                    d.defined = d.running = d.paused = False
                    d.uncertain = None
                    d.snapshots = []
        try:
            self.anchor = self.open("test:///default", events=False)
        except libvirt.libvirtError as error:
            self.stats.violation("reconnect", "cannot reopen test:///default: %s" % error)
        self.checker_conns = {}

    # -- faults

    def inject(self, kind, rng):
        self.stats.faults[kind] += 1
        start = time.monotonic()
        log("== fault %s #%d" % (kind, self.stats.faults[kind]))
        try:
            getattr(self, "fault_" + kind.replace("-", "_"))(rng)
        except Exception:
            self.stats.violation("harness", "fault %s raised:\n%s" % (kind, traceback.format_exc()))
            if not self.daemon.alive():
                self.restart_daemon()
        self.check("after " + kind)
        end = time.monotonic()
        with self.stats.lock:
            self.stats.windows.append((start - 0.5, end + 1.0))
        log("== fault %s done in %.1f s" % (kind, end - start))

    def fault_daemon_kill(self, rng):
        time.sleep(rng.uniform(0, 2))
        self.daemon.kill9()
        time.sleep(rng.uniform(0.2, 2))
        self.restart_daemon()

    def fault_journal_abort(self, rng):
        marker = os.path.join(self.machine.faults, "abort-journal")
        open(marker, "w").close()
        deadline = time.monotonic() + 45
        while self.daemon.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.daemon.alive():
            os.unlink(marker)
            log("journal-abort: no journal write within 45 s; disarmed")
            return
        self.daemon.expect_death = True
        code = self.daemon.proc.returncode
        if code != -signal.SIGABRT:
            self.stats.violation("journal-abort", "rvirtd exited with %s, not SIGABRT" % code)
        if "dropping a torn entry" in self.daemon.log_tail(5):
            pass
        time.sleep(rng.uniform(0.2, 1))
        self.restart_daemon()
        time.sleep(1)
        if "dropping a torn entry" not in self.daemon.log_tail(200):
            # The torn entry may have been in a space nobody reopened yet; the check
            # below opens both persistent spaces.
            log("journal-abort: no torn-entry message yet")

    def kill_guest_process(self, kind, rng):
        if not self.gate.close(CALL_DEADLINE + 5):
            self.stats.violation("hang", "clients did not pause within the deadline")
        try:
            self.resolve_all()
            candidates = [d for d in self.domains if d.kind == kind and d.running
                          and d.uncertain is None]
            if not candidates:
                log("%s: no running domain to kill" % kind)
                return
            d = rng.choice(candidates)
            pids = guest_pids(d)
            if not pids:
                self.stats.violation("state", "%s is running but has no process" % d.name)
                return
            since = time.monotonic()
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            log("killed %s process(es) %s of %s" % (kind, pids, d.name))
            conn = self.checker_conn(d.base_uri)
            deadline = time.monotonic() + 30
            state = None
            while time.monotonic() < deadline:
                try:
                    state = self.call(conn, "check", "state", conn.lookupByName(d.name).state)
                except (Lost, Failed, libvirt.libvirtError) as error:
                    state = ("error", str(error))
                if state and state[0] == SHUTOFF:
                    break
                time.sleep(0.2)
            with d.lock:
                d.running = d.paused = False
                d.reason = libvirt.VIR_DOMAIN_SHUTOFF_CRASHED
            if state != [SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_CRASHED]:
                self.stats.violation("stop reason", "%s: killed %s, state is %s, want shutoff/crashed"
                                     % (d.name, kind, state))
            time.sleep(0.5)
            seen = self.events_since(d.name, since)
            if (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED) not in seen \
                    and (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED) not in seen:
                self.stats.violation("event", "%s: no STOPPED failed/crashed event after the kill (saw %s)"
                                     % (d.name, seen))
        finally:
            self.gate.open()

    def fault_qemu_kill(self, rng):
        self.kill_guest_process("qemu", rng)

    def fault_lxc_controller_kill(self, rng):
        self.kill_guest_process("lxc", rng)

    def arm_call_fault(self, what, rng):
        plugin = rng.choice(["qemu", "lxc", "test"])
        marker = os.path.join(self.machine.faults, "%s.%s" % (what, plugin))
        with self.stats.lock:
            before = self.trap_errors
        open(marker, "w").close()
        deadline = time.monotonic() + 30
        while os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        if os.path.exists(marker):
            os.unlink(marker)
            log("%s.%s: no call within 30 s; disarmed" % (what, plugin))
            return
        log("%s.%s fired" % (what, plugin))
        if what == "spin":
            time.sleep(SPIN_BUDGET + 2)
        else:
            time.sleep(1)
        with self.stats.lock:
            after = self.trap_errors
        log("%s: %d client call(s) failed as trapped/interrupted" % (what, after - before))
        if not self.daemon.alive():
            self.stats.violation("daemon died", "rvirtd died after a %s fault:\n%s"
                                 % (what, self.daemon.log_tail()))

    def fault_plugin_trap(self, rng):
        self.arm_call_fault("trap", rng)

    def fault_plugin_spin(self, rng):
        self.arm_call_fault("spin", rng)

    def fault_disk_full(self, rng):
        left = self.machine.fill_disk()
        log("disk-full: %d bytes left on the state file system" % left)
        time.sleep(rng.uniform(6, 12))
        self.machine.free_disk()
        log("disk-full: freed")

    # -- invariants

    def checker_conn(self, base_uri):
        conn = self.checker_conns.get(base_uri)
        try:
            if conn is not None and conn.isAlive():
                return conn
        except libvirt.libvirtError:
            pass
        conn = self.open(base_uri)
        self.checker_conns[base_uri] = conn
        return conn

    def resolve_all(self):
        """Adopts the daemon's word for domains whose last call was lost, if it is allowed."""
        for d in self.domains:
            with d.lock:
                if d.uncertain is None:
                    continue
                try:
                    conn = self.checker_conn(d.base_uri)
                    defined, running, paused, reason = self.observe(conn, d)
                except (Lost, Failed, libvirt.libvirtError) as error:
                    self.stats.violation("check", "cannot read %s: %s" % (d.name, error))
                    continue
                if (defined, running) not in d.uncertain:
                    self.stats.violation(
                        "state", "%s after a lost call: daemon says defined=%s running=%s, "
                        "allowed %s" % (d.name, defined, running, sorted(d.uncertain)))
                d.defined, d.running, d.paused = defined, running, paused
                d.reason = reason if not running else None
                d.uncertain = None
                if not defined:
                    d.snapshots = []

    def observe(self, conn, d):
        try:
            dom = self.call(conn, "check", "lookup", conn.lookupByName, d.name)
        except Failed as failed:
            if failed.error.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return False, False, False, None
            raise
        state, reason = self.call(conn, "check", "state", dom.state)
        return True, state in (RUNNING, PAUSED), state == PAUSED, reason

    def check(self, label, settle=False):
        """Every invariant, with the clients paused between operations."""
        self.stats.checks += 1
        if not self.gate.close(CALL_DEADLINE + 5):
            self.stats.violation("hang", "clients did not pause within the deadline (%s)" % label)
        try:
            self.watch_daemon()
            if settle:
                time.sleep(1)
            self.resolve_all()
            running = set()
            for d in self.domains:
                self.check_domain(d, label, running)
            self.check_leaks(label, running)
            self.check_daemon(label)
        except Exception:
            self.stats.violation("harness", "check %s raised:\n%s" % (label, traceback.format_exc()))
        finally:
            if not self.stop.is_set():
                self.gate.open()

    def check_domain(self, d, label, running):
        with d.lock:
            try:
                conn = self.checker_conn(d.base_uri)
                defined, is_running, paused, reason = self.observe(conn, d)
            except (Lost, Failed, libvirt.libvirtError) as error:
                self.stats.violation("check", "%s: cannot read %s: %s" % (label, d.name, error))
                return
            if is_running:
                running.add(d.name)
            where = "%s: %s" % (label, d.name)
            if defined != d.defined:
                self.stats.violation("definition", "%s defined=%s, expected %s" % (where, defined, d.defined))
                d.defined = defined
            if is_running != d.running:
                self.stats.violation("state", "%s running=%s (reason %s), expected running=%s"
                                     % (where, is_running, reason, d.running))
                d.running = is_running
            elif not is_running and defined and d.reason is not None and reason != d.reason:
                self.stats.violation("stop reason", "%s shutoff reason %s, expected %s"
                                     % (where, reason, d.reason))
                d.reason = reason
            if not defined:
                return
            try:
                dom = conn.lookupByName(d.name)
                text = self.call(conn, "check", "xml", dom.XMLDesc, libvirt.VIR_DOMAIN_XML_INACTIVE)
                got = essentials(text)
            except (Lost, Failed, libvirt.libvirtError) as error:
                self.stats.violation("check", "%s: XMLDesc failed: %s" % (where, error))
                return
            except ET.ParseError as error:
                self.stats.violation("definition", "%s: stored XML does not parse: %s" % (where, error))
                return
            want = essentials(d.xml)
            if got != want:
                diff = {k: (got.get(k), want[k]) for k in want if got.get(k) != want[k]}
                self.stats.violation("definition", "%s: stored XML differs (got, defined): %s"
                                     % (where, diff))

    def check_leaks(self, label, running):
        # Guest processes: each must belong to a domain the daemon reports running.
        for d in self.domains:
            if d.kind == "test":
                continue
            pids = guest_pids(d)
            if d.name in running and not pids:
                self.stats.violation("state", "%s: %s is running but has no process" % (label, d.name))
            if d.name not in running and pids:
                self.stats.violation("leak", "%s: %s is not running but has processes %s: %s"
                                     % (label, d.name, pids, [cmdline(p)[:160] for p in pids]))
        # Any other QEMU working on the soak's files (an image helper of an offline snapshot).
        guests = set(p for d in self.domains if d.kind == "qemu" for p in guest_pids(d))
        for pid in soak_pids(self.machine.work):
            text = cmdline(pid)
            if "qemu-system" in text and pid not in guests:
                self.stats.violation("leak", "%s: QEMU %d of no running domain: %s" % (label, pid, text[:200]))
        # Bridge members: taps and veths of running domains only.
        members = set(os.listdir("/sys/class/net/%s/brif" % self.machine.bridge)) \
            if os.path.isdir("/sys/class/net/%s/brif" % self.machine.bridge) else set()
        expected = set()
        for d in self.domains:
            if d.name not in running or d.kind == "test":
                continue
            try:
                conn = self.checker_conn(d.base_uri)
                text = conn.lookupByName(d.name).XMLDesc(0)
                for target in ET.fromstring(text).findall("devices/interface/target"):
                    if target.get("dev"):
                        expected.add(target.get("dev"))
            except (libvirt.libvirtError, ET.ParseError):
                pass
            if d.kind == "lxc":
                expected.add("vr%s0" % d.uuid.replace("-", "")[:10])
        stray = sorted(m for m in members if m not in expected)
        if stray:
            self.stats.violation("leak", "%s: bridge %s has members of no running domain: %s "
                                 "(expected %s)" % (label, self.machine.bridge, stray, sorted(expected)))
        links = os.listdir("/sys/class/net")
        for d in self.domains:
            if d.kind == "lxc" and d.name not in running:
                veth = "vr%s" % d.uuid.replace("-", "")[:10]
                left = [link for link in links if link.startswith(veth)]
                if left:
                    self.stats.violation("leak", "%s: %s is not running but has veths %s" % (label, d.name, left))
        # Cgroups of containers that are not running.
        for d in self.domains:
            if d.kind == "lxc" and d.name not in running:
                found = find_cgroups(d.name + ".rvirt-lxc")
                if found:
                    self.stats.violation("leak", "%s: %s is not running but has cgroups %s" % (label, d.name, found))
        # Run directories: nothing named after a domain that is not running.
        run_root = os.path.join(self.machine.state_root, "run")
        for dirpath, dirnames, filenames in os.walk(run_root):
            for entry in dirnames + filenames:
                for d in self.domains:
                    if d.name not in running and d.name in entry:
                        self.stats.violation("leak", "%s: %s is not running but %s exists"
                                             % (label, d.name, os.path.join(dirpath, entry)))

    def check_daemon(self, label):
        pid = self.daemon.pid()
        if not self.daemon.alive():
            return
        try:
            n_fds = len(os.listdir("/proc/%d/fd" % pid))
            with open("/proc/%d/status" % pid) as f:
                rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            return
        self.stats.max_fds = max(self.stats.max_fds, n_fds)
        self.stats.max_rss_kib = max(self.stats.max_rss_kib, rss)
        log("%s: rvirtd fds %d, RSS %d KiB" % (label, n_fds, rss))
        if n_fds > FD_BOUND:
            fds = []
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    fds.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
                except OSError:
                    pass
            self.stats.violation("fds", "%s: rvirtd holds %d fds (bound %d): %s"
                                 % (label, n_fds, FD_BOUND, sorted(fds)[:80]))
        if rss > RSS_BOUND_KIB:
            self.stats.violation("rss", "%s: rvirtd RSS %d KiB (bound %d)" % (label, rss, RSS_BOUND_KIB))

    def baseline_check(self):
        leftovers = [d.name for d in self.domains if d.kind != "test" and guest_pids(d)]
        if leftovers:
            raise RuntimeError("processes of an earlier soak are still running: %s" % leftovers)
        self.check("start")

    def final_cleanup_check(self):
        """Stops and undefines everything through the daemon: nothing may be left."""
        for d in self.domains:
            try:
                conn = self.checker_conn(d.base_uri)
                dom = conn.lookupByName(d.name)
            except libvirt.libvirtError:
                continue
            try:
                if dom.isActive():
                    self.call(conn, "cleanup", "destroy", dom.destroy)
                if d.kind != "lxc":
                    for snap in dom.listAllSnapshots(0):
                        self.call(conn, "cleanup", "snapshot-delete", snap.delete, 0)
                self.call(conn, "cleanup", "undefine", dom.undefine)
            except (Lost, Failed, libvirt.libvirtError) as error:
                self.stats.violation("cleanup", "%s: %s" % (d.name, error))
            with d.lock:
                d.defined = d.running = False
                d.reason = None
        time.sleep(1)
        self.check_leaks("after cleanup", set())
        self.check_daemon("after cleanup")

    # -- teardown

    def teardown(self):
        self.stop.set()
        self.gate.open()
        self.watchdog.stop = True
        try:
            self.daemon.stop()
        except Exception:
            pass
        for d in self.domains:
            for pid in guest_pids(d):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        # Anything else still using the work directory (it would keep the mount busy).
        for pid in soak_pids(self.machine.work):
            if pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        time.sleep(0.5)
        for d in self.domains:
            if d.kind == "lxc":
                for path in find_cgroups(d.name + ".rvirt-lxc"):
                    for dirpath, _, _ in sorted(os.walk(path), key=lambda w: -len(w[0])):
                        try:
                            os.rmdir(dirpath)
                        except OSError:
                            pass
        self.machine.teardown()

    def report(self):
        s = self.stats
        rows = []
        total_ok = total_err = 0
        for (kind, op), (ok, err) in sorted(s.ops.items()):
            if kind in ("check", "cleanup"):
                continue
            rows.append((kind, op, ok, err))
            total_ok += ok
            total_err += err
        lines = []
        lines.append("rvirt soak: seed %d, %s min, %d rvirtd restarts, %d invariant checks"
                     % (self.seed, self.args.minutes, s.restarts, s.checks))
        lines.append("")
        lines.append("%-8s %-18s %8s %8s" % ("client", "operation", "ok", "error"))
        for kind, op, ok, err in rows:
            lines.append("%-8s %-18s %8d %8d" % (kind, op, ok, err))
        lines.append("%-8s %-18s %8d %8d" % ("all", "", total_ok, total_err))
        lines.append("")
        lines.append("%-22s %s" % ("fault", "injected"))
        for kind in FAULT_KINDS:
            lines.append("%-22s %d" % (kind, s.faults[kind]))
        lines.append("%-22s %d" % ("all", sum(s.faults.values())))
        lines.append("")
        lines.append("invariant violations   %d" % len(s.violations))
        for label, kinds in (("all calls", None), ("qemu", ["qemu"]), ("lxc", ["lxc"]),
                             ("test", ["test"]), ("rvirsh (process)", ["rvirsh"])):
            p99, n = s.p99_outside_windows(kinds)
            lines.append("p99 latency outside fault windows, %-16s %s over %d calls"
                         % (label + ":", "%.1f ms" % (p99 * 1000) if p99 is not None else "-", n))
        lines.append("rvirtd max fds %d (bound %d), max RSS %d MiB (bound %d)"
                     % (s.max_fds, FD_BOUND, s.max_rss_kib // 1024, RSS_BOUND_KIB // 1024))
        if s.violations:
            lines.append("")
            lines.append("violations:")
            for when, what, detail in s.violations:
                lines.append("  [%7.1f s] %s: %s" % (when, what, detail.splitlines()[0] if detail else ""))
        lines.append("")
        lines.append("logs: %s" % self.report_dir)
        text = "\n".join(lines)
        with open(os.path.join(self.report_dir, "table.txt"), "w") as f:
            f.write(text + "\n")
        return text


# ---------------------------------------------------------------- process scans


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def guest_pids(d):
    """Live (non-zombie) QEMU or LXC controller processes of domain d."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            continue
        text = cmdline(pid)
        if d.kind == "qemu" and "qemu-system" in text and ("guest=%s," % d.name) in text:
            found.append(pid)
        elif d.kind == "lxc" and "rvirt-lxc-controller" in text and (" %s " % d.name in text + " " or d.uuid in text):
            found.append(pid)
    return found


def soak_pids(work):
    """Live processes whose command line names the soak's work directory."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        if work in cmdline(int(entry)):
            found.append(int(entry))
    return found


def reap_orphans(keep):
    """Reaps exited guests reparented to this process (their daemon was killed)."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == keep:
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.find("(") + 1:stat.rfind(")")]
        fields = stat.rsplit(")", 1)[-1].split()
        # Only guests: the rvirsh and rvirtd children are waited for by their owners.
        if not (comm.startswith("qemu-system") or comm.startswith("rvirt-lxc")):
            continue
        if fields[0] == "Z" and int(fields[1]) == me:
            try:
                os.waitpid(int(entry), os.WNOHANG)
            except ChildProcessError:
                pass


def find_cgroups(leaf):
    found = []
    for dirpath, dirnames, _ in os.walk("/sys/fs/cgroup"):
        if dirpath.count("/") > 9:
            dirnames[:] = []
            continue
        for name in dirnames:
            if name == leaf:
                found.append(os.path.join(dirpath, name))
    return found


# ---------------------------------------------------------------- client threads


class Client(threading.Thread):
    def __init__(self, soak, name, owned, rng):
        super().__init__(daemon=True, name=name)
        self.soak = soak
        self.owned = owned
        self.rng = rng

    def run(self):
        while not self.soak.stop.is_set():
            self.soak.gate.enter()
            try:
                if self.soak.stop.is_set():
                    return
                d = self.rng.choice(self.owned)
                with d.lock:
                    self.step(d)
            except Exception:
                self.soak.stats.violation("harness", "client %s:\n%s" % (self.name, traceback.format_exc()))
            finally:
                self.soak.gate.leave()
            time.sleep(self.rng.uniform(0.05, 0.4))


def lost(d, *outcomes):
    """A call on d lost its connection: any of outcomes may be true now."""
    allowed = set(outcomes)
    if d.uncertain:
        allowed |= d.uncertain
    d.uncertain = allowed


class PyClient(Client):
    """python3-libvirt, one connection per URI, reopened after the daemon restarts."""

    def __init__(self, *args):
        super().__init__(*args)
        self.conns = {}

    def conn(self, d):
        conn = self.conns.get(d.base_uri)
        try:
            if conn is not None and conn.isAlive():
                return conn
        except libvirt.libvirtError:
            pass
        self.conns[d.base_uri] = conn = self.soak.open(d.base_uri)
        return conn

    def step(self, d):
        if d.uncertain is not None:
            return  # until the checker resolved it
        try:
            conn = self.conn(d)
        except libvirt.libvirtError:
            time.sleep(0.5)  # the daemon is restarting
            return
        call = lambda op, fn, *a: self.soak.call(conn, d.kind, op, fn, *a)  # noqa: E731
        before = (d.defined, d.running)
        op = None
        try:
            if not d.defined:
                op = "define"
                call(op, conn.defineXML, d.xml)
                d.defined, d.running, d.reason = True, False, None
                return
            dom = call("lookup", conn.lookupByName, d.name)
            if not d.running:
                op = self.rng.choice(self.shutoff_ops(d))
                self.shutoff_op(conn, call, d, dom, op)
            else:
                op = self.rng.choice(self.running_ops(d))
                self.running_op(conn, call, d, dom, op)
        except Lost:
            lost(d, before, self.after(d, op, before))
            self.conns.pop(d.base_uri, None)
        except Failed as failed:
            log("%s %s %s: libvirt error %d: %s" % (self.name, d.name, op,
                failed.error.get_error_code(), failed.error.get_error_message()))
            if op in ("start", "restore", "destroy", "save", "snapshot-revert") or (
                    failed.error.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN):
                # A failed state change must leave the domain in one of the two states
                # (never half-started); the checker decides which.
                lost(d, before, self.after(d, op, before))

    @staticmethod
    def after(d, op, before):
        defined, running = before
        return {
            "define": (True, running), "undefine": (False, False), "start": (True, True),
            "restore": (True, True), "destroy": (True, False), "save": (True, False),
            "snapshot-revert": (True, running),
        }.get(op, before)

    def shutoff_ops(self, d):
        ops = ["start"] * 5 + ["info", "xml", "undefine"]
        if d.kind == "qemu":
            ops += ["snapshot"]
            if d.save_valid:
                ops += ["restore"] * 4
        if d.kind == "test":
            ops += ["snapshot"] * 2
        return ops

    def running_ops(self, d):
        ops = ["destroy"] * 3 + ["info"] * 3 + ["xml"] * 2
        if d.kind == "qemu":
            ops += ["save"] * 2 + ["snapshot", "hotplug"]
        if d.kind == "test":
            ops += ["suspend-resume", "snapshot"]
        return ops

    def shutoff_op(self, conn, call, d, dom, op):
        if op == "start":
            call(op, dom.create)
            d.running, d.reason, d.save_valid = True, None, False
        elif op == "restore":
            call(op, conn.restore, d.save_file)
            d.running, d.reason, d.save_valid = True, None, False
        elif op == "undefine":
            if d.kind != "lxc":  # the LXC driver has no snapshots
                for snap in call("snapshot-list", dom.listAllSnapshots, 0):
                    call("snapshot-delete", snap.delete, 0)
            d.snapshots = []
            call(op, dom.undefine)
            d.defined, d.reason, d.save_valid = False, None, False
        elif op == "snapshot":
            self.snapshot(call, d, dom)
        elif op == "info":
            call(op, dom.info)
        else:
            text = call(op, dom.XMLDesc, 0)
            ET.fromstring(text)

    def running_op(self, conn, call, d, dom, op):
        if op == "destroy":
            call(op, dom.destroy)
            d.running, d.reason = False, libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED
        elif op == "save":
            d.save_file = os.path.join(self.soak.machine.work, d.name + ".save")
            d.save_valid = False
            call(op, dom.save, d.save_file)
            d.running, d.reason, d.save_valid = False, libvirt.VIR_DOMAIN_SHUTOFF_SAVED, True
        elif op == "snapshot":
            self.snapshot(call, d, dom)
        elif op == "hotplug":
            nic = ("<interface type='bridge'><source bridge='%s'/><model type='virtio'/></interface>"
                   % self.soak.machine.bridge)
            call("attach-nic", dom.attachDeviceFlags, nic, libvirt.VIR_DOMAIN_AFFECT_LIVE)
            live = ET.fromstring(call("xml", dom.XMLDesc, 0))
            for iface in live.findall("devices/interface"):
                mac = iface.find("mac")
                if mac is not None:
                    detach = ("<interface type='bridge'><mac address='%s'/><source bridge='%s'/>"
                              "<model type='virtio'/></interface>" % (mac.get("address"), self.soak.machine.bridge))
                    call("detach-nic", dom.detachDeviceFlags, detach, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        elif op == "suspend-resume":
            call("suspend", dom.suspend)
            call("resume", dom.resume)
        elif op == "info":
            call(op, dom.info)
        else:
            ET.fromstring(call(op, dom.XMLDesc, 0))

    def snapshot(self, call, d, dom):
        name = "s%d" % self.rng.randrange(1 << 30)
        call("snapshot", dom.snapshotCreateXML,
             "<domainsnapshot><name>%s</name></domainsnapshot>" % name, 0)
        d.snapshots.append(name)
        while len(d.snapshots) > 2:
            old = d.snapshots.pop(0)
            try:
                snap = call("snapshot-lookup", dom.snapshotLookupByName, old, 0)
                call("snapshot-delete", snap.delete, 0)
            except Failed:
                pass


class RvirshClient(Client):
    """rvirt's own client (virt-rpc) through rvirsh, one process per operation."""

    def rvirsh(self, d, op, *argv):
        uri = self.soak.daemon.uri(d.base_uri)
        call_id = self.soak.watchdog.begin("rvirsh %s" % op)
        start = time.monotonic()
        try:
            result = subprocess.run([RVIRSH, "-c", uri] + list(argv), capture_output=True,
                                    text=True, timeout=CALL_DEADLINE, env=dict(os.environ, LC_ALL="C"))
        except subprocess.TimeoutExpired:
            self.soak.stats.violation("hang", "rvirsh %s did not return within %d s" % (argv, CALL_DEADLINE))
            raise Lost("timeout")
        finally:
            self.soak.watchdog.end(call_id)
        end = time.monotonic()
        ok = result.returncode == 0
        self.soak.stats.op("rvirsh", op, ok, start, end)
        if ok:
            return result.stdout
        err = result.stderr.strip()
        if "error" not in err.lower():
            self.soak.stats.violation("non-libvirt error", "rvirsh %s exited %d: %r" % (argv, result.returncode, err))
        # rvirsh prints libvirt's error; a lost or refused connection reads like this.
        low = err.lower()
        if any(w in low for w in ("connect", "closed", "end of file", "reset", "broken pipe", "socket")):
            raise Lost(err)
        raise Failed(err)

    def step(self, d):
        if d.uncertain is not None:
            return
        before = (d.defined, d.running)
        op = None
        try:
            if not d.defined:
                op = "define"
                path = os.path.join(self.soak.machine.work, d.name + ".xml")
                with open(path, "w") as f:
                    f.write(d.xml)
                self.rvirsh(d, op, "define", path)
                d.defined, d.running, d.reason = True, False, None
            elif not d.running:
                op = self.rng.choice(["start"] * 4 + ["dumpxml", "dominfo", "list", "undefine"])
                if op == "start":
                    self.rvirsh(d, op, "start", d.name)
                    d.running, d.reason = True, None
                elif op == "undefine":
                    self.rvirsh(d, op, "undefine", d.name)
                    d.defined, d.reason = False, None
                elif op == "dumpxml":
                    ET.fromstring(self.rvirsh(d, op, "dumpxml", d.name))
                elif op == "list":
                    self.rvirsh(d, op, "list", "--all")
                else:
                    self.rvirsh(d, op, "dominfo", d.name)
            else:
                op = self.rng.choice(["destroy"] * 3 + ["dumpxml", "dominfo", "domstate"])
                if op == "destroy":
                    self.rvirsh(d, op, "destroy", d.name)
                    d.running, d.reason = False, libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED
                elif op == "dumpxml":
                    ET.fromstring(self.rvirsh(d, op, "dumpxml", d.name))
                else:
                    self.rvirsh(d, op, op, d.name)
        except Lost:
            lost(d, before, PyClient.after(d, op, before))
            time.sleep(0.3)
        except Failed as failed:
            log("%s %s %s: %s" % (self.name, d.name, op, str(failed)[:300]))
            if op in ("start", "destroy") or "no domain" in str(failed).lower():
                lost(d, before, PyClient.after(d, op, before))


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    if args.seed is None:
        args.seed = int(time.time()) % 100000
    if os.geteuid() != 0:
        print("soak: needs root (loop mount, namespaces, taps)", file=sys.stderr)
        return 2
    for path in (RVIRTD, RVIRSH, QEMU, os.path.join(GUEST, "vmlinuz"), os.path.join(TARGET, "plugins/qemu.wasm")):
        if not os.path.exists(path):
            print("soak: %s is missing (./x.sh soak builds it)" % path, file=sys.stderr)
            return 2
    # Orphaned guests (their daemon was SIGKILLed) are reparented here and reaped.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    soak = Soak(args)
    print("soak: seed %d, %s minutes, logs in %s" % (args.seed, args.minutes, soak.report_dir), flush=True)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    interrupted = False
    try:
        soak.main()
    except KeyboardInterrupt:
        interrupted = True
        soak.stats.violation("interrupted", "the soak was interrupted")
    except Exception:
        soak.stats.violation("harness", traceback.format_exc())
    finally:
        soak.teardown()
    print(soak.report(), flush=True)
    if interrupted:
        return 130
    return 1 if soak.stats.violations else 0


if __name__ == "__main__":
    sys.exit(main())
