#!/usr/bin/env python3
"""Drive the Xen test peer's dom0 through its root shell on COM2 (WORKDIR/ctl.sock).

  ctl.py WORKDIR [-t SECONDS] CMD...        run CMD (a shell command line) in dom0, print its
                                            output (stdout and stderr), exit with its status
  ctl.py WORKDIR wait-ready [-t SECONDS]    wait until dom0's toolstack answers (and rvirtd
                                            serves, when the payload has it); print timings

dom0's /init runs `sh /dev/ttyS1` in a loop: a non-interactive shell reading command lines
from the serial port (no prompt, no echo). Each call sends one line that brackets the command
between two markers carrying a fresh nonce, so output left over from an earlier, abandoned
call is never taken for this one's. The command travels base64-encoded and runs as a script
of its own with stdin from /dev/null: the line holds no quote, so a line cut short (bytes sent
while the port was still closed, early in the boot) cannot leave the port's shell waiting for
a closing quote, and the command's syntax errors or `exit` do not end that shell. Calls are
serialised by a lock file.
"""
import base64
import fcntl
import os
import re
import secrets
import socket
import sys
import time


def usage():
    print(__doc__.strip().split("\n\n")[0], file=sys.stderr)
    sys.exit(2)


class Ctl:
    def __init__(self, workdir):
        self.workdir = workdir
        self.lock = open(os.path.join(workdir, "ctl.lock"), "a")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.sock = None

    def connect(self, deadline):
        path = os.path.join(self.workdir, "ctl.sock")
        while True:
            try:
                sock = socket.socket(socket.AF_UNIX)
                sock.connect(path)
                self.sock = sock
                return
            except OSError:
                sock.close()
                if time.time() >= deadline:
                    raise TimeoutError(f"cannot connect to {path} (is the peer running?)")
                check_qemu(self.workdir)
                time.sleep(0.5)

    def run(self, command, deadline, retry_every=None):
        """Sends COMMAND; returns (output, status). With retry_every, sends it again (with a
        new nonce) every that many seconds until one answers (the shell may not be up yet)."""
        buf = b""
        nonces = []
        next_send = 0.0
        while True:
            now = time.time()
            if now >= next_send:
                nonce = secrets.token_hex(6)
                nonces.append(nonce)
                script = base64.b64encode(command.encode() + b"\n").decode()
                tmp = f"/tmp/.ctl{nonce}"
                line = (f"\necho __B{nonce}__; echo {script} | base64 -d >{tmp};"
                        f" sh {tmp} </dev/null 2>&1; echo __E{nonce}=$?__; rm -f {tmp}\n")
                self.sock.sendall(line.encode())
                next_send = now + retry_every if retry_every else float("inf")
            for nonce in nonces:
                m = re.search(rb"__B" + nonce.encode() + rb"__\r?\n(.*?)__E" + nonce.encode()
                              + rb"=(\d+)__", buf, re.S)
                if m:
                    return m.group(1).decode(errors="replace").replace("\r", ""), int(m.group(2))
            if now >= deadline:
                raise TimeoutError(f"no answer from dom0 to {command!r}")
            self.sock.settimeout(max(0.1, min(deadline, next_send) - now))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                check_qemu(self.workdir)
                continue
            if not data:
                raise ConnectionError("the ctl socket closed (QEMU exited?)")
            buf += data


def check_qemu(workdir):
    try:
        pid = int(open(os.path.join(workdir, "qemu.pid")).read())
        os.kill(pid, 0)
    except (OSError, ValueError):
        tail = serial_tail(workdir)
        raise RuntimeError(f"QEMU is not running; serial.log ends with:\n{tail}")


def serial_tail(workdir, lines=25):
    try:
        with open(os.path.join(workdir, "serial.log"), errors="replace", newline="") as f:
            text = f.read().replace("\r\n", "\n").replace("\r", "")
        return "\n".join(text.splitlines()[-lines:]) + "\n"
    except OSError:
        return "(no serial.log)"


def wait_ready(workdir, timeout):
    start = time.time()
    deadline = start + timeout
    try:
        boot = float(open(os.path.join(workdir, "boot.start")).read())
    except (OSError, ValueError):
        boot = start
    ctl = Ctl(workdir)
    ctl.connect(deadline)
    while True:
        out, _ = ctl.run("cat /run/peer/status; cat /run/peer/rvirtd 2>/dev/null", deadline,
                         retry_every=3)
        words = {line.split()[0]: line.split()[-1] for line in out.splitlines() if line.strip()}
        failed = [w for w in words if w.endswith("-failed")]
        if failed:
            print(out, end="")
            print(f"error: dom0 reports {', '.join(failed)}; serial.log ends with:\n"
                  f"{serial_tail(workdir)}", file=sys.stderr)
            return 1
        want_rvirtd = "want" in words
        if "dom0-ready" in words and (not want_rvirtd or "rvirtd-ready" in words):
            break
        if time.time() >= deadline:
            raise TimeoutError(f"dom0 not ready after {timeout} s; status so far:\n{out}")
        time.sleep(2)
    now = time.time()
    parts = [f"ready {now - boot:.1f} s after run.sh"]
    parts.append(f"dom0 toolstack at dom0 uptime {words['dom0-ready']} s")
    if want_rvirtd:
        parts.append(f"rvirtd at dom0 uptime {words['rvirtd-ready']} s")
    print("; ".join(parts))
    return 0


def main(argv):
    if len(argv) < 3:
        usage()
    workdir = argv[1]
    args = argv[2:]
    timeout = None
    wait = False
    while args and args[0] in ("-t", "--timeout", "wait-ready"):
        if args[0] == "wait-ready":
            wait = True
            args = args[1:]
        else:
            timeout = float(args[1])
            args = args[2:]
    try:
        if wait:
            if args:
                usage()
            return wait_ready(workdir, timeout or 600)
        if not args:
            usage()
        timeout = timeout or 300
        ctl = Ctl(workdir)
        deadline = time.time() + timeout
        ctl.connect(deadline)
        out, status = ctl.run(" ".join(args), deadline)
        sys.stdout.write(out)
        return status
    except (TimeoutError, RuntimeError, ConnectionError) as error:
        print(f"ctl.py: {error}", file=sys.stderr)
        return 124 if isinstance(error, TimeoutError) else 125


if __name__ == "__main__":
    sys.exit(main(sys.argv))
