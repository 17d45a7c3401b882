#!/usr/bin/env python3
"""Regenerates crates/virt-rpc/src/procedure_table.rs from libvirt's remote protocol definition.

Usage: procedure_table.py PATH/TO/remote_protocol.x > src/procedure_table.rs

What it takes from the definition are facts only: each REMOTE procedure's number and name, its
`@priority`, whether it opens a stream, and the access permissions it declares (which tell
whether the call changes anything, i.e. whether a read-only connection may make it). The
public API name in error messages ("virDomainGetXMLDesc") is derived from the procedure name
and checked against libvirt's exported symbols when libvirt_public.syms sits next to it.
"""
import os
import re
import sys

# Permissions that only observe; every other permission changes state and is refused on a
# read-only connection.
READ_PERMS = {"getattr", "read", "search_domains", "search_networks", "search_storage_pools",
              "search_node_devices", "search_interfaces", "search_secrets", "search_nwfilters",
              "search_nwfilter_bindings", "search_network_ports", "none"}

# Calls whose ACL only says "read" but which libvirt's public API refuses on a read-only
# connection all the same.
WRITES_DESPITE_ACL = {"DOMAIN_SET_SCHEDULER_PARAMETERS"}

ACRONYMS = {"XML": "XML", "UUID": "UUID", "ID": "ID", "CPU": "CPU", "OS": "OS", "NMI": "NMI",
            "MAC": "MAC", "PCI": "PCI", "SEV": "SEV", "FS": "FS", "DHCP": "DHCP", "URI": "URI",
            "CPUS": "CPUs", "NUMA": "Numa", "LXC": "LXC", "TPM": "TPM", "PM": "PM",
            "NWFILTER": "NWFilter", "IOTHREAD": "IOThread", "FSTRIM": "FSTrim", "FSFREEZE": "FSFreeze",
            "FSTHAW": "FSThaw", "FSINFO": "FSInfo", "WWN": "WWN", "SCSI": "SCSI", "SSH": "SSH",
            "FD": "FD", "NWFILTERS": "NWFilters"}


def family_of(name):
    """The API family, as libvirt's public API files divide it (libvirt-secret.c holds
    virConnectListAllSecrets, so a "connect" call about secrets is a secret call)."""
    padded = "_" + name + "_"
    if name.startswith("DOMAIN_"):
        return "Domain"
    if "_NWFILTER" in padded:
        return "NwFilter"
    if "_SECRET" in padded:
        return "Secret"
    if "_NODE_DEVICE" in padded or name in ("NODE_LIST_DEVICES", "NODE_NUM_OF_DEVICES"):
        return "NodeDevice"
    if "_INTERFACE" in padded:
        return "Interface"
    if "_STORAGE_" in padded:
        return "Storage"
    if "_NETWORK" in padded:
        return "Network"
    return "Connect"


# The argument types that name the object a call acts on, and the kind the ACL table calls it.
OBJECT_ARGS = {
    "remote_nonnull_domain": "Domain",
    "remote_nonnull_domain_snapshot": "DomainOfSnapshot",
    "remote_nonnull_domain_checkpoint": "DomainOfSnapshot",
    "remote_nonnull_network": "Network",
    "remote_nonnull_network_port": "NetworkPort",
    "remote_nonnull_storage_pool": "StoragePool",
    "remote_nonnull_storage_vol": "StorageVol",
    "remote_nonnull_node_device": "NodeDevice",
    "remote_nonnull_secret": "Secret",
    "remote_nonnull_interface": "Interface",
    "remote_nonnull_nwfilter": "NwFilter",
    "remote_nonnull_nwfilter_binding": "NwFilterBinding",
}

# Members that take one XDR word (what a flags/param condition may be followed by).
WORD_TYPES = {"int", "unsigned int", "hyper", "unsigned hyper"}


def struct_members(text, name):
    """The (type, member) list of `struct NAME { ... };`, or None."""
    m = re.search(r"struct\s+%s\s*\{(.*?)\};" % re.escape(name), text, re.S)
    if not m:
        return None
    members = []
    for decl in m.group(1).split(";"):
        decl = re.sub(r"/\*.*?\*/", "", decl, flags=re.S).strip()
        if not decl:
            continue
        dm = re.match(r"(.+?)\s*([A-Za-z_][A-Za-z0-9_]*)\s*(<[^>]*>|\[[^\]]*\])?$", decl)
        kind = dm.group(1).strip()
        if dm.group(3) and kind != "opaque" and kind != "string":
            kind += "[]"  # an array of them: never "the" object of the call
        members.append((kind, dm.group(2)))
    return members


def words_from_end(members, member):
    """How many 4-byte words from the end of the arguments `member` starts, when it and
    everything after it are 4-byte integers."""
    names = [name for _type, name in members]
    index = names.index(member)
    for kind, _name in members[index:]:
        assert kind in ("int", "unsigned int"), (members, member)
    return len(members) - index


def flag_values(include_dir):
    """VIR_* enum constants from libvirt's public headers: name -> value."""
    values = {}
    definitions = []
    for fname in sorted(os.listdir(include_dir)):
        if not fname.endswith(".h"):
            continue
        body = re.sub(r"/\*.*?\*/", "", open(os.path.join(include_dir, fname)).read(), flags=re.S)
        definitions += re.finditer(r"^\s*(VIR_[A-Z0-9_]+)\s*=\s*([^,\n]+),", body, re.M)
    # Constants defined in terms of others from a later header resolve on a later pass.
    for _pass in range(3):
        for m in definitions:
            expr = re.sub(r"VIR_[A-Z0-9_]+",
                          lambda ref: str(values.get(ref.group(0), ref.group(0))),
                          m.group(2).strip())
            if "VIR_" in expr or not re.fullmatch(r"[0-9xXa-fA-F()<>|&~+\-\s]+", expr):
                continue
            values[m.group(1)] = int(eval(expr, {}, {}))
    return values


