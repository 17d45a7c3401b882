#!/usr/bin/python3
"""A simulated VirtualBox web service (vboxwebsrv), written for rvirt's tests of its
VirtualBox driver plugin (libvirt's vbox driver rebuilt). This is NOT Oracle software and
contains none: it answers the SOAP calls of VirtualBox 7.0's web service API (vboxweb.wsdl,
document/literal SOAP 1.1, namespace http://www.virtualbox.org/) that the driver makes, with
envelopes, faults and managed object references shaped like vboxwebsrv's, against a small
in-memory host (VirtualBox 7.0.14) with three registered machines.

Usage:
  vboxwebsrv.py --port PORT --user USER --password PASS --state DIR

  PORT 0 picks a free port. Once listening on 127.0.0.1 it prints "LISTENING <port>".
  Any path, POST only, with a text/xml body. USER:PASS is what IWebsessionManager_logon
  accepts (there is no HTTP authentication, as with vboxwebsrv). Every request is logged as
  one line, "METHOD arg=value ..." (object references shown as their class and, for
  machines, snapshots and consoles, the machine's or snapshot's name, e.g.
  "_this=IMachine:web01"; a reference the service does not know is shown as given; the
  password as ***), to DIR/requests.log, which the tests read.

What it simulates:
  - Web sessions: logon gives an IVirtualBox reference "<16 hex session>-<16 hex object>";
    every object handed out gets a new reference in that session (the same machine asked
    twice gets two), logoff invalidates them all and unlocks the session's ISessions.
  - IVirtualBox, IHost, IMachine (getters, setters, register/unregister/deleteConfig,
    launchVMProcess, lockMachine, snapshots), ISession (locks: Shared, Write; the session
    machine is mutable only under a Write lock), IConsole (power operations; a machine whose
    description contains "ignores-acpi" ignores the power button), IProgress (always
    complete), ISnapshot, IVirtualBoxErrorInfo, IManagedObjectRef.
  - Faults: VirtualBox's RuntimeFault (result code and an IVirtualBoxErrorInfo reference),
    InvalidObjectFault for unknown or stale references, gSOAP-like client faults for
    unknown methods and malformed arguments. Objects whose machine, snapshot or lock is gone
    answer E_ACCESSDENIED "The object is not ready", as VirtualBox's do.
"""

import argparse
import os
import re
import secrets
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape as xml_escape

NS_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS_VBOX = "http://www.virtualbox.org/"

ENVELOPE_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:vbox="http://www.virtualbox.org/"><SOAP-ENV:Body>')
ENVELOPE_CLOSE = "</SOAP-ENV:Body></SOAP-ENV:Envelope>"

# Result codes.
VBOX_E_OBJECT_NOT_FOUND = 0x80BB0001
VBOX_E_INVALID_VM_STATE = 0x80BB0002
VBOX_E_INVALID_OBJECT_STATE = 0x80BB0007
VBOX_E_OBJECT_IN_USE = 0x80BB000C
E_ACCESSDENIED = 0x80070005
E_INVALIDARG = 0x80070057

VERSION = "7.0.14"
REVISION = 161095
API_VERSION = "7_0"

HOST_MEMORY_MB = 16384
HOST_CPUS = 4
HOST_CPU_MHZ = 2600
HOST_CPU_DESCRIPTION = "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz"

OS_TYPES = ["Other", "Other_64", "Ubuntu_64", "Debian_64", "Windows10_64", "Linux_64",
            "Fedora_64"]
FRONTENDS = ["headless", "gui", "sdl"]
LOCK_TYPES = ["Null", "Shared", "Write", "VM"]
CLEANUP_MODES = ["UnregisterOnly", "DetachAllReturnNone", "DetachAllReturnHardDisksOnly",
                 "Full", "DetachAllReturnHardDisksAndVMRemovable"]

ACTIVE = ("Running", "Paused")
STOPPED = ("PoweredOff", "Aborted", "Saved")

REF = re.compile(r"^[0-9a-f]{16}-[0-9a-f]{16}$")
UUID_TEXT = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                       r"[0-9a-fA-F]{12})\}?$")


def hex_code(code):
    return "0x%08X" % (code & 0xFFFFFFFF)


def signed(code):
    code &= 0xFFFFFFFF
    return code - (1 << 32) if code & 0x80000000 else code


def local(tag):
    return tag.rsplit("}", 1)[-1]


def namespace(tag):
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return xml_escape(str(value))


def as_uuid(value):
    m = UUID_TEXT.match(value.strip())
    return m.group(1).lower() if m else None


