#!/usr/bin/python3
"""define-fidelity.py — how faithfully rvirt defines domains, measured against libvirt 9.0.

Defines each input domain XML (its <domain type> changed to 'test') into test:///default of
a reference libvirtd and of an rvirtd serving rvirt's test plugin, reads back XMLDesc(0) of
the inactive definition, undefines it, and compares the two documents. Prints one line per
input that is not identical and a summary:

    N identical, N differ, N refused-by-libvirt-accepted-by-rvirt,
    N accepted-by-libvirt-refused-by-rvirt, N refused-by-both (N with another error)

Usage (as root, /usr/bin/python3 for python3-libvirt):
    tools/rvirtd/define-fidelity.py [options] [GLOB ...]

GLOB is relative to --testdata (default: 'qemuxml2argvdata/[a-c]*.xml' and
'genericxml2xmlindata/*.xml'). Options:
    --testdata DIR      libvirt's test data (default $SHARED/libvirt-testdata, ../shared)
    --libvirt-uri URI   a running reference daemon's test URI; without it one is started
                        with $SHARED/conformance/start-libvirtd.sh in a temporary directory
    --rvirt-uri URI     a running rvirtd's test URI; without it --rvirtd is started
    --rvirtd PATH       the rvirtd binary (default target/release/rvirtd)
    --plugins DIR       a directory of plugins searched before the checkout's target/plugins
                        (RVIRT_PLUGIN_PATH), e.g. a test plugin built elsewhere
    -v                  print each difference as a short unified diff, not only its first line
    --only KIND         print only inputs of one kind (differ, refused-by-libvirt, ...)

Generated values are normalised on both sides before comparing: a UUID the input does not
give, a VM generation ID the input asks to generate, MAC addresses the input does not give.
"""

import argparse
import difflib
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import libvirt

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("SHARED", os.path.join(ROOT, "..", "shared"))
DEFAULT_GLOBS = ["qemuxml2argvdata/[a-c]*.xml", "genericxml2xmlindata/*.xml"]

# Silence libvirt's default error handler (it prints every refusal to stderr).
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def as_test_domain(xml):
    """The input with its root element's type changed to 'test'."""
    match = re.search(r"<domain\b[^>]*>", xml)
    if not match:
        return xml
    start = match.group(0)
    if re.search(r"\btype=(['\"])[^'\"]*\1", start):
        new_start = re.sub(r"\btype=(['\"])[^'\"]*\1", "type='test'", start, count=1)
    else:
        new_start = start.replace("<domain", "<domain type='test'", 1)
    xml = xml[: match.start()] + new_start + xml[match.end():]
    # libvirt's test:///default already holds a domain named 'test'.
    return re.sub(r"<name>test</name>", "<name>test-input</name>", xml, count=1)