def acl_condition(condition, args, flags):
    """The Rust `AclWhen` for an ACL entry's condition (":FLAGS", ":!FLAGS" or "::param:VALUE")."""
    if condition in ("", ":"):
        return "AclWhen::Always"
    if condition.startswith("::"):
        param, value = condition[2:].split(":")
        return "AclWhen::ParamIs { words_from_end: %d, value: %d }" % (
            words_from_end(args, param), flags[value])
    expr = condition[1:]
    negate = expr.startswith("!")
    mask = 0
    for name in expr.lstrip("!").split("|"):
        mask |= flags[name]
    where = words_from_end(args, "flags")
    if negate:
        return "AclWhen::FlagsClear { words_from_end: %d, mask: %d }" % (where, mask)
    return "AclWhen::FlagsSet { words_from_end: %d, mask: %d }" % (where, mask)


def camel(words):
    return "".join(ACRONYMS.get(w, w.capitalize()) for w in words)


def main():
    path = sys.argv[1]
    text = open(path).read()
    body = text[text.index("enum remote_procedure"):]
    entries = []
    for m in re.finditer(r"/\*\*(.*?)\*/\s*REMOTE_PROC_([A-Z0-9_]+)\s*=\s*(\d+)", body, re.S):
        notes, name, number = m.group(1), m.group(2), int(m.group(3))
        high = "@priority: high" in notes
        stream = "none"
        if "@readstream" in notes:
            stream = "read"
        if "@writestream" in notes:
            stream = "write"
        # "@acl: obj:perm" applies always; "@acl: obj:perm:FLAG" and "obj:perm::param:value"
        # only when the call sets that flag or value (the server checks those itself).
        perms = re.findall(r"@acl:\s*([a-z_]+):([a-z_]+)(:[^\s]*)?", notes)
        filters = re.findall(r"@aclfilter:\s*([a-z_]+):([a-z_]+)", notes)
        writes = False
        for obj, perm, condition in perms:
            if perm in READ_PERMS or condition not in ("", ":"):
                continue
            writes = True
        if name in WRITES_DESPITE_ACL:
            writes = True
        entries.append((number, name, high, stream, writes, perms, filters))
    entries.sort()
    syms = set()
    syms_path = os.path.join(os.path.dirname(path), "..", "libvirt_public.syms")
    if os.path.exists(syms_path):
        syms = set(re.findall(r"\b(vir[A-Za-z0-9]+);", open(syms_path).read()))
    out = []
    out.append("// @generated by gen/procedure_table.py from libvirt 9.0.0's remote protocol definition.")
    out.append("// Facts only: numbers, names, priorities, stream direction, read-only rule, access checks.")
    out.append("// Do not edit.")
    out.append("")
    out.append("use super::{AclCheck, AclWhen, Family, ObjectArg, ProcedureInfo, StreamKind};")
    out.append("")
    out.append("/// Every REMOTE procedure, indexed by number (entry 0 is unused).")
    out.append("pub(super) static PROCEDURES: [ProcedureInfo; %d] = [" % (entries[-1][0] + 1))
    out.append('    ProcedureInfo { name: "", api: "", family: Family::Connect, high_priority: false, stream: StreamKind::None, writes: false, acl: &[], acl_filter: None, object_arg: ObjectArg::None, ret_object: ObjectArg::None },')
    include_dir = os.path.join(os.path.dirname(path), "..", "..", "include", "libvirt")
    flags = flag_values(include_dir)
    unknown = []
    for idx, (number, name, high, stream, writes, perms, filters) in enumerate(entries, start=1):
        assert idx == number, (idx, number)
        words = name.split("_")
        family = family_of(name)
        if words[0] in ("AUTH",):
            api = ""
        else:
            api = "vir" + camel(words)
            if syms and api not in syms:
                unknown.append(api)
                api = ""
        args = struct_members(text, "remote_%s_args" % name.lower()) or []
        ret = struct_members(text, "remote_%s_ret" % name.lower()) or []
        object_arg = OBJECT_ARGS.get(args[0][0], "None") if args else "None"
        if args and args[0] == ("remote_nonnull_string", "name"):
            object_arg = "Name"  # lookups by name, node devices
        ret_object = OBJECT_ARGS.get(ret[0][0], "None") if ret else "None"
        checks = ", ".join(
            'AclCheck { object: "%s", perm: "%s", when: %s }' % (obj, perm, acl_condition(cond, args, flags))
            for obj, perm, cond in perms if perm != "none")
        acl_filter = "None"
        if filters:
            acl_filter = 'Some(("%s", "%s"))' % filters[0]
        out.append('    ProcedureInfo { name: "%s", api: "%s", family: Family::%s, high_priority: %s, stream: StreamKind::%s, writes: %s, acl: &[%s], acl_filter: %s, object_arg: ObjectArg::%s, ret_object: ObjectArg::%s },'
                   % (name, api, family, "true" if high else "false",
                      {"none": "None", "read": "Read", "write": "Write"}[stream],
                      "true" if writes else "false", checks, acl_filter, object_arg, ret_object))
    out.append("];")
    out.append("")
    out.append("/// REMOTE procedure numbers.")
    out.append("#[allow(dead_code)]")
    out.append("pub mod remote_proc {")
    for number, name, *_rest in entries:
        out.append("    pub const %s: u32 = %d;" % (name, number))
    out.append("}")
    print("\n".join(out))
    if unknown:
        sys.stderr.write("procedures without a public API of the derived name: %d\n" % len(unknown))
        sys.stderr.write(" ".join(unknown) + "\n")


if __name__ == "__main__":
    main()
