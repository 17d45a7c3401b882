#!/usr/bin/python3
"""Checks virt-xml's network golden files against real libvirt.

Replays `tests/data/network/*.xml` (define, then XMLDesc) and `tests/data/network-update/`
(define, then each virNetworkUpdate change of the `.updates` file, then XMLDesc or the error)
through libvirt's in-process test driver (`test:///default`, python3-libvirt), writes what
libvirt answers in the golden `.expect` format and compares it with the committed `.expect`
files. Needs python3-libvirt (Debian: `apt-get install python3-libvirt`); the Rust tests do
not need it.

    /usr/bin/python3 crates/virt-xml/tests/oracle/network.py [CASE-NAME...]

Two differences are known and not reported: virt-xml's XML syntax errors carry a column
after the line (`name:LINE:COL:`), and libvirt does not read back a network's live-only
`connections` attribute.
"""
import difflib
import glob
import os
import re
import sys

import libvirt

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
COMMANDS = {"modify": 1, "delete": 2, "add-last": 3, "add-first": 4}
SECTIONS = {"bridge": 1, "domain": 2, "ip": 3, "ip-dhcp-host": 4, "ip-dhcp-range": 5,
            "forward": 6, "forward-interface": 7, "forward-pf": 8, "portgroup": 9,
            "dns-host": 10, "dns-txt": 11, "dns-srv": 12}
ERRORS = {}
for key in dir(libvirt):
    # The level names share values with real error numbers.
    if key.startswith("VIR_ERR_") and key not in ("VIR_ERR_NONE", "VIR_ERR_WARNING",
                                                   "VIR_ERR_ERROR"):
        ERRORS.setdefault(getattr(libvirt, key), key)
DOMAINS = {getattr(libvirt, key): key for key in dir(libvirt) if key.startswith("VIR_FROM_")}


def describe(error):
    code, domain = error.get_error_code(), error.get_error_domain()
    return "error: %s(%d)/%s(%d)\n%s\n" % (ERRORS.get(code), code, DOMAINS.get(domain), domain,
                                           error.get_error_message())


def code(word, names):
    return names[word] if word in names else int(word)


def steps(path):
    lines = [line for line in open(path).read().split("\n") if not line.startswith("#")]
    step = []
    for line in lines + [""]:
        if line.strip():
            step.append(line)
        elif step:
            yield step
            step = []


def replay(conn, case, with_updates):
    try:
        network = conn.networkDefineXML(open(case).read())
    except libvirt.libvirtError as error:
        return describe(error)
    out = []
    try:
        if not with_updates:
            return network.XMLDesc(0)
        for step in steps(case[:-4] + ".updates"):
            words = step[0].split()
            parent_index = int(words[2]) if len(words) > 2 else -1
            out.append("## %s\n" % step[0])
            try:
                network.update(code(words[0], COMMANDS), code(words[1], SECTIONS), parent_index,
                               "\n".join(step[1:]), 0)
                out.append(network.XMLDesc(0))
            except libvirt.libvirtError as error:
                out.append(describe(error))
        return "".join(out)
    finally:
        network.undefine()


def known_differences_removed(text):
    text = re.sub(r"^(\S+:\d+):\d+: ", r"\1: ", text, flags=re.M)
    return re.sub(r"^<network connections='\d+'", "<network", text, flags=re.M)


def main():
    libvirt.registerErrorHandler(lambda *args: None, None)
    conn = libvirt.open("test:///default")
    wanted = set(sys.argv[1:])
    n_same = n_different = 0
    for folder, with_updates in (("network", False), ("network-update", True)):
        for case in sorted(glob.glob(os.path.join(DATA, folder, "*.xml"))):
            name = os.path.basename(case)[:-4]
            if wanted and name not in wanted:
                continue
            libvirt_says = replay(conn, case, with_updates)
            with open(case[:-4] + ".expect") as expect:
                virt_xml_says = known_differences_removed(expect.read())
            if libvirt_says == virt_xml_says:
                n_same += 1
                continue
            n_different += 1
            sys.stdout.writelines(difflib.unified_diff(
                libvirt_says.splitlines(True), virt_xml_says.splitlines(True),
                "libvirt/%s/%s" % (folder, name), "virt-xml/%s/%s" % (folder, name)))
    print("%d same as libvirt, %d different" % (n_same, n_different))
    return 1 if n_different else 0


if __name__ == "__main__":
    sys.exit(main())