def normalise(desc, source):
    if not re.search(r"<uuid>", source):
        desc = re.sub(r"<uuid>[^<]*</uuid>", "<uuid>GENERATED</uuid>", desc)
    if re.search(r"<genid\s*/>", source):
        desc = re.sub(r"<genid>[^<]*</genid>", "<genid>GENERATED</genid>", desc)
    given = {m.lower() for m in re.findall(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}", source)}

    def mac(match):
        value = match.group(0)
        return value if value.lower() in given else "GENERATED-MAC"

    return re.sub(r"(?<=address=')[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}(?=')", mac, desc)


def define_and_describe(conn, xml):
    """('ok', xml) or ('error', 'CODE message')."""
    try:
        dom = conn.defineXML(xml)
    except libvirt.libvirtError as err:
        return "error", "%s %s" % (err.get_error_code(), err.get_error_message())
    try:
        return "ok", dom.XMLDesc(0)
    except libvirt.libvirtError as err:
        return "error", "XMLDesc: %s %s" % (err.get_error_code(), err.get_error_message())
    finally:
        try:
            dom.undefineFlags(
                libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
            )
        except libvirt.libvirtError:
            pass


def first_difference(left, right, verbose):
    lines = list(
        difflib.unified_diff(
            left.splitlines(), right.splitlines(), "libvirt", "rvirt", n=0, lineterm=""
        )
    )[2:]
    if verbose:
        return "\n".join("      " + line for line in lines[:40])
    removed = next((line for line in lines if line.startswith("-")), "")
    added = next((line for line in lines if line.startswith("+")), "")
    return "%s | %s" % (removed.strip(), added.strip())


class Daemon:
    """A daemon this script started, stopped on exit."""

    def __init__(self):
        self.stop_actions = []

    def start_libvirtd(self, tmp):
        script = os.path.join(SHARED, "conformance", "start-libvirtd.sh")
        directory = os.path.join(tmp, "lvd")
        out = subprocess.run(
            [script, "start", directory], capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            sys.exit("define-fidelity: the reference libvirtd did not start:\n" + out.stderr)
        self.stop_actions.append(
            lambda: subprocess.run([script, "stop", directory], capture_output=True, check=False)
        )
        uris = dict(
            line.split("=", 1) for line in out.stdout.splitlines() if "=" in line
        )
        return uris["TEST_URI"].strip("'")

    def start_rvirtd(self, tmp, binary, plugins):
        directory = os.path.join(tmp, "rvirtd")
        os.makedirs(directory)
        env = dict(os.environ)
        env["RVIRT_STATE_ROOT"] = os.path.join(directory, "state")
        env["RVIRT_CACHE_DIR"] = os.path.join(directory, "cache")
        if plugins:
            env["RVIRT_PLUGIN_PATH"] = os.path.abspath(plugins)
        log = open(os.path.join(directory, "rvirtd.log"), "w")
        proc = subprocess.Popen(
            [binary, "--unix-sock-dir", directory, "--pid-file", os.path.join(directory, "pid")],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )

        def stop():
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

        self.stop_actions.append(stop)
        sock = os.path.join(directory, "rvirt-sock")
        for _ in range(300):
            if os.path.exists(sock):
                return "test+unix:///default?socket=" + sock
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        sys.exit("define-fidelity: rvirtd did not start; see " + log.name)

    def stop(self):
        for action in reversed(self.stop_actions):
            action()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("globs", nargs="*")
    parser.add_argument("--testdata", default=os.path.join(SHARED, "libvirt-testdata"))
    parser.add_argument("--libvirt-uri")
    parser.add_argument("--rvirt-uri")
    parser.add_argument("--rvirtd", default=os.path.join(ROOT, "target/release/rvirtd"))
    parser.add_argument("--plugins")
    parser.add_argument("--only")
    parser.add_argument("-v", action="store_true")
    args = parser.parse_args()

    files = []
    for pattern in args.globs or DEFAULT_GLOBS:
        files.extend(sorted(glob.glob(os.path.join(args.testdata, pattern))))
    if not files:
        sys.exit("define-fidelity: no inputs")

    tmp = tempfile.mkdtemp(prefix="dfid.", dir="/tmp")
    daemons = Daemon()
    try:
        libvirt_uri = args.libvirt_uri or daemons.start_libvirtd(tmp)
        rvirt_uri = args.rvirt_uri or daemons.start_rvirtd(tmp, args.rvirtd, args.plugins)
        reference = libvirt.open(libvirt_uri)
        ours = libvirt.open(rvirt_uri)
        counts = {}
        for path in files:
            with open(path, encoding="utf-8") as handle:
                source = as_test_domain(handle.read())
            name = os.path.relpath(path, args.testdata)
            ref_kind, ref_out = define_and_describe(reference, source)
            our_kind, our_out = define_and_describe(ours, source)
            if ref_kind == "ok" and our_kind == "ok":
                left, right = normalise(ref_out, source), normalise(our_out, source)
                if left == right:
                    kind, detail = "identical", ""
                else:
                    kind, detail = "differ", first_difference(left, right, args.v)
            elif ref_kind == "error" and our_kind == "ok":
                kind, detail = "refused-by-libvirt-accepted-by-rvirt", ref_out
            elif ref_kind == "ok":
                kind, detail = "accepted-by-libvirt-refused-by-rvirt", our_out
            elif ref_out.split(" ", 1)[0] == our_out.split(" ", 1)[0]:
                kind, detail = "refused-by-both", ""
                if ref_out != our_out and args.v:
                    detail = "libvirt: %s\n      rvirt:   %s" % (ref_out, our_out)
            else:
                kind = "refused-by-both-other-error"
                detail = "libvirt: %s\n      rvirt:   %s" % (ref_out, our_out)
            counts[kind] = counts.get(kind, 0) + 1
            if kind != "identical" and (not args.only or args.only in kind) and (
                kind != "refused-by-both" or detail
            ):
                print("%-40s %s" % (name, kind))
                if detail:
                    print(("      " if not detail.startswith("      ") else "") + detail)
        order = [
            "identical",
            "differ",
            "refused-by-libvirt-accepted-by-rvirt",
            "accepted-by-libvirt-refused-by-rvirt",
            "refused-by-both",
            "refused-by-both-other-error",
        ]
        print(", ".join("%d %s" % (counts.get(kind, 0), kind) for kind in order))
    finally:
        daemons.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
