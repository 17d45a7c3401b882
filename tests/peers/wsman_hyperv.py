#!/usr/bin/python3
"""A simulated Hyper-V WS-Management (WinRM) endpoint, written for rvirt's tests of its
Hyper-V driver plugin (libvirt's hyperv driver rebuilt). This is NOT Microsoft software and
contains none: it answers the WS-Management 1.1 (DMTF DSP0226) and WS-Enumeration calls the
driver makes (Enumerate with a WQL filter, Pull, and WMI method invocations) with SOAP 1.2
envelopes shaped like the WMI-over-WinRM answers of Hyper-V 2012+/2019, against a small
in-memory host (HYPERV-HOST) with three virtual machines.

Usage:
  wsman_hyperv.py --port PORT --user USER --password PASS --state DIR
                  [--auth basic|ntlm] [--keep-alive-max N]

  PORT 0 picks a free port. Once listening on 127.0.0.1 it prints "LISTENING <port>".
  With --auth basic (the default) every request must carry HTTP Basic credentials
  USER:PASS (else 401 offering Basic). With --auth ntlm, as WinRM's defaults are, the 401
  offers only "Negotiate" and "NTLM": the client's NTLM Negotiate message gets a Challenge,
  its Authenticate message must carry an NTLMv2 response that proves PASS for USER (a
  "DOMAIN\\user" USER names the domain too; case-insensitive), and from then on that
  connection (HTTP/1.1 keep-alive) is served without credentials; any other connection must
  log in itself. --keep-alive-max N closes a connection (Connection: close) after its Nth
  answer, as a server's keep-alive limit does. The only path is /wsman, POST only. Every
  authenticated request is logged as one line (its action and a short summary) to
  DIR/requests.log, and in NTLM mode each login and each request served as "login CONN"
  and "served CONN" (CONN numbers the TCP connections) to DIR/connections.log; the tests
  read both.

What it simulates:
  - WQL: SELECT * | props FROM Class [WHERE ...] with and/or/not, parentheses, = != <> < >
    <= >=, IS [NOT] NULL, quoted strings, integers, true/false, other properties and
    __SERVER (the host's computer name); strings compare case-insensitively.
  - ASSOCIATORS OF {...} WHERE AssocClass = A ResultClass = R for a machine's settings,
    a settings' processor/memory settings, and the host's processors.
  - Methods: Msvm_ComputerSystem.RequestStateChange (answers with a Msvm_ConcreteJob that
    reads "running" once, then the change applies and it reads "completed"),
    Msvm_ShutdownComponent.InitiateShutdown, and Msvm_VirtualSystemManagementService's
    DefineSystem, ModifyResourceSettings and DestroySystem.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import html
import itertools
import os
import re
import struct
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape as xml_escape, quoteattr

NS_S = "http://www.w3.org/2003/05/soap-envelope"
NS_A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_N = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS = {"s": NS_S, "a": NS_A, "w": NS_W, "n": NS_N, "xsi": NS_XSI}

ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
WQL_DIALECT = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
ACTION_ENUMERATE = NS_N + "/Enumerate"
ACTION_PULL = NS_N + "/Pull"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

V2_ROOT = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2"
CIMV2_ROOT = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2"

HOST_NAME = "HYPERV-HOST"

# Property order of each class's instances, as they are written out.
PROPS = {
    "Win32_OperatingSystem": ["Caption", "Version", "BuildNumber", "CSName"],
    "Win32_ComputerSystem": ["Name", "DNSHostName", "Domain", "TotalPhysicalMemory",
                             "NumberOfLogicalProcessors", "NumberOfProcessors", "Model"],
    "Win32_Processor": ["DeviceID", "Name", "MaxClockSpeed", "NumberOfCores",
                        "NumberOfLogicalProcessors", "Architecture"],
    "Msvm_ComputerSystem": ["InstanceID", "Caption", "Description", "ElementName", "Name",
                            "CreationClassName", "EnabledState", "RequestedState",
                            "HealthState", "OnTimeInMilliseconds", "ProcessID",
                            "TimeOfLastStateChange", "NumberOfNumaNodes"],
    "Msvm_VirtualSystemSettingData": ["InstanceID", "ElementName", "VirtualSystemIdentifier",
                                      "VirtualSystemSubType", "Version", "Notes",
                                      "BIOSSerialNumber", "CreationTime"],
    "Msvm_ProcessorSettingData": ["InstanceID", "VirtualQuantity", "Limit", "Reservation",
                                  "Weight"],
    "Msvm_MemorySettingData": ["InstanceID", "VirtualQuantity", "Limit", "Reservation",
                               "DynamicMemoryEnabled"],
    "Msvm_ShutdownComponent": ["DeviceID", "SystemName", "CreationClassName",
                               "SystemCreationClassName", "EnabledState"],
    "Msvm_VirtualSystemManagementService": ["Name", "CreationClassName", "SystemName",
                                            "SystemCreationClassName"],
    "Msvm_ConcreteJob": ["InstanceID", "JobState", "ErrorCode", "ErrorDescription",
                         "ElementName"],
}

NAMESPACES = {
    V2_ROOT + "/*": [c for c in PROPS if c.startswith("Msvm_")],
    CIMV2_ROOT + "/*": [c for c in PROPS if c.startswith("Win32_")],
}

# Key properties: the selectors an Invoke must name, all of them and no others.
KEYS = {
    "Msvm_ComputerSystem": ["CreationClassName", "Name"],
    "Msvm_ShutdownComponent": ["CreationClassName", "DeviceID", "SystemCreationClassName",
                               "SystemName"],
    "Msvm_VirtualSystemManagementService": ["CreationClassName", "Name",
                                            "SystemCreationClassName", "SystemName"],
}

# The associations ASSOCIATORS OF knows: (source class, AssocClass, ResultClass).
ASSOCIATIONS = [
    ("Msvm_ComputerSystem", "Msvm_SettingsDefineState", "Msvm_VirtualSystemSettingData"),
    ("Msvm_VirtualSystemSettingData", "Msvm_VirtualSystemSettingDataComponent",
     "Msvm_ProcessorSettingData"),
    ("Msvm_VirtualSystemSettingData", "Msvm_VirtualSystemSettingDataComponent",
     "Msvm_MemorySettingData"),
    ("Win32_ComputerSystem", "Win32_ComputerSystemProcessor", "Win32_Processor"),
]

PROCESSOR_SUFFIX = "\\b637f346-6a0e-4dec-af52-bd70cb80a21d\\0"
MEMORY_SUFFIX = "\\4764334d-e001-4176-82ee-5594ec9b530e"

# Return values (CIM / Hyper-V).
RV_OK = 0
RV_JOB_STARTED = 4096
RV_INVALID_PARAMETER = 32773
RV_INVALID_STATE = 32775

# RequestStateChange: requested state -> {current EnabledState: resulting EnabledState}.
TRANSITIONS = {
    2: {3: 2, 32769: 2, 32768: 2},
    3: {2: 3, 32768: 3},
    9: {2: 32768},
    10: {2: 2},
    11: {2: 2},
    32769: {2: 32769, 32768: 32769},
}

TEXT_INVALID_QUERY = ("The WS-Management service cannot process the request because the WQL "
                      "query is invalid.")
TEXT_INVALID_CONTEXT = "The enumeration context supplied in the message is not valid."
TEXT_INVALID_SELECTORS = ("The WS-Management service cannot process the request because the "
                          "request contained invalid selectors for the resource.")
TEXT_ACTION_NOT_SUPPORTED = "The action is not supported by the service."
TEXT_BAD_RESOURCE = ("The WS-Management service cannot process the request because the "
                     "resource URI is not valid for this operation.")
TEXT_SCHEMA = ("The SOAP XML in the message does not match the corresponding XML schema "
               "definition.")


def class_uri(cls):
    return "%s/%s" % (CIMV2_ROOT if cls.startswith("Win32_") else V2_ROOT, cls)


def cim_now():
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + ".000000-000"


def new_guid():
    return str(uuid.uuid4()).upper()


def casefold(value):
    return value.casefold() if isinstance(value, str) else value


class Fault(Exception):
    def __init__(self, subcode, text):
        super().__init__(text)
        self.subcode = subcode
        self.text = text


class QueryError(Exception):
    pass


# ---------------------------------------------------------------------------------------
# State


class State:
    """The host's objects: a list of property dicts per class. Keys starting with "_" are
    private (never written out)."""

    def __init__(self):
        self.objects = {cls: [] for cls in PROPS}
        self.contexts = {}
        self.next_pid = 6000
        self.objects["Win32_OperatingSystem"].append({
            "Caption": "Microsoft Windows Server 2019 Datacenter", "Version": "10.0.17763",
            "BuildNumber": "17763", "CSName": HOST_NAME})
        self.objects["Win32_ComputerSystem"].append({
            "Name": HOST_NAME, "DNSHostName": "hyperv-host", "Domain": "WORKGROUP",
            "TotalPhysicalMemory": 34359738368, "NumberOfLogicalProcessors": 8,
            "NumberOfProcessors": 2, "Model": "Virtual Machine"})
        for n in range(2):
            self.objects["Win32_Processor"].append({
                "DeviceID": "CPU%d" % n, "Name": "Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz",
                "MaxClockSpeed": 2600, "NumberOfCores": 2, "NumberOfLogicalProcessors": 4,
                "Architecture": 9})
        self.objects["Msvm_ComputerSystem"].append({
            "InstanceID": None, "Caption": "Hosting Computer System",
            "Description": "Microsoft Hosting Computer System", "ElementName": HOST_NAME,
            "Name": HOST_NAME, "CreationClassName": "Msvm_ComputerSystem", "EnabledState": 2,
            "RequestedState": 12, "HealthState": 5, "OnTimeInMilliseconds": None,
            "ProcessID": None, "TimeOfLastStateChange": "20201030120000.000000-000",
            "NumberOfNumaNodes": 1, "_host": True})
        self.objects["Msvm_VirtualSystemManagementService"].append({
            "Name": "vmms", "CreationClassName": "Msvm_VirtualSystemManagementService",
            "SystemName": HOST_NAME, "SystemCreationClassName": "Msvm_ComputerSystem"})
        self.add_vm("web01", "4A62D6F1-3E2B-4C52-8C7A-2B1B5C0D4E01", 2, 2, 4321, 1234000,
                    2, 2048, ["frontend"], "Microsoft:Hyper-V:SubType:2",
                    "20201030123456.000000-000")
        self.add_vm("db01", "0E7F4E37-5A2C-4F44-9F5B-7D3B1E2A9C02", 3, 3, None, 0,
                    1, 1024, [], "Microsoft:Hyper-V:SubType:1", "20201029080000.000000-000")
        self.add_vm("paused01", "9B1C2D3E-4F50-4A61-8B72-C3D4E5F60703", 32768, 9, 5555,
                    600000, 4, 512, [], "Microsoft:Hyper-V:SubType:1",
                    "20201031093000.000000-000")

    def add_vm(self, name, guid, enabled, requested, pid, on_time, vcpus, memory_mb, notes,
               subtype, changed):
        self.objects["Msvm_ComputerSystem"].append({
            "InstanceID": "Microsoft:" + guid, "Caption": "Virtual Machine",
            "Description": "Microsoft Virtual Machine", "ElementName": name, "Name": guid,
            "CreationClassName": "Msvm_ComputerSystem", "EnabledState": enabled,
            "RequestedState": requested, "HealthState": 5, "OnTimeInMilliseconds": on_time,
            "ProcessID": pid, "TimeOfLastStateChange": changed, "NumberOfNumaNodes": 1})
        digits = str(int(guid.replace("-", ""), 16))[:26]
        serial = "-".join(digits[i:i + 4] for i in range(0, 26, 4))
        self.objects["Msvm_VirtualSystemSettingData"].append({
            "InstanceID": "Microsoft:" + guid, "ElementName": name,
            "VirtualSystemIdentifier": guid, "VirtualSystemSubType": subtype,
            "Version": "9.0", "Notes": list(notes), "BIOSSerialNumber": serial,
            "CreationTime": changed})
        self.objects["Msvm_ProcessorSettingData"].append({
            "InstanceID": "Microsoft:" + guid + PROCESSOR_SUFFIX, "VirtualQuantity": vcpus,
            "Limit": 100000, "Reservation": 0, "Weight": 100})
        self.objects["Msvm_MemorySettingData"].append({
            "InstanceID": "Microsoft:" + guid + MEMORY_SUFFIX, "VirtualQuantity": memory_mb,
            "Limit": 1048576, "Reservation": memory_mb, "DynamicMemoryEnabled": False})
        self.sync_shutdown_component(self.vm(guid))

    # -- lookups

    def vm(self, guid):
        for system in self.objects["Msvm_ComputerSystem"]:
            if not system.get("_host") and casefold(system["Name"]) == casefold(guid):
                return system
        return None

    def settings_of(self, guid):
        for data in self.objects["Msvm_VirtualSystemSettingData"]:
            if casefold(data["VirtualSystemIdentifier"]) == casefold(guid):
                return data
        return None

    def vm_notes(self, guid):
        data = self.settings_of(guid)
        return data["Notes"] if data else []

    def sync_shutdown_component(self, vm):
        """A machine has a shutdown component while its guest runs (running or paused)."""
        guid = vm["Name"]
        components = self.objects["Msvm_ShutdownComponent"]
        present = [c for c in components if casefold(c["SystemName"]) == casefold(guid)]
        if vm["EnabledState"] in (2, 32768):
            if not present:
                device = "{%s}" % str(uuid.uuid5(uuid.NAMESPACE_OID, guid)).upper()
                components.append({
                    "DeviceID": device, "SystemName": guid,
                    "CreationClassName": "Msvm_ShutdownComponent",
                    "SystemCreationClassName": "Msvm_ComputerSystem", "EnabledState": 2})
        else:
            for c in present:
                components.remove(c)

    def set_enabled(self, vm, target):
        before = vm["EnabledState"]
        vm["EnabledState"] = target
        if target == 2 and before in (3, 32769):
            self.next_pid += 1
            vm["ProcessID"] = self.next_pid
            vm["OnTimeInMilliseconds"] = 1000
        elif target in (3, 32769):
            vm["ProcessID"] = None
            vm["OnTimeInMilliseconds"] = 0
        vm["TimeOfLastStateChange"] = cim_now()
        self.sync_shutdown_component(vm)

    # -- jobs

    def complete_job(self, job):
        """Applies a pending RequestStateChange and marks its job done (or failed)."""
        pending = job.pop("_pending", None)
        if pending is None:
            return
        guid, requested = pending
        vm = self.vm(guid)
        target = TRANSITIONS.get(requested, {}).get(vm["EnabledState"]) if vm else None
        if target is None:
            job["JobState"] = 10
            job["ErrorCode"] = RV_INVALID_STATE
            job["ErrorDescription"] = "Invalid state for this operation"
            return
        self.set_enabled(vm, target)
        job["JobState"] = 7

    def complete_jobs_for(self, guid):
        for job in self.objects["Msvm_ConcreteJob"]:
            pending = job.get("_pending")
            if pending and casefold(pending[0]) == casefold(guid):
                self.complete_job(job)


# ---------------------------------------------------------------------------------------
# WQL


TOKEN = re.compile(r"\s*(?:(?P<num>-?\d+)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
                   r"|(?P<op>!=|<>|<=|>=|[=<>(){},.*])|(?P<quote>['\"]))")


def tokenize(text):
    tokens = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return tokens
        m = TOKEN.match(text, pos)
        if not m:
            raise QueryError("unexpected character at %d" % pos)
        if m.group("num") is not None:
            tokens.append(("num", int(m.group("num"))))
            pos = m.end()
        elif m.group("ident") is not None:
            tokens.append(("ident", m.group("ident")))
            pos = m.end()
        elif m.group("op") is not None:
            tokens.append(("op", m.group("op")))
            pos = m.end()
        else:
            quote = m.group("quote")
            pos = m.end()
            out = []
            while True:
                if pos >= len(text):
                    raise QueryError("unterminated string")
                c = text[pos]
                if c == "\\" and pos + 1 < len(text) and text[pos + 1] in "\\'\"":
                    out.append(text[pos + 1])
                    pos += 2
                elif c == quote:
                    if text[pos + 1:pos + 2] == quote:
                        out.append(quote)
                        pos += 2
                    else:
                        pos += 1
                        break
                else:
                    out.append(c)
                    pos += 1
            tokens.append(("str", "".join(out)))


class Tokens:
    def __init__(self, tokens):
        self.tokens = tokens
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def next(self):
        tok = self.peek()
        if tok[0] is None:
            raise QueryError("unexpected end of query")
        self.pos += 1
        return tok

    def keyword(self, word):
        kind, value = self.peek()
        if kind == "ident" and value.lower() == word.lower():
            self.pos += 1
            return True
        return False

    def expect_keyword(self, word):
        if not self.keyword(word):
            raise QueryError("expected %s" % word)

    def op(self, symbol):
        kind, value = self.peek()
        if kind == "op" and value == symbol:
            self.pos += 1
            return True
        return False

    def expect_op(self, symbol):
        if not self.op(symbol):
            raise QueryError("expected %s" % symbol)

    def ident(self):
        kind, value = self.next()
        if kind != "ident":
            raise QueryError("expected a name")
        return value

    def done(self):
        return self.pos >= len(self.tokens)


def canonical_class(name, namespace_uri):
    for cls in NAMESPACES.get(namespace_uri, []):
        if cls.lower() == name.lower():
            return cls
    raise QueryError("no class %s in %s" % (name, namespace_uri))


def canonical_prop(cls, name):
    for prop in PROPS[cls]:
        if prop.lower() == name.lower():
            return prop
    raise QueryError("no property %s in %s" % (name, cls))


def parse_where(toks, cls):
    """Returns a predicate over an instance dict."""

    def operand():
        kind, value = toks.next()
        if kind in ("str", "num"):
            return lambda inst, v=value: v
        if kind != "ident":
            raise QueryError("expected a value")
        low = value.lower()
        if low == "true":
            return lambda inst: True
        if low == "false":
            return lambda inst: False
        if low == "__server":
            return lambda inst: HOST_NAME
        if low == "__class":
            return lambda inst: cls
        prop = canonical_prop(cls, value)
        return lambda inst, p=prop: inst.get(p)

    def primary():
        if toks.keyword("not"):
            inner = primary()
            return lambda inst: not inner(inst)
        if toks.op("("):
            inner = disjunction()
            toks.expect_op(")")
            return inner
        left = operand()
        if toks.keyword("is"):
            negate = toks.keyword("not")
            toks.expect_keyword("null")
            return lambda inst: (left(inst) is None) != negate
        kind, op = toks.next()
        if kind != "op" or op not in ("=", "!=", "<>", "<", ">", "<=", ">="):
            raise QueryError("expected a comparison")
        right = operand()
        return lambda inst: compare(left(inst), op, right(inst))

    def conjunction():
        parts = [primary()]
        while toks.keyword("and"):
            parts.append(primary())
        return lambda inst: all(p(inst) for p in parts)

    def disjunction():
        parts = [conjunction()]
        while toks.keyword("or"):
            parts.append(conjunction())
        return lambda inst: any(p(inst) for p in parts)

    return disjunction()


def normalize(a, b):
    """Brings two WMI values to comparable Python values."""
    if isinstance(a, bool) or isinstance(b, bool):
        def as_bool(v):
            if isinstance(v, bool):
                return v
            if isinstance(v, str) and v.lower() in ("true", "false"):
                return v.lower() == "true"
            if isinstance(v, int):
                return v != 0
            return v
        return as_bool(a), as_bool(b)
    if isinstance(a, int) and isinstance(b, str) or isinstance(a, str) and isinstance(b, int):
        try:
            return int(a), int(b)
        except ValueError:
            return str(a).casefold(), str(b).casefold()
    return casefold(a), casefold(b)


def compare(a, op, b):
    if isinstance(a, list):
        hit = any(compare(x, "=", b) for x in a)
        return hit if op == "=" else (not hit if op in ("!=", "<>") else False)
    if a is None or b is None:
        return op in ("!=", "<>") and not (a is None and b is None)
    a, b = normalize(a, b)
    try:
        if op == "=":
            return a == b
        if op in ("!=", "<>"):
            return a != b
        if op == "<":
            return a < b
        if op == ">":
            return a > b
        if op == "<=":
            return a <= b
        return a >= b
    except TypeError:
        return False


def snapshot(cls, inst, props=None):
    out = []
    for prop in PROPS[cls]:
        if props is not None and prop not in props:
            continue
        value = inst.get(prop)
        out.append((prop, list(value) if isinstance(value, list) else value))
    return (cls, out)


def run_select(state, toks, namespace_uri):
    if toks.op("*"):
        columns = None
    else:
        columns = [toks.ident()]
        while toks.op(","):
            columns.append(toks.ident())
    toks.expect_keyword("from")
    cls = canonical_class(toks.ident(), namespace_uri)
    if columns is not None:
        columns = {canonical_prop(cls, c) for c in columns}
    predicate = lambda inst: True
    if toks.keyword("where"):
        predicate = parse_where(toks, cls)
    if not toks.done():
        raise QueryError("trailing text")
    chosen = [inst for inst in state.objects[cls] if predicate(inst)]
    result = [snapshot(cls, inst, columns) for inst in chosen]
    # A job read while running completes: the next read sees the outcome.
    if cls == "Msvm_ConcreteJob":
        for inst in chosen:
            state.complete_job(inst)
    return result


def run_associators(state, toks, namespace_uri):
    toks.expect_keyword("of")
    toks.expect_op("{")
    source = toks.ident()
    toks.expect_op(".")
    keys = {}
    while True:
        key = toks.ident()
        toks.expect_op("=")
        kind, value = toks.next()
        if kind not in ("str", "num"):
            raise QueryError("expected a key value")
        keys[key] = value
        if not toks.op(","):
            break
    toks.expect_op("}")
    assoc = result = None
    if toks.keyword("where"):
        while not toks.done():
            name = toks.ident().lower()
            toks.expect_op("=")
            value = toks.ident()
            if name == "assocclass":
                assoc = value
            elif name == "resultclass":
                result = value
            else:
                raise QueryError("unsupported ASSOCIATORS clause")
    rows = [row for row in ASSOCIATIONS
            if row[0].lower() == source.lower()
            and (assoc is None or row[1].lower() == assoc.lower())
            and (result is None or row[2].lower() == result.lower())]
    if not rows:
        raise QueryError("unsupported association")
    for row in rows:
        canonical_class(row[0], namespace_uri)
        canonical_class(row[2], namespace_uri)
    source = rows[0][0]
    canonical_keys = {canonical_prop(source, k): v for k, v in keys.items()}
    matches = [inst for inst in state.objects[source]
               if all(compare(inst.get(k), "=", v) for k, v in canonical_keys.items())]
    out = []
    for inst in matches:
        for _, _, result_cls in rows:
            out.extend(snapshot(result_cls, r) for r in associated(state, inst, result_cls))
    return out


def associated(state, inst, result_cls):
    if result_cls == "Msvm_VirtualSystemSettingData":
        if inst.get("_host"):
            return []
        data = state.settings_of(inst["Name"])
        return [data] if data else []
    if result_cls in ("Msvm_ProcessorSettingData", "Msvm_MemorySettingData"):
        prefix = (inst["InstanceID"] + "\\").casefold()
        return [r for r in state.objects[result_cls]
                if r["InstanceID"].casefold().startswith(prefix)]
    if result_cls == "Win32_Processor":
        return list(state.objects["Win32_Processor"])
    return []


def run_query(state, query, namespace_uri):
    try:
        toks = Tokens(tokenize(query))
        if toks.keyword("select"):
            return run_select(state, toks, namespace_uri)
        if toks.keyword("associators"):
            return run_associators(state, toks, namespace_uri)
        raise QueryError("not a query")
    except QueryError:
        raise Fault("w:InternalError", TEXT_INVALID_QUERY)


# ---------------------------------------------------------------------------------------
# XML out


def text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return xml_escape(str(value))


def item_xml(cls, props):
    out = ["<p:%s xmlns:p=%s xmlns:xsi=%s>" % (cls, quoteattr(class_uri(cls)), quoteattr(NS_XSI))]
    for name, value in props:
        if value is None:
            out.append('<p:%s xsi:nil="true"/>' % name)
        elif isinstance(value, list):
            out.extend("<p:%s>%s</p:%s>" % (name, text(v), name) for v in value)
        else:
            out.append("<p:%s>%s</p:%s>" % (name, text(value), name))
    out.append("</p:%s>" % cls)
    return "".join(out)


def epr_xml(cls, selectors):
    sels = "".join('<w:Selector Name=%s>%s</w:Selector>' % (quoteattr(k), text(v))
                   for k, v in selectors)
    return ("<a:Address>%s</a:Address><a:ReferenceParameters><w:ResourceURI>%s</w:ResourceURI>"
            "<w:SelectorSet>%s</w:SelectorSet></a:ReferenceParameters>"
            % (ANONYMOUS, class_uri(cls), sels))


def envelope(action, relates_to, body):
    relates = "<a:RelatesTo>%s</a:RelatesTo>" % text(relates_to) if relates_to else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<s:Envelope xmlns:s="%s" xmlns:a="%s" xmlns:w="%s" xmlns:n="%s" xmlns:xsi="%s">'
            "<s:Header><a:To>%s</a:To><a:Action>%s</a:Action>"
            "<a:MessageID>uuid:%s</a:MessageID>%s</s:Header><s:Body>%s</s:Body></s:Envelope>"
            % (NS_S, NS_A, NS_W, NS_N, NS_XSI, ANONYMOUS, text(action), new_guid(), relates,
               body))


def fault_xml(fault, relates_to):
    body = ("<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>%s</s:Value>"
            "</s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en-US\">%s</s:Text></s:Reason>"
            "<s:Detail/></s:Fault>" % (fault.subcode, text(fault.text)))
    return envelope(ACTION_FAULT, relates_to, body)


# ---------------------------------------------------------------------------------------
# Method parameters in


def local(tag):
    return tag.rsplit("}", 1)[-1]


def embedded_instance(param):
    """The CIM-XML <INSTANCE> a parameter element carries (as escaped text, or as child
    elements): (CLASSNAME, {property: value or list}), or None when unreadable."""
    inst = None
    for child in param:
        if local(child.tag) == "INSTANCE":
            inst = child
    if inst is None:
        raw = (param.text or "").strip()
        if raw.startswith("&lt;"):
            raw = html.unescape(raw)
        if not raw:
            return None
        try:
            inst = ET.fromstring(raw)
        except ET.ParseError:
            return None
        if local(inst.tag) != "INSTANCE":
            return None
    props = {}
    for prop in inst:
        kind = local(prop.tag)
        name = prop.get("NAME")
        if not name:
            continue
        if kind == "PROPERTY":
            value = prop.find("VALUE")
            props[name] = value.text or "" if value is not None else None
        elif kind == "PROPERTY.ARRAY":
            array = prop.find("VALUE.ARRAY")
            props[name] = [v.text or "" for v in array.findall("VALUE")] \
                if array is not None else None
    return inst.get("CLASSNAME"), props


def epr_selectors(param):
    return {s.get("Name"): (s.text or "").strip()
            for s in param.iter("{%s}Selector" % NS_W) if s.get("Name")}


def summarize_param(param):
    """One parameter for the request log: a reference's selectors, an embedded instance's
    class and properties, or the plain value."""
    children = [local(c.tag) for c in param]
    if children and "INSTANCE" not in children:
        return "{%s}" % ",".join("%s=%s" % kv for kv in epr_selectors(param).items())
    if children or (param.text or "").strip().startswith(("<", "&lt;")):
        parsed = embedded_instance(param)
        if parsed is None:
            return "<unreadable>"
        cls, props = parsed
        return "%s{%s}" % (cls, ",".join("%s=%s" % kv for kv in props.items()))
    return (param.text or "").strip()


# ---------------------------------------------------------------------------------------
# Methods: each takes (state, instance, params) where params is a list of (name, element),
# and returns a list of (name, xml-text) outputs ending with ReturnValue.


def param_text(params, name):
    for key, el in params:
        if key.lower() == name.lower():
            return (el.text or "").strip()
    return None


def request_state_change(state, vm, params):
    if vm.get("_host"):
        return [("ReturnValue", str(RV_INVALID_STATE))]
    state.complete_jobs_for(vm["Name"])
    raw = param_text(params, "RequestedState")
    try:
        requested = int(raw)
    except (TypeError, ValueError):
        return [("ReturnValue", str(RV_INVALID_PARAMETER))]
    if vm["EnabledState"] not in TRANSITIONS.get(requested, {}):
        return [("ReturnValue", str(RV_INVALID_STATE))]
    vm["RequestedState"] = requested
    job_id = new_guid()
    state.objects["Msvm_ConcreteJob"].append({
        "InstanceID": job_id, "JobState": 4, "ErrorCode": 0, "ErrorDescription": None,
        "ElementName": "Changing virtual machine state", "_pending": (vm["Name"], requested)})
    return [("Job", epr_xml("Msvm_ConcreteJob", [("InstanceID", job_id)])),
            ("ReturnValue", str(RV_JOB_STARTED))]


def initiate_shutdown(state, component, params):
    guid = component["SystemName"]
    state.complete_jobs_for(guid)
    vm = state.vm(guid)
    if vm is None or vm["EnabledState"] != 2 or "refuses-shutdown" in state.vm_notes(guid):
        return [("ReturnValue", str(RV_INVALID_STATE))]
    vm["RequestedState"] = 3
    state.set_enabled(vm, 3)
    return [("ReturnValue", str(RV_OK))]


def define_system(state, service, params):
    settings = None
    for key, el in params:
        if key.lower() == "systemsettings":
            settings = embedded_instance(el)
    if settings is None or settings[0] != "Msvm_VirtualSystemSettingData":
        return [("ReturnValue", str(RV_INVALID_PARAMETER))]
    props = {k.lower(): v for k, v in settings[1].items()}
    name = props.get("elementname") or "New Virtual Machine"
    if isinstance(name, list):
        name = name[0] if name else "New Virtual Machine"
    notes = props.get("notes") or []
    if isinstance(notes, str):
        notes = [notes]
    subtype = props.get("virtualsystemsubtype") or "Microsoft:Hyper-V:SubType:1"
    guid = new_guid()
    state.add_vm(name, guid, 3, 3, None, 0, 1, 512, notes, subtype, cim_now())
    return [("ResultingSystem", epr_xml("Msvm_ComputerSystem",
                                        [("CreationClassName", "Msvm_ComputerSystem"),
                                         ("Name", guid)])),
            ("ReturnValue", str(RV_OK))]


MODIFIABLE = {
    "Msvm_ProcessorSettingData": {"VirtualQuantity": int, "Limit": int, "Reservation": int,
                                  "Weight": int},
    "Msvm_MemorySettingData": {"VirtualQuantity": int, "Limit": int, "Reservation": int,
                               "DynamicMemoryEnabled": bool},
}


def modify_resource_settings(state, service, params):
    changes = []
    for key, el in params:
        if key.lower() != "resourcesettings":
            continue
        parsed = embedded_instance(el)
        if parsed is None or parsed[0] not in MODIFIABLE:
            return [("ReturnValue", str(RV_INVALID_PARAMETER))]
        cls, props = parsed
        instance_id = next((v for k, v in props.items() if k.lower() == "instanceid"), None)
        target = next((r for r in state.objects[cls]
                       if isinstance(instance_id, str)
                       and r["InstanceID"].casefold() == instance_id.casefold()), None)
        if target is None:
            return [("ReturnValue", str(RV_INVALID_PARAMETER))]
        updates = {}
        for name, value in props.items():
            prop = next((p for p in MODIFIABLE[cls] if p.lower() == name.lower()), None)
            if prop is None or value is None or isinstance(value, list):
                continue
            if MODIFIABLE[cls][prop] is bool:
                if value.strip().lower() not in ("true", "false"):
                    return [("ReturnValue", str(RV_INVALID_PARAMETER))]
                updates[prop] = value.strip().lower() == "true"
            else:
                try:
                    updates[prop] = int(value.strip())
                except ValueError:
                    return [("ReturnValue", str(RV_INVALID_PARAMETER))]
        changes.append((cls, target, updates))
    if not changes:
        return [("ReturnValue", str(RV_INVALID_PARAMETER))]
    for _, target, updates in changes:
        target.update(updates)
    outputs = [("ResultingResourceSettings", epr_xml(cls, [("InstanceID", t["InstanceID"])]))
               for cls, t, _ in changes]
    return outputs + [("ReturnValue", str(RV_OK))]


def destroy_system(state, service, params):
    affected = None
    for key, el in params:
        if key.lower() == "affectedsystem":
            affected = el
    if affected is None:
        return [("ReturnValue", str(RV_INVALID_PARAMETER))]
    sels = {k.lower(): v for k, v in epr_selectors(affected).items()}
    guid = sels.get("name")
    vm = state.vm(guid) if guid else None
    if vm is None:
        return [("ReturnValue", str(RV_INVALID_PARAMETER))]
    state.complete_jobs_for(guid)
    if vm["EnabledState"] in (2, 32768):
        return [("ReturnValue", str(RV_INVALID_STATE))]
    folded = guid.casefold()
    objs = state.objects
    objs["Msvm_ComputerSystem"].remove(vm)
    objs["Msvm_VirtualSystemSettingData"] = [
        d for d in objs["Msvm_VirtualSystemSettingData"]
        if d["VirtualSystemIdentifier"].casefold() != folded]
    for cls in ("Msvm_ProcessorSettingData", "Msvm_MemorySettingData"):
        prefix = ("Microsoft:%s\\" % guid).casefold()
        objs[cls] = [r for r in objs[cls] if not r["InstanceID"].casefold().startswith(prefix)]
    objs["Msvm_ShutdownComponent"] = [
        c for c in objs["Msvm_ShutdownComponent"] if c["SystemName"].casefold() != folded]
    return [("ReturnValue", str(RV_OK))]


METHODS = {
    ("Msvm_ComputerSystem", "RequestStateChange"): request_state_change,
    ("Msvm_ShutdownComponent", "InitiateShutdown"): initiate_shutdown,
    ("Msvm_VirtualSystemManagementService", "DefineSystem"): define_system,
    ("Msvm_VirtualSystemManagementService", "ModifyResourceSettings"): modify_resource_settings,
    ("Msvm_VirtualSystemManagementService", "DestroySystem"): destroy_system,
}


def find_by_selectors(state, cls, selectors):
    keys = KEYS[cls]
    given = {k.lower(): v for k, v in selectors.items()}
    if set(given) != {k.lower() for k in keys}:
        return None
    for inst in state.objects[cls]:
        if all(casefold(str(inst.get(k))) == casefold(given[k.lower()]) for k in keys):
            return inst
    return None


# ---------------------------------------------------------------------------------------
# Operations


class Service:
    def __init__(self, state_dir):
        self.state = State()
        self.lock = threading.Lock()
        self.log_path = os.path.join(state_dir, "requests.log")

    def log(self, line):
        line = " ".join(line.split())
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(line + "\n")

    def handle(self, body):
        """Returns (HTTP status, response envelope)."""
        relates_to = None
        with self.lock:
            try:
                try:
                    root = ET.fromstring(body)
                except ET.ParseError:
                    self.log("Malformed request")
                    raise Fault("w:SchemaValidationError", TEXT_SCHEMA)
                header = root.find("s:Header", NS)
                soap_body = root.find("s:Body", NS)
                if header is None or soap_body is None:
                    self.log("Malformed request")
                    raise Fault("w:SchemaValidationError", TEXT_SCHEMA)
                action = (header.findtext("a:Action", "", NS) or "").strip()
                relates_to = (header.findtext("a:MessageID", "", NS) or "").strip() or None
                resource = (header.findtext("w:ResourceURI", "", NS) or "").strip()
                selectors = {}
                for sel in header.findall("w:SelectorSet/w:Selector", NS):
                    if sel.get("Name"):
                        selectors[sel.get("Name")] = (sel.text or "").strip()
                if action == ACTION_ENUMERATE:
                    return 200, self.enumerate(resource, soap_body, relates_to)
                if action == ACTION_PULL:
                    return 200, self.pull(resource, soap_body, relates_to)
                return 200, self.invoke(action, resource, selectors, soap_body, relates_to)
            except Fault as fault:
                return 500, fault_xml(fault, relates_to)

    def enumerate(self, resource, soap_body, relates_to):
        flt = soap_body.find("n:Enumerate/w:Filter", NS)
        query = (flt.text or "").strip() if flt is not None else ""
        self.log("Enumerate %s" % (query or "(no filter)"))
        if resource not in NAMESPACES:
            raise Fault("w:DestinationUnreachable", TEXT_BAD_RESOURCE)
        if flt is None or flt.get("Dialect") != WQL_DIALECT or not query:
            raise Fault("w:InternalError", TEXT_INVALID_QUERY)
        items = run_query(self.state, query, resource)
        context = "uuid:" + new_guid()
        self.state.contexts[context] = items
        return envelope(ACTION_ENUMERATE + "Response", relates_to,
                        "<n:EnumerateResponse><n:EnumerationContext>%s</n:EnumerationContext>"
                        "</n:EnumerateResponse>" % context)

    def pull(self, resource, soap_body, relates_to):
        context = (soap_body.findtext("n:Pull/n:EnumerationContext", "", NS) or "").strip()
        raw_max = (soap_body.findtext("n:Pull/n:MaxElements", "", NS) or "").strip()
        try:
            max_elements = max(1, int(raw_max)) if raw_max else 1
        except ValueError:
            max_elements = 1
        self.log("Pull %s %s MaxElements=%d" % (resource.rsplit("/", 1)[-1], context,
                                               max_elements))
        items = self.state.contexts.get(context)
        if items is None:
            raise Fault("n:InvalidEnumerationContext", TEXT_INVALID_CONTEXT)
        sent, rest = items[:max_elements], items[max_elements:]
        xml_items = "".join(item_xml(cls, props) for cls, props in sent)
        if rest:
            self.state.contexts[context] = rest
            body = ("<n:PullResponse><n:EnumerationContext>%s</n:EnumerationContext>"
                    "<n:Items>%s</n:Items></n:PullResponse>" % (context, xml_items))
        else:
            del self.state.contexts[context]
            body = ("<n:PullResponse><n:Items>%s</n:Items><n:EndOfSequence/></n:PullResponse>"
                    % xml_items)
        return envelope(ACTION_PULL + "Response", relates_to, body)

    def invoke(self, action, resource, selectors, soap_body, relates_to):
        cls = resource.rsplit("/", 1)[-1]
        method = None
        if resource and class_uri(cls) == resource and action.startswith(resource + "/"):
            method = action[len(resource) + 1:]
        input_el = next(iter(soap_body), None)
        params = [(local(c.tag), c) for c in input_el] if input_el is not None else []
        if method is None:
            self.log("Other %s" % (action or "(no action)"))
            raise Fault("w:ActionNotSupported", TEXT_ACTION_NOT_SUPPORTED)
        summary = ["Invoke %s.%s" % (cls, method)]
        summary += ["%s=%s" % kv for kv in selectors.items()
                    if not kv[0].lower().endswith("creationclassname")]
        summary += ["%s=%s" % (name, summarize_param(el)) for name, el in params]
        self.log(" ".join(summary))
        handler = METHODS.get((cls, method))
        if handler is None:
            raise Fault("w:ActionNotSupported", TEXT_ACTION_NOT_SUPPORTED)
        instance = find_by_selectors(self.state, cls, selectors)
        if instance is None:
            raise Fault("w:InvalidSelectors", TEXT_INVALID_SELECTORS)
        outputs = handler(self.state, instance, params)
        body = "<p:%s_OUTPUT xmlns:p=%s>%s</p:%s_OUTPUT>" % (
            method, quoteattr(resource),
            "".join("<p:%s>%s</p:%s>" % (name, value, name) for name, value in outputs),
            method)
        return envelope("%s/%sResponse" % (resource, method), relates_to, body)


# ---------------------------------------------------------------------------------------
# HTTP


# ---------------------------------------------------------------------------------------
# NTLM (MS-NLMP), the server side of what the driver's NTLMv2 login sends


def md4(data):
    """MD4 (RFC 1320), pure Python: OpenSSL 3's hashlib here has no MD4, and NTLM's key is
    the MD4 of the password. Written for this test peer; it hashes only the test password."""
    def rotl(x, n):
        x &= 0xFFFFFFFF
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF

    message = bytearray(data)
    bit_length = (8 * len(data)) & 0xFFFFFFFFFFFFFFFF
    message.append(0x80)
    while len(message) % 64 != 56:
        message.append(0)
    message += struct.pack("<Q", bit_length)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for offset in range(0, len(message), 64):
        x = struct.unpack("<16I", bytes(message[offset:offset + 64]))
        aa, bb, cc, dd = a, b, c, d
        f = lambda x_, y, z: (x_ & y) | (~x_ & z)
        g = lambda x_, y, z: (x_ & y) | (x_ & z) | (y & z)
        h = lambda x_, y, z: x_ ^ y ^ z
        for i in range(16):
            k = [0, 1, 2, 3][i % 4]
            s_ = [3, 7, 11, 19][i % 4]
            if k == 0:
                a = rotl(a + f(b, c, d) + x[i], s_)
            elif k == 1:
                d = rotl(d + f(a, b, c) + x[i], s_)
            elif k == 2:
                c = rotl(c + f(d, a, b) + x[i], s_)
            else:
                b = rotl(b + f(c, d, a) + x[i], s_)
        for i, j in enumerate([0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15]):
            s_ = [3, 5, 9, 13][i % 4]
            step = (x[j] + 0x5A827999)
            if i % 4 == 0:
                a = rotl(a + g(b, c, d) + step, s_)
            elif i % 4 == 1:
                d = rotl(d + g(a, b, c) + step, s_)
            elif i % 4 == 2:
                c = rotl(c + g(d, a, b) + step, s_)
            else:
                b = rotl(b + g(c, d, a) + step, s_)
        for i, j in enumerate([0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15]):
            s_ = [3, 9, 11, 15][i % 4]
            step = (x[j] + 0x6ED9EBA1)
            if i % 4 == 0:
                a = rotl(a + h(b, c, d) + step, s_)
            elif i % 4 == 1:
                d = rotl(d + h(a, b, c) + step, s_)
            elif i % 4 == 2:
                c = rotl(c + h(d, a, b) + step, s_)
            else:
                b = rotl(b + h(c, d, a) + step, s_)
        a, b, c, d = [(v + w) & 0xFFFFFFFF for v, w in zip((a, b, c, d), (aa, bb, cc, dd))]
    return struct.pack("<4I", a, b, c, d)


NTLM_UNICODE = 0x00000001
NTLM_CHALLENGE_FLAGS = (0x00000001 | 0x00000004 | 0x00000200 | 0x00008000 | 0x00010000
                        | 0x00080000 | 0x00800000 | 0x02000000 | 0x20000000)


def utf16(text):
    return text.encode("utf-16-le")


def ntlm_challenge(server_challenge):
    """A CHALLENGE_MESSAGE (MS-NLMP 2.2.1.2) for domain HYPERV with target information."""
    name = utf16("HYPERV")
    now = int((time.time() + 11644473600) * 10_000_000)
    info = b""
    for av_id, value in ((2, utf16("HYPERV")), (1, utf16(HOST_NAME)),
                         (3, utf16(HOST_NAME.lower())), (7, struct.pack("<Q", now))):
        info += struct.pack("<HH", av_id, len(value)) + value
    info += struct.pack("<HH", 0, 0)
    header_len = 56
    return (b"NTLMSSP\0" + struct.pack("<I", 2)
            + struct.pack("<HHI", len(name), len(name), header_len)
            + struct.pack("<I", NTLM_CHALLENGE_FLAGS) + server_challenge + b"\0" * 8
            + struct.pack("<HHI", len(info), len(info), header_len + len(name))
            + bytes([10, 0, 0x63, 0x45, 0, 0, 0, 15]) + name + info)


def ntlm_message_type(message):
    if len(message) < 12 or message[:8] != b"NTLMSSP\0":
        return None
    return struct.unpack("<I", message[8:12])[0]


def ntlm_field(message, offset):
    length, _, start = struct.unpack("<HHI", message[offset:offset + 8])
    if start + length > len(message):
        raise ValueError("field past the message")
    return message[start:start + length]


def ntlm_verify(message, server_challenge, user, password):
    """Whether an AUTHENTICATE_MESSAGE's NTLMv2 response proves `password` for `user`
    ("DOMAIN\\user" also checks the domain) against our challenge."""
    try:
        if len(message) < 64:
            return False
        flags = struct.unpack("<I", message[60:64])[0]
        decode = ((lambda b: b.decode("utf-16-le")) if flags & NTLM_UNICODE
                  else (lambda b: b.decode("latin-1")))
        nt_response = ntlm_field(message, 20)
        domain = decode(ntlm_field(message, 28))
        name = decode(ntlm_field(message, 36))
    except (ValueError, UnicodeDecodeError, struct.error):
        return False
    want_domain, _, want_user = user.rpartition("\\")
    if name.lower() != want_user.lower():
        return False
    if want_domain and domain.lower() != want_domain.lower():
        return False
    if len(nt_response) < 16 + 28 or nt_response[16:18] != b"\x01\x01":
        return False
    proof, blob = nt_response[:16], nt_response[16:]
    nt_hash = md4(utf16(password))
    key = hmac.new(nt_hash, utf16(name.upper() + domain), hashlib.md5).digest()
    expected = hmac.new(key, server_challenge + blob, hashlib.md5).digest()
    return hmac.compare_digest(proof, expected)


# ---------------------------------------------------------------------------------------
# HTTP


CONNECTION_IDS = itertools.count(1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""

    def setup(self):
        super().setup()
        # One handler per TCP connection: NTLM's login belongs to it.
        self.connection_id = next(CONNECTION_IDS)
        self.ntlm_challenge = None
        self.logged_in = False
        self.answers = 0

    def log_message(self, fmt, *args):
        pass

    def log_connection(self, what):
        with self.server.service.lock:
            with open(os.path.join(self.server.state_dir, "connections.log"), "a",
                      encoding="utf-8") as log:
                log.write("%s %d\n" % (what, self.connection_id))

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
        self.answers += 1
        self.send_response(status)
        for name, value in extra:
            self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        limit = self.server.keep_alive_max
        if limit and self.answers >= limit:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def basic_authorized(self):
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and user == self.server.user and password == self.server.password

    def ntlm_authorized(self):
        """True if the connection is logged in (now or before); otherwise the 401 (a
        Challenge, or the offers) has been sent."""
        offers = [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")]
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("negotiate", "ntlm"):
            if self.logged_in:
                return True
            self.reply(401, extra=offers)
            return False
        try:
            message = base64.b64decode(token.strip(), validate=True)
        except binascii.Error:
            message = b""
        kind = ntlm_message_type(message)
        if kind == 1:
            self.logged_in = False
            self.ntlm_challenge = os.urandom(8)
            challenge = base64.b64encode(ntlm_challenge(self.ntlm_challenge)).decode()
            self.reply(401, extra=[("WWW-Authenticate", "%s %s" % (scheme, challenge))])
            return False
        if kind == 3 and self.ntlm_challenge is not None:
            server_challenge, self.ntlm_challenge = self.ntlm_challenge, None
            if ntlm_verify(message, server_challenge, self.server.user, self.server.password):
                self.logged_in = True
                self.log_connection("login")
                return True
        self.logged_in = False
        self.reply(401, extra=offers)
        return False

    def handle_any(self):
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.reply(400)
            return
        if self.server.auth == "ntlm":
            if not self.ntlm_authorized():
                return
        elif not self.basic_authorized():
            self.reply(401, extra=[("WWW-Authenticate", 'Basic realm="WSMAN"')])
            return
        if self.path.split("?", 1)[0] != "/wsman":
            self.reply(404)
            return
        if self.command != "POST":
            self.reply(405, extra=[("Allow", "POST")])
            return
        if self.server.auth == "ntlm":
            self.log_connection("served")
        status, answer = self.server.service.handle(body)
        self.reply(status, answer.encode("utf-8"), "application/soap+xml;charset=UTF-8")

    do_POST = do_GET = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = handle_any


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--auth", choices=["basic", "ntlm"], default="basic")
    parser.add_argument("--keep-alive-max", type=int, default=0)
    args = parser.parse_args()
    os.makedirs(args.state, exist_ok=True)
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.user = args.user
    server.password = args.password
    server.auth = args.auth
    server.keep_alive_max = args.keep_alive_max
    server.state_dir = args.state
    server.service = Service(args.state)
    print("LISTENING %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