class RuntimeFault(Exception):
    """A VirtualBox error: result code and message (and, once raised through a call with a
    web session, an IVirtualBoxErrorInfo reference)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidObject(Exception):
    def __init__(self, ref):
        super().__init__(ref)
        self.ref = ref


class ClientFault(Exception):
    """A fault of the SOAP layer (gSOAP's): no VirtualBox detail."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def not_ready():
    return RuntimeFault(E_ACCESSDENIED, "The object is not ready")


# ---------------------------------------------------------------------------------------
# State


class Snapshot:
    def __init__(self, machine, snap_id, name, description, timestamp, online, parent):
        self.machine = machine
        self.id = snap_id
        self.name = name
        self.description = description
        self.timestamp = timestamp
        self.online = online
        self.parent = parent
        self.children = []
        self.deleted = False
        # The machine's settings when it was taken, which restoring brings back.
        self.memory = machine.memory
        self.cpus = machine.cpus
        if parent is not None:
            parent.children.append(self)


class Machine:
    def __init__(self, name, machine_id, state, memory, cpus, os_type, description,
                 registered=True):
        self.name = name
        self.id = machine_id
        self.state = state
        self.memory = memory
        self.cpus = cpus
        self.os_type = os_type
        self.description = description
        self.registered = registered
        self.deleted = False
        self.snapshots = []
        self.current = None

    def root_snapshot(self):
        return next((s for s in self.snapshots if s.parent is None), None)


class VSession:
    """An ISession: unlocked, or holding a lock on one machine. gen changes with every lock
    and unlock, so the session machine and console of an earlier lock go stale."""

    def __init__(self, sid):
        self.sid = sid
        self.state = "Unlocked"
        self.type = "Null"
        self.machine = None
        self.lock_type = None
        self.gen = 0


class MachineView:
    """What an IMachine reference names: the machine, or the session machine of a lock."""

    def __init__(self, machine, session=None):
        self.machine = machine
        self.session = session
        self.gen = session.gen if session is not None else None


class ConsoleView:
    def __init__(self, session):
        self.session = session
        self.gen = session.gen


class Progress:
    def __init__(self, description):
        self.description = description


class ErrorInfo:
    def __init__(self, code, message):
        self.code = code
        self.message = message


class WebSession:
    def __init__(self, sid):
        self.sid = sid
        self.objects = {}
        self.next_id = 0

    def add(self, cls, target):
        self.next_id += 1
        ref = "%s-%016x" % (self.sid, self.next_id)
        self.objects[ref] = (cls, target)
        return ref


class State:
    def __init__(self):
        self.machines = [
            Machine("web01", "a1b2c3d4-0001-4000-8000-000000000001", "Running", 2048, 2,
                    "Ubuntu_64", "frontend"),
            Machine("db01", "a1b2c3d4-0002-4000-8000-000000000002", "PoweredOff", 1024, 1,
                    "Debian_64", ""),
            Machine("saved01", "a1b2c3d4-0003-4000-8000-000000000003", "Saved", 512, 1,
                    "Windows10_64", ""),
        ]
        db01 = self.machines[1]
        base = Snapshot(db01, "a1b2c3d4-0002-4000-8000-0000000000a1", "base",
                        "clean install", 1700000000000, False, None)
        patched = Snapshot(db01, "a1b2c3d4-0002-4000-8000-0000000000a2", "patched", "",
                           1700000600000, False, base)
        db01.snapshots = [base, patched]
        db01.current = patched
        self.sessions = []
        self.websessions = {}

    def registered(self):
        return [m for m in self.machines if m.registered and not m.deleted]

    def holders(self, machine):
        return [s for s in self.sessions if s.state == "Locked" and s.machine is machine]

    def locked(self, machine):
        return machine.state in ACTIVE or bool(self.holders(machine))

    def unlock(self, session):
        session.state = "Unlocked"
        session.type = "Null"
        session.machine = None
        session.lock_type = None
        session.gen += 1


# ---------------------------------------------------------------------------------------
# Calls


class Call:
    """One request: its method, arguments (name, text) in order, and the web session its
    objects are handed out in."""

    def __init__(self, service, method, args):
        self.service = service
        self.state = service.state
        self.method = method
        self.args = args
        self.ws = None
        self.this = None
        self.this_class = None

    def values(self, name):
        return [v for n, v in self.args if n == name]

    def raw(self, name, required=True):
        values = self.values(name)
        if not values:
            if required:
                raise ClientFault("Validation constraint violation: occurrence constraint "
                                  "violation in element '%s'" % name)
            return ""
        return values[0]

    def string(self, name, required=True):
        return self.raw(name, required)

    def integer(self, name):
        value = self.raw(name).strip()
        try:
            return int(value)
        except ValueError:
            raise ClientFault("Validation constraint violation: data type mismatch in "
                              "element '%s'" % name)

    def boolean(self, name):
        value = self.raw(name).strip().lower()
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        raise ClientFault("Validation constraint violation: data type mismatch in element "
                          "'%s'" % name)

    def enum(self, name, allowed):
        value = self.raw(name).strip()
        if value not in allowed:
            raise ClientFault("Validation constraint violation: invalid value in element "
                              "'%s'" % name)
        return value

    def ref(self, name, cls):
        value = self.raw(name).strip()
        if not value:
            raise RuntimeFault(E_INVALIDARG, "Argument %s is NULL" % name)
        _, target = self.service.resolve(value, cls)
        return target

    def add(self, cls, target):
        return self.ws.add(cls, target)

    def add_machine(self, machine, session=None):
        return self.add("IMachine", MachineView(machine, session))


class Ret:
    """A return with out-parameters: values are returnvals, outputs (name, value)."""

    def __init__(self, values, outputs=()):
        self.values = values
        self.outputs = list(outputs)


def machine_of(view):
    machine = view.machine
    if machine.deleted:
        raise not_ready()
    session = view.session
    if session is not None and (session.state != "Locked" or session.gen != view.gen):
        raise not_ready()
    return machine


def session_machine(view, write):
    """The machine, when view is a session machine whose lock allows changes (a Write lock
    when write); else the "not mutable" fault."""
    machine = machine_of(view)
    if view.session is None or (write and view.session.lock_type != "Write"):
        raise RuntimeFault(VBOX_E_INVALID_OBJECT_STATE,
                           "The machine is not mutable (state is %s)" % machine.state)
    return machine


def mutable_machine(view, saved_ok=False):
    machine = machine_of(view)
    if machine.registered:
        if view.session is None or view.session.lock_type != "Write" or \
                (machine.state == "Saved" and not saved_ok):
            raise RuntimeFault(VBOX_E_INVALID_OBJECT_STATE,
                               "The machine is not mutable (state is %s)" % machine.state)
    return machine


def snapshot_of(snap):
    if snap.deleted or snap.machine.deleted:
        raise not_ready()
    return snap


def console_machine(call):
    view = call.this
    session = view.session
    if session.state != "Locked" or session.gen != view.gen or session.machine.deleted:
        raise not_ready()
    return session.machine


def progress(call, description):
    return call.add("IProgress", Progress(description))


def invalid_state(machine):
    return RuntimeFault(VBOX_E_INVALID_VM_STATE, "Invalid machine state: %s" % machine.state)


# -- IWebsessionManager


def ws_logon(call):
    user = call.string("username")
    password = call.string("password")
    if user != call.service.user or password != call.service.password:
        raise RuntimeFault(E_ACCESSDENIED, "Authentication failed for user '%s'" % user)
    sid = secrets.token_hex(8)
    while sid in call.state.websessions:
        sid = secrets.token_hex(8)
    call.ws = WebSession(sid)
    call.state.websessions[sid] = call.ws
    return call.add("IVirtualBox", None)


def ws_logoff(call):
    ws = call.ws
    for session in [s for s in call.state.sessions if s.sid == ws.sid]:
        if session.state == "Locked":
            call.state.unlock(session)
        call.state.sessions.remove(session)
    del call.state.websessions[ws.sid]
    return None


def ws_get_session_object(call):
    session = VSession(call.ws.sid)
    call.state.sessions.append(session)
    return call.add("ISession", session)


# -- IVirtualBox


def vb_create_machine(call):
    call.string("settingsFile")
    name = call.string("name")
    call.values("groups")
    os_type = call.string("osTypeId").strip()
    flags = call.string("flags", required=False)
    if not name.strip():
        raise RuntimeFault(E_INVALIDARG, "Machine name must not be empty")
    if os_type == "":
        os_type = "Other"
    if os_type not in OS_TYPES:
        raise RuntimeFault(E_INVALIDARG, "Guest OS type '%s' is invalid" % os_type)
    machine_id = str(uuid.uuid4())
    for flag in flags.split(","):
        key, _, value = flag.strip().partition("=")
        if key.strip().lower() == "uuid" and as_uuid(value):
            machine_id = as_uuid(value)
    machine = Machine(name, machine_id, "PoweredOff", 128, 1, os_type, "", registered=False)
    call.state.machines.append(machine)
    return call.add_machine(machine)


def vb_register_machine(call):
    machine = machine_of(call.ref("machine", "IMachine"))
    for other in call.state.registered():
        if other.id == machine.id:
            raise RuntimeFault(VBOX_E_OBJECT_IN_USE,
                               "Registered machine with UUID {%s} ('%s') already exists"
                               % (other.id, other.name))
        if other.name == machine.name:
            raise RuntimeFault(VBOX_E_OBJECT_IN_USE,
                               "Machine with name '%s' already exists" % machine.name)
    machine.registered = True
    return None


def vb_find_machine(call):
    wanted = call.string("nameOrId")
    wanted_id = as_uuid(wanted)
    for machine in call.state.registered():
        if (wanted_id and machine.id == wanted_id) or machine.name == wanted:
            return call.add_machine(machine)
    raise RuntimeFault(VBOX_E_OBJECT_NOT_FOUND,
                       "Could not find a registered machine named '%s'" % wanted)


# -- IHost


def cpu_id(call):
    value = call.integer("cpuId")
    if not 0 <= value < HOST_CPUS:
        raise RuntimeFault(E_INVALIDARG, "Invalid CPU id: %d" % value)
    return value


def host_processor_speed(call):
    cpu_id(call)
    return HOST_CPU_MHZ


def host_processor_description(call):
    cpu_id(call)
    return HOST_CPU_DESCRIPTION


def host_memory_available(call):
    used = sum(m.memory for m in call.state.machines if m.state in ACTIVE and not m.deleted)
    return max(0, HOST_MEMORY_MB - 2048 - used)


# -- IMachine


def m_get_session_state(call):
    machine = machine_of(call.this)
    return "Locked" if call.state.locked(machine) else "Unlocked"


def m_get_current_snapshot(call):
    machine = machine_of(call.this)
    return call.add("ISnapshot", machine.current) if machine.current else ""


def m_find_snapshot(call):
    machine = machine_of(call.this)
    wanted = call.string("nameOrId")
    if wanted == "":
        root = machine.root_snapshot()
        if root is None:
            raise RuntimeFault(VBOX_E_OBJECT_NOT_FOUND,
                               "This machine does not have any snapshots")
        return call.add("ISnapshot", root)
    wanted_id = as_uuid(wanted)
    for snap in machine.snapshots:
        if (wanted_id and snap.id == wanted_id) or snap.name == wanted:
            return call.add("ISnapshot", snap)
    raise RuntimeFault(VBOX_E_OBJECT_NOT_FOUND, "Could not find a snapshot named '%s'" % wanted)


def m_set_memory_size(call):
    machine = mutable_machine(call.this)
    value = call.integer("memorySize")
    if not 4 <= value <= 2097152:
        raise RuntimeFault(E_INVALIDARG, "Invalid RAM size: %d MB" % value)
    machine.memory = value
    return None


def m_set_cpu_count(call):
    machine = mutable_machine(call.this)
    value = call.integer("CPUCount")
    if not 1 <= value <= 64:
        raise RuntimeFault(E_INVALIDARG, "Invalid virtual CPU count: %d" % value)
    machine.cpus = value
    return None


def m_set_description(call):
    machine = mutable_machine(call.this, saved_ok=True)
    machine.description = call.string("description")
    return None


def m_save_settings(call):
    machine_of(call.this)
    return None


def m_unregister(call):
    machine = machine_of(call.this)
    mode = call.enum("cleanupMode", CLEANUP_MODES)
    if not machine.registered:
        raise RuntimeFault(VBOX_E_INVALID_OBJECT_STATE,
                           "The machine '%s' is not registered" % machine.name)
    if machine.state not in STOPPED or call.state.holders(machine):
        raise RuntimeFault(VBOX_E_INVALID_VM_STATE,
                           "Cannot unregister the machine '%s' while it is locked"
                           % machine.name)
    if mode == "UnregisterOnly" and machine.snapshots:
        raise RuntimeFault(VBOX_E_INVALID_OBJECT_STATE,
                           "Cannot unregister the machine '%s' because it has %d snapshots"
                           % (machine.name, len(machine.snapshots)))
    machine.registered = False
    return []


def m_delete_config(call):
    machine = machine_of(call.this)
    call.values("media")
    if machine.registered:
        raise RuntimeFault(VBOX_E_INVALID_OBJECT_STATE,
                           "Cannot delete settings of a registered machine")
    machine.deleted = True
    for snap in machine.snapshots:
        snap.deleted = True
    call.state.machines.remove(machine)
    return progress(call, "Deleting files")


def check_lockable(call, machine, session):
    if not machine.registered:
        raise RuntimeFault(VBOX_E_INVALID_OBJECT_STATE,
                           "The machine '%s' is not registered" % machine.name)
    if session.state != "Unlocked":
        raise RuntimeFault(VBOX_E_INVALID_OBJECT_STATE, "The given session is busy")


def m_launch_vm_process(call):
    machine = machine_of(call.this)
    session = call.ref("session", "ISession")
    name = call.string("name")
    call.values("environmentChanges")
    check_lockable(call, machine, session)
    if machine.state not in STOPPED or call.state.holders(machine):
        raise RuntimeFault(VBOX_E_INVALID_OBJECT_STATE,
                           "The machine '%s' is already locked by a session (or being "
                           "locked or unlocked)" % machine.name)
    if name not in FRONTENDS:
        raise RuntimeFault(E_INVALIDARG, "Invalid frontend name: '%s'" % name)
    machine.state = "Running"
    session.state = "Locked"
    session.type = "Shared"
    session.machine = machine
    session.lock_type = "Shared"
    session.gen += 1
    return progress(call, "Starting virtual machine")


def m_lock_machine(call):
    machine = machine_of(call.this)
    session = call.ref("session", "ISession")
    lock_type = call.enum("lockType", LOCK_TYPES)
    if lock_type == "Null":
        raise RuntimeFault(E_INVALIDARG, "Invalid lock type: Null")
    check_lockable(call, machine, session)
    write = lock_type in ("Write", "VM")
    if write and call.state.locked(machine):
        raise RuntimeFault(VBOX_E_INVALID_OBJECT_STATE,
                           "The machine '%s' is already locked by a session" % machine.name)
    session.state = "Locked"
    session.type = "WriteLock" if write else "Shared"
    session.machine = machine
    session.lock_type = "Write" if write else "Shared"
    session.gen += 1
    return None


def m_take_snapshot(call):
    machine = session_machine(call.this, write=False)
    name = call.string("name")
    description = call.string("description", required=False)
    call.boolean("pause")
    snap = Snapshot(machine, str(uuid.uuid4()), name, description, int(time.time() * 1000),
                    machine.state in ACTIVE, machine.current)
    machine.snapshots.append(snap)
    machine.current = snap
    return Ret([progress(call, "Taking a snapshot of the virtual machine")],
               [("id", snap.id)])


def m_restore_snapshot(call):
    machine = session_machine(call.this, write=False)
    snap = snapshot_of(call.ref("snapshot", "ISnapshot"))
    if machine.state in ACTIVE:
        raise RuntimeFault(VBOX_E_INVALID_VM_STATE,
                           "Cannot restore the snapshot: the machine is running")
    session_machine(call.this, write=True)
    if snap.machine is not machine:
        raise RuntimeFault(E_INVALIDARG, "The snapshot does not belong to this machine")
    machine.current = snap
    machine.memory = snap.memory
    machine.cpus = snap.cpus
    machine.state = "Saved" if snap.online else "PoweredOff"
    return progress(call, "Restoring snapshot '%s'" % snap.name)


def m_delete_snapshot(call):
    machine = session_machine(call.this, write=True)
    wanted = call.string("id")
    wanted_id = as_uuid(wanted)
    snap = next((s for s in machine.snapshots if s.id == wanted_id), None)
    if snap is None:
        raise RuntimeFault(VBOX_E_OBJECT_NOT_FOUND,
                           "Could not find a snapshot with UUID {%s}" % wanted.strip())
    if len(snap.children) > 1:
        raise RuntimeFault(VBOX_E_INVALID_OBJECT_STATE,
                           "Snapshot '%s' has more than one child snapshot" % snap.name)
    parent = snap.parent
    for child in snap.children:
        child.parent = parent
        if parent is not None:
            parent.children.insert(parent.children.index(snap), child)
    if parent is not None:
        parent.children.remove(snap)
    snap.children = []
    snap.deleted = True
    machine.snapshots.remove(snap)
    if machine.current is snap:
        machine.current = parent
    return progress(call, "Deleting snapshot '%s'" % snap.name)


# -- ISession


def s_unlock_machine(call):
    session = call.this
    if session.state != "Locked":
        raise RuntimeFault(VBOX_E_INVALID_OBJECT_STATE,
                           "The session is not locked (session state: %s)" % session.state)
    call.state.unlock(session)
    return None


def s_get_console(call):
    session = call.this
    if session.state == "Locked" and session.machine.state in ACTIVE:
        return call.add("IConsole", ConsoleView(session))
    return ""


def s_get_machine(call):
    session = call.this
    if session.state == "Locked":
        return call.add_machine(session.machine, session)
    return ""


# -- IConsole


def c_power_down(call):
    machine = console_machine(call)
    if machine.state not in ACTIVE:
        raise invalid_state(machine)
    machine.state = "PoweredOff"
    return progress(call, "Powering off the virtual machine")


def c_power_button(call):
    machine = console_machine(call)
    if machine.state != "Running":
        raise invalid_state(machine)
    if "ignores-acpi" not in machine.description:
        machine.state = "PoweredOff"
    return None


def c_pause(call):
    machine = console_machine(call)
    if machine.state != "Running":
        raise invalid_state(machine)
    machine.state = "Paused"
    return None


def c_resume(call):
    machine = console_machine(call)
    if machine.state != "Paused":
        raise invalid_state(machine)
    machine.state = "Running"
    return None


def c_reset(call):
    machine = console_machine(call)
    if machine.state != "Running":
        raise invalid_state(machine)
    return None


def c_get_machine(call):
    machine = console_machine(call)
    return call.add_machine(machine, call.this.session)


# -- IProgress


def p_wait_for_completion(call):
    call.integer("timeout")
    return None


# -- ISnapshot


def snap_parent(call):
    snap = snapshot_of(call.this)
    return call.add("ISnapshot", snap.parent) if snap.parent else ""


def snap_children(call):
    snap = snapshot_of(call.this)
    return [call.add("ISnapshot", child) for child in snap.children]


# -- IManagedObjectRef


def ref_release(call):
    ref = call.raw("_this").strip()
    del call.ws.objects[ref]
    return None


def machine_getter(attr):
    return lambda call: getattr(machine_of(call.this), attr)


def snapshot_getter(attr):
    return lambda call: getattr(snapshot_of(call.this), attr)


# method -> (class of _this, or None for IWebsessionManager's; handler)
METHODS = {
    "IWebsessionManager_logon": (None, ws_logon),
    "IWebsessionManager_logoff": ("IVirtualBox", ws_logoff),
    "IWebsessionManager_getSessionObject": ("IVirtualBox", ws_get_session_object),

    "IVirtualBox_getVersion": ("IVirtualBox", lambda call: VERSION),
    "IVirtualBox_getVersionNormalized": ("IVirtualBox", lambda call: VERSION),
    "IVirtualBox_getRevision": ("IVirtualBox", lambda call: REVISION),
    "IVirtualBox_getAPIVersion": ("IVirtualBox", lambda call: API_VERSION),
    "IVirtualBox_getHost": ("IVirtualBox", lambda call: call.add("IHost", None)),
    "IVirtualBox_getMachines": ("IVirtualBox", lambda call: [
        call.add_machine(m) for m in call.state.registered()]),
    "IVirtualBox_findMachine": ("IVirtualBox", vb_find_machine),
    "IVirtualBox_createMachine": ("IVirtualBox", vb_create_machine),
    "IVirtualBox_registerMachine": ("IVirtualBox", vb_register_machine),

    "IHost_getMemorySize": ("IHost", lambda call: HOST_MEMORY_MB),
    "IHost_getMemoryAvailable": ("IHost", host_memory_available),
    "IHost_getProcessorCount": ("IHost", lambda call: HOST_CPUS),
    "IHost_getProcessorOnlineCount": ("IHost", lambda call: HOST_CPUS),
    "IHost_getProcessorCoreCount": ("IHost", lambda call: HOST_CPUS),
    "IHost_getProcessorOnlineCoreCount": ("IHost", lambda call: HOST_CPUS),
    "IHost_getProcessorSpeed": ("IHost", host_processor_speed),
    "IHost_getProcessorDescription": ("IHost", host_processor_description),

    "IMachine_getName": ("IMachine", machine_getter("name")),
    "IMachine_getId": ("IMachine", machine_getter("id")),
    "IMachine_getState": ("IMachine", machine_getter("state")),
    "IMachine_getMemorySize": ("IMachine", machine_getter("memory")),
    "IMachine_getCPUCount": ("IMachine", machine_getter("cpus")),
    "IMachine_getOSTypeId": ("IMachine", machine_getter("os_type")),
    "IMachine_getDescription": ("IMachine", machine_getter("description")),
    "IMachine_getRegistered": ("IMachine", machine_getter("registered")),
    "IMachine_getSnapshotCount": ("IMachine", lambda call: len(machine_of(call.this).snapshots)),
    "IMachine_getCurrentSnapshot": ("IMachine", m_get_current_snapshot),
    "IMachine_getSessionState": ("IMachine", m_get_session_state),
    "IMachine_findSnapshot": ("IMachine", m_find_snapshot),
    "IMachine_setMemorySize": ("IMachine", m_set_memory_size),
    "IMachine_setCPUCount": ("IMachine", m_set_cpu_count),
    "IMachine_setDescription": ("IMachine", m_set_description),
    "IMachine_saveSettings": ("IMachine", m_save_settings),
    "IMachine_unregister": ("IMachine", m_unregister),
    "IMachine_deleteConfig": ("IMachine", m_delete_config),
    "IMachine_launchVMProcess": ("IMachine", m_launch_vm_process),
    "IMachine_lockMachine": ("IMachine", m_lock_machine),
    "IMachine_takeSnapshot": ("IMachine", m_take_snapshot),
    "IMachine_restoreSnapshot": ("IMachine", m_restore_snapshot),
    "IMachine_deleteSnapshot": ("IMachine", m_delete_snapshot),

    "ISession_unlockMachine": ("ISession", s_unlock_machine),
    "ISession_getConsole": ("ISession", s_get_console),
    "ISession_getMachine": ("ISession", s_get_machine),
    "ISession_getState": ("ISession", lambda call: call.this.state),
    "ISession_getType": ("ISession", lambda call: call.this.type),

    "IConsole_powerDown": ("IConsole", c_power_down),
    "IConsole_powerButton": ("IConsole", c_power_button),
    "IConsole_pause": ("IConsole", c_pause),
    "IConsole_resume": ("IConsole", c_resume),
    "IConsole_reset": ("IConsole", c_reset),
    "IConsole_getMachine": ("IConsole", c_get_machine),

    "IProgress_waitForCompletion": ("IProgress", p_wait_for_completion),
    "IProgress_getCompleted": ("IProgress", lambda call: True),
    "IProgress_getCanceled": ("IProgress", lambda call: False),
    "IProgress_getPercent": ("IProgress", lambda call: 100),
    "IProgress_getResultCode": ("IProgress", lambda call: 0),
    "IProgress_getErrorInfo": ("IProgress", lambda call: ""),
    "IProgress_getDescription": ("IProgress", lambda call: call.this.description),

    "ISnapshot_getName": ("ISnapshot", snapshot_getter("name")),
    "ISnapshot_getId": ("ISnapshot", snapshot_getter("id")),
    "ISnapshot_getDescription": ("ISnapshot", snapshot_getter("description")),
    "ISnapshot_getTimeStamp": ("ISnapshot", snapshot_getter("timestamp")),
    "ISnapshot_getOnline": ("ISnapshot", snapshot_getter("online")),
    "ISnapshot_getParent": ("ISnapshot", snap_parent),
    "ISnapshot_getChildren": ("ISnapshot", snap_children),
    "ISnapshot_getMachine": ("ISnapshot", lambda call: call.add_machine(
        snapshot_of(call.this).machine)),

    "IVirtualBoxErrorInfo_getText": ("IVirtualBoxErrorInfo", lambda call: call.this.message),
    "IVirtualBoxErrorInfo_getResultCode": ("IVirtualBoxErrorInfo",
                                           lambda call: signed(call.this.code)),

    "IManagedObjectRef_getInterfaceName": ("*", lambda call: call.this_class),
    "IManagedObjectRef_release": ("*", ref_release),
}


# ---------------------------------------------------------------------------------------
# XML out


def response_xml(method, result):
    if result is None:
        return "%s<vbox:%sResponse/>%s" % (ENVELOPE_OPEN, method, ENVELOPE_CLOSE)
    if isinstance(result, Ret):
        values, outputs = result.values, result.outputs
    elif isinstance(result, list):
        values, outputs = result, []
    else:
        values, outputs = [result], []
    body = "".join("<returnval>%s</returnval>" % text(v) for v in values)
    body += "".join("<%s>%s</%s>" % (name, text(v), name) for name, v in outputs)
    return "%s<vbox:%sResponse>%s</vbox:%sResponse>%s" % (ENVELOPE_OPEN, method, body,
                                                          method, ENVELOPE_CLOSE)


def fault_xml(faultstring, detail=""):
    return ("%s<SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode>"
            "<faultstring>%s</faultstring>%s</SOAP-ENV:Fault>%s"
            % (ENVELOPE_OPEN, text(faultstring), detail, ENVELOPE_CLOSE))


def runtime_fault_xml(fault, info_ref):
    return fault_xml("VirtualBox error: %s (%s)" % (fault.message, hex_code(fault.code)),
                     "<detail><vbox:RuntimeFault><resultCode>%d</resultCode>"
                     "<returnval>%s</returnval></vbox:RuntimeFault></detail>"
                     % (signed(fault.code), text(info_ref)))


def invalid_object_xml(ref):
    return fault_xml('Invalid managed object reference "%s"' % ref,
                     "<detail><vbox:InvalidObjectFault><badObjectID>%s</badObjectID>"
                     "</vbox:InvalidObjectFault></detail>" % text(ref))


# ---------------------------------------------------------------------------------------
# Service


class Service:
    def __init__(self, state_dir, user, password):
        self.state = State()
        self.user = user
        self.password = password
        self.lock = threading.Lock()
        self.log_path = os.path.join(state_dir, "requests.log")

    def log(self, line):
        line = " ".join(line.split())
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(line + "\n")

    def lookup(self, ref):
        ws = self.state.websessions.get(ref.split("-", 1)[0])
        if ws is None or ref not in ws.objects:
            return None, None, None
        cls, target = ws.objects[ref]
        return ws, cls, target

    def resolve(self, ref, cls):
        ws, found, target = self.lookup(ref)
        if ws is None or (cls != "*" and found != cls):
            raise InvalidObject(ref)
        return found, target

    def describe(self, name, value):
        if name == "password":
            return "***"
        value = value.strip() if REF.match(value.strip()) else value
        if not REF.match(value):
            return value
        _, cls, target = self.lookup(value)
        if cls is None:
            return value
        label = None
        if isinstance(target, MachineView):
            label = target.machine.name
        elif isinstance(target, Snapshot):
            label = target.name
        elif isinstance(target, ConsoleView) and target.session.machine is not None:
            label = target.session.machine.name
        return "%s:%s" % (cls, label) if label is not None else cls

    def handle(self, body):
        """Returns (HTTP status, response envelope)."""
        with self.lock:
            try:
                root = ET.fromstring(body)
            except ET.ParseError as err:
                self.log("Malformed request")
                return 500, fault_xml("Malformed request: %s" % err)
            soap_body = root.find("{%s}Body" % NS_ENV)
            if root.tag != "{%s}Envelope" % NS_ENV or soap_body is None or len(soap_body) == 0:
                self.log("Malformed request")
                return 500, fault_xml("Malformed request: no SOAP 1.1 envelope with a body")
            element = soap_body[0]
            method = local(element.tag)
            args = [(local(child.tag), child.text or "") for child in element]
            self.log(" ".join([method] + ["%s=%s" % (n, self.describe(n, v))
                                          for n, v in args]))
            call = Call(self, method, args)
            try:
                spec = METHODS.get(method) if namespace(element.tag) == NS_VBOX else None
                if spec is None:
                    raise ClientFault("Method '%s' not supported" % method)
                for child in element:
                    if namespace(child.tag):
                        raise ClientFault("Validation constraint violation: tag name or "
                                          "namespace mismatch in element '%s'"
                                          % local(child.tag))
                this_class, handler = spec
                if this_class is not None:
                    name = "_this"
                    if method in ("IWebsessionManager_logoff",
                                  "IWebsessionManager_getSessionObject"):
                        name = "refIVirtualBox"
                    ref = call.raw(name, required=False).strip()
                    call.this_class, call.this = self.resolve(ref, this_class)
                    call.ws = self.lookup(ref)[0]
                return 200, response_xml(method, handler(call))
            except InvalidObject as fault:
                return 500, invalid_object_xml(fault.ref)
            except ClientFault as fault:
                return 500, fault_xml(fault.message)
            except RuntimeFault as fault:
                info = call.ws.add("IVirtualBoxErrorInfo", ErrorInfo(fault.code, fault.message)) \
                    if call.ws is not None and call.ws.sid in self.state.websessions else ""
                return 500, runtime_fault_xml(fault, info)


# ---------------------------------------------------------------------------------------
# HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gSOAP/2.8"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def reply(self, status, body=b"", content_type=None, extra=()):
        self.send_response(status)
        for name, value in extra:
            self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.reply(400)
            return
        if self.command != "POST":
            self.reply(405, extra=[("Allow", "POST")])
            return
        content_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type != "text/xml":
            self.reply(415)
            return
        status, answer = self.server.service.handle(body)
        self.reply(status, answer.encode("utf-8"), "text/xml; charset=utf-8")

    do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = handle_any


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--state", required=True)
    args = parser.parse_args()
    os.makedirs(args.state, exist_ok=True)
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.service = Service(args.state, args.user, args.password)
    print("LISTENING %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
