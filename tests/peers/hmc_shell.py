#!/usr/bin/python3
"""A stand-in for an IBM HMC's restricted shell, written for rvirt's tests of its PowerVM
(PHYP) driver. This is NOT IBM software and contains none: it emulates the documented
behaviour of a handful of HMC commands (lshmc, lssyscfg, lshwres, chsysstate, mksyscfg,
rmsyscfg, chsyscfg, chhwres, mkvterm, rmvterm) against a small state kept in files.

A real sshd runs it as its ForceCommand. The command line comes from SSH_ORIGINAL_COMMAND;
the output and exit status are what an HMC gives for it.

Environment:
  HMC_STATE  directory holding state.json (made on first use), lock, vterm-ID (the pid
             of a partition's open virtual terminal) and commands.log
             (every command line received, one per line: the tests read it)
  HMC_MODE   "hmc" (default) or "ivm": an IVM has no lshmc and no -m
"""

import copy
import fcntl
import json
import os
import shlex
import signal
import sys
import tempfile
import time
import tty


def initial_state():
    def lpar(lpar_id, name, env, state, prof, mem, procs):
        (min_mem, want_mem, max_mem), (min_procs, want_procs, max_procs) = prof
        profile = {"min_mem": min_mem, "desired_mem": want_mem, "max_mem": max_mem,
                   "min_procs": min_procs, "desired_procs": want_procs,
                   "max_procs": max_procs, "boot_mode": "norm"}
        running = {"min_mem": min_mem, "mem": mem, "max_mem": max_mem,
                   "min_procs": min_procs, "procs": procs, "max_procs": max_procs}
        return {"id": lpar_id, "name": name, "lpar_env": env, "state": state,
                "curr_profile": name, "profiles": {name: profile}, "restarts": 0,
                "curr": running if state == "Running" else None}

    return {
        "system": {"name": "p570-SN10C8E6D", "type_model": "9117-MMA",
                   "serial_num": "10C8E6D", "state": "Operating",
                   "configurable_sys_mem": 16384, "configurable_sys_proc_units": 8.0},
        "lpars": [
            lpar(1, "lpar01", "aixlinux", "Running", ((512, 1024, 2048), (1, 2, 4)), 1024, 2),
            lpar(2, "lpar02", "aixlinux", "Not Activated", ((256, 512, 1024), (1, 1, 2)), 0, 0),
            lpar(3, "vios1", "vioserver", "Running", ((1024, 2048, 4096), (1, 1, 2)), 2048, 1),
        ],
    }


class HmcError(Exception):
    """A refusal: its message goes to stderr, its status is the exit code."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.message, self.status = message, status


def invalid_value(attr, value):
    return HmcError(f"HSCL0008 The value {value} for the attribute {attr} is not valid.")


BAD_ATTRIBUTES = "HSCL8012 The attribute(s) for this command are invalid."


# Every option this shell knows, and whether it takes a value.
OPTIONS = {"-m": True, "-r": True, "-F": True, "--filter": True, "--level": True, "-o": True,
           "--id": True, "-n": True, "-p": True, "-f": True, "-i": True, "-q": True,
           "--procs": True, "--immed": False, "--restart": False, "-V": False}


def parse_options(words, allowed):
    opts, words = {}, iter(words)
    for word in words:
        if word not in allowed:
            raise HmcError(f"An invalid parameter was entered: {word}")
        opts[word] = next(words, None) if OPTIONS[word] else True
        if opts[word] is None:
            raise HmcError(f"HSCL350B The parameter {word} requires a value.")
    return opts


def need(opts, option, choices=None):
    if option not in opts:
        raise HmcError(f"HSCL350B The parameter {option} is required.")
    value = opts[option]
    if choices is not None and value not in choices:
        raise HmcError(f"HSCL350C The value {value} for the parameter {option} is not valid.")
    return value


def split_list(text):
    """The HMC's list syntax: commas separate items, except inside double quotes (which is
    how one item carries a comma-separated value: "lpar_ids=1,2")."""
    items, item, quoted = [], "", False
    for c in text:
        if c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            items.append(item)
            item = ""
        else:
            item += c
    return items + [item]


def parse_filter(opts, keys):
    """--filter "key=v1,v2": a bare item continues the values of the key before it, so
    both the quoted and the unquoted forms of a one-key filter work."""
    if "--filter" not in opts:
        return {}
    filters, key = {}, None
    for item in split_list(opts["--filter"]):
        if "=" in item:
            key, value = item.split("=", 1)
            if key not in keys:
                raise HmcError(f"HSCL8013 The filter {key} is not valid for this command.")
            filters.setdefault(key, set()).add(value)
        elif key is not None:
            filters[key].add(item)
        else:
            raise HmcError(f"HSCL8013 The filter {opts['--filter']} is not valid.")
    return filters


def matches(filters, **values):
    """Whether an object passes every filter: lpar_ids tests lpar_id, and so on."""
    return all(values[key[:-1]] in wanted for key, wanted in filters.items())


def parse_attributes(text, allowed):
    attrs = {}
    for item in split_list(text):
        key, sep, value = item.partition("=")
        if not sep or key not in allowed:
            raise HmcError(BAD_ATTRIBUTES)
        attrs[key] = value
    return attrs


def render(known, rows, opts):
    """-F prints the named values in order; without it every attribute as attr=value.
    A value holding a comma is quoted, as the HMC does."""
    quote = lambda text: f'"{text}"' if "," in text else text
    fields = opts["-F"].split(",") if "-F" in opts else None
    if fields is not None and not all(f in known for f in fields):
        raise HmcError(BAD_ATTRIBUTES)
    if not rows:
        print("No results were found.")
    for row in rows:
        if fields is None:
            print(",".join(quote(f"{k}={row[k]}") for k in known))
        else:
            print(",".join(quote(str(row[f])) for f in fields))


def lpars(state, filters):
    """The partitions in the HMC's order (by id) that pass lpar_ids/lpar_names filters."""
    return [lp for lp in sorted(state["lpars"], key=lambda lp: lp["id"])
            if matches({k: v for k, v in filters.items() if k != "profile_names"},
                       lpar_id=str(lp["id"]), lpar_name=lp["name"])]


def find_lpar(state, lpar_id=None, name=None):
    for lp in state["lpars"]:
        if (lpar_id is not None and str(lp["id"]) == lpar_id) or lp["name"] == name:
            return lp
    if lpar_id is not None:
        raise HmcError(f"HSCL8006 The partition with id {lpar_id} could not be found.")
    raise HmcError(f"HSCL8006 The partition with name {name} could not be found.")


def target(state, opts, name_options):
    """The partition a command acts on: --id, or its name under -n or -p."""
    if "--id" in opts:
        return find_lpar(state, lpar_id=opts["--id"])
    for option in name_options:
        if option in opts:
            return find_lpar(state, name=opts[option])
    raise HmcError(f"HSCL350B The parameter --id or {name_options[0]} is required.")


TOTAL = {"mem": "configurable_sys_mem", "procs": "configurable_sys_proc_units"}


def free(state, unit):
    """What running partitions leave of the system's memory (MB) or processor units."""
    held = sum(lp["curr"][unit] for lp in state["lpars"] if lp["curr"])
    return state["system"][TOTAL[unit]] - held


# --- listing commands --------------------------------------------------------------------
def lshmc(state, opts):
    need(opts, "-V")
    print(r'"version= Version: 7\n Release: 7.9.0\n Service Pack: 0\n'
          r'HMC Build level 20190820.1\n","base_version=V7R7.9.0\n"')


OS_VERSION = {"aixlinux": "Linux", "vioserver": "VIOS 2.2", "os400": "IBM i"}


def lssyscfg(state, opts):
    resource = need(opts, "-r", ("sys", "lpar", "prof"))
    if resource == "sys":
        parse_filter(opts, ())
        known = ("name", "type_model", "serial_num", "state")
        render(known, [state["system"]], opts)
    elif resource == "lpar":
        filters = parse_filter(opts, ("lpar_ids", "lpar_names"))
        known = ("name", "lpar_id", "lpar_env", "state", "curr_profile", "default_profile",
                 "os_version")
        rows = [dict(lp, lpar_id=lp["id"], default_profile=lp["curr_profile"],
                     os_version=OS_VERSION[lp["lpar_env"]]) for lp in lpars(state, filters)]
        render(known, rows, opts)
    else:
        filters = parse_filter(opts, ("lpar_ids", "lpar_names", "profile_names"))
        known = ("name", "lpar_name", "lpar_id", "lpar_env", "min_mem", "desired_mem",
                 "max_mem", "min_procs", "desired_procs", "max_procs", "boot_mode")
        rows = [dict(prof, name=name, lpar_name=lp["name"], lpar_id=lp["id"],
                     lpar_env=lp["lpar_env"])
                for lp in lpars(state, filters) for name, prof in sorted(lp["profiles"].items())
                if name in filters.get("profile_names", {name})]
        render(known, rows, opts)


def lshwres(state, opts):
    resource = need(opts, "-r", ("mem", "proc"))
    level = need(opts, "--level", ("lpar", "sys"))
    unit = "mem" if resource == "mem" else "procs"
    if level == "sys":
        parse_filter(opts, ())
        # Processor units print as decimals ("8.0"), memory in whole MB.
        shown = (lambda n: f"{n:.1f}") if unit == "procs" else str
        total, avail = state["system"][TOTAL[unit]], free(state, unit)
        suffix = "mem" if unit == "mem" else "proc_units"
        row = {f"configurable_sys_{suffix}": shown(total),
               f"curr_avail_sys_{suffix}": shown(avail), f"installed_sys_{suffix}": shown(total)}
        render(tuple(row), [row], opts)
        return
    rows = []
    for lp in lpars(state, parse_filter(opts, ("lpar_ids", "lpar_names"))):
        # A partition that is not running holds nothing; its bounds are its profile's.
        prof = lp["profiles"][lp["curr_profile"]]
        now = lp["curr"] or {f"min_{unit}": prof[f"min_{unit}"], unit: 0,
                             f"max_{unit}": prof[f"max_{unit}"]}
        row = {"lpar_id": lp["id"], "lpar_name": lp["name"],
               f"curr_min_{unit}": now[f"min_{unit}"], f"curr_{unit}": now[unit],
               f"curr_max_{unit}": now[f"max_{unit}"]}
        if resource == "proc":
            row["curr_proc_mode"] = "ded"
        rows.append(row)
    known = ("lpar_id", "lpar_name", f"curr_min_{unit}", f"curr_{unit}", f"curr_max_{unit}")
    render(known + (("curr_proc_mode",) if resource == "proc" else ()), rows, opts)


# --- commands that change the state ------------------------------------------------------
def chsysstate(state, opts):
    need(opts, "-r", ("lpar",))
    op = need(opts, "-o", ("on", "shutdown", "osshutdown"))
    lp = target(state, opts, ("-n",))
    name = lp["name"]
    if op == "on":
        if lp["state"] != "Not Activated":
            raise HmcError(f"HSCL1463 The partition {name} is not in a state in which it "
                           "can be activated.")
        prof_name = opts.get("-f", lp["curr_profile"])
        prof = lp["profiles"].get(prof_name)
        if prof is None:
            raise HmcError(f"HSCL0023 The profile {prof_name} does not exist.")
        if prof["desired_mem"] > free(state, "mem"):
            raise HmcError("HSCL0333 There is not enough memory available on the managed "
                           f"system to activate partition {name}.")
        if prof["desired_procs"] > free(state, "procs"):
            raise HmcError("HSCL0334 There are not enough processors available on the "
                           f"managed system to activate partition {name}.")
        # The bounds are fixed at activation: a later chsyscfg changes the next one only.
        curr = {k: prof[k] for k in PROFILE_NUMBERS if not k.startswith("desired_")}
        curr.update(mem=prof["desired_mem"], procs=prof["desired_procs"])
        lp.update(state="Running", curr_profile=prof_name, curr=curr)
        return
    if lp["state"] != "Running":
        raise HmcError(f"HSCL0031 The partition {name} is not activated.")
    if "--restart" in opts:
        # A restart keeps the partition's resources: only the count shows it happened.
        lp["restarts"] += 1
    else:
        lp.update(state="Not Activated", curr=None)


PROFILE_NUMBERS = ("min_mem", "desired_mem", "max_mem", "min_procs", "desired_procs",
                   "max_procs")
BOOT_MODES = ("norm", "sms", "dd", "ds", "of")


def checked_name(attr, value):
    if not value or any(c.isspace() or c in ",\"'" for c in value):
        raise invalid_value(attr, value)
    return value


def checked_profile(prof, given):
    """Numbers are whole and positive, and min <= desired <= max holds for memory and
    processors; the blame goes to an attribute the caller set where one is at fault."""
    for attr in PROFILE_NUMBERS:
        if attr in given:
            value = given[attr]
            if not value.isdigit() or int(value) == 0:
                raise invalid_value(attr, value)
            prof[attr] = int(value)
    if prof["boot_mode"] not in BOOT_MODES:
        raise invalid_value("boot_mode", prof["boot_mode"])
    for unit in ("mem", "procs"):
        low, want, high = (prof[f"{k}_{unit}"] for k in ("min", "desired", "max"))
        if want > high:
            bad = f"max_{unit}" if f"max_{unit}" in given else f"desired_{unit}"
        elif want < low:
            bad = f"min_{unit}" if f"min_{unit}" in given else f"desired_{unit}"
        else:
            continue
        raise invalid_value(bad, prof[bad])
    return prof


def mksyscfg(state, opts):
    need(opts, "-r", ("lpar",))
    attrs = parse_attributes(need(opts, "-i"), ("name", "profile_name", "lpar_env",
                                                "boot_mode") + PROFILE_NUMBERS)
    for attr in ("name", "profile_name", "lpar_env", "min_mem", "desired_mem", "max_mem",
                 "desired_procs"):
        if attr not in attrs:
            raise HmcError(f"HSCL350D The attribute {attr} is required.")
    name = checked_name("name", attrs["name"])
    prof_name = checked_name("profile_name", attrs["profile_name"])
    if attrs["lpar_env"] not in OS_VERSION:
        raise invalid_value("lpar_env", attrs["lpar_env"])
    if any(lp["name"] == name for lp in state["lpars"]):
        raise HmcError(f"HSCLA9EC The partition name {name} is already in use.")
    attrs.setdefault("min_procs", "1")
    attrs.setdefault("max_procs", attrs["desired_procs"])
    prof = checked_profile({"boot_mode": attrs.get("boot_mode", "norm")}, attrs)
    new_id = max((lp["id"] for lp in state["lpars"]), default=0) + 1
    state["lpars"].append({"id": new_id, "name": name, "lpar_env": attrs["lpar_env"],
                           "state": "Not Activated", "curr_profile": prof_name,
                           "profiles": {prof_name: prof}, "restarts": 0, "curr": None})


def rmsyscfg(state, opts):
    need(opts, "-r", ("lpar",))
    lp = target(state, opts, ("-n", "-p"))
    if lp["state"] != "Not Activated":
        raise HmcError(f"HSCL0113 The partition {lp['name']} is running. It must be shut "
                       "down before it can be deleted.")
    state["lpars"].remove(lp)


def chsyscfg(state, opts):
    need(opts, "-r", ("prof",))
    attrs = parse_attributes(need(opts, "-i"), ("name", "lpar_id", "lpar_name", "boot_mode")
                             + PROFILE_NUMBERS)
    if "name" not in attrs or not ("lpar_id" in attrs or "lpar_name" in attrs):
        raise HmcError("HSCL350D The attributes name and lpar_id or lpar_name are required.")
    lp = find_lpar(state, lpar_id=attrs.get("lpar_id"), name=attrs.get("lpar_name"))
    if attrs["name"] not in lp["profiles"]:
        raise HmcError(f"HSCL0023 The profile {attrs['name']} does not exist.")
    prof = dict(lp["profiles"][attrs["name"]], boot_mode=attrs.get("boot_mode",
                lp["profiles"][attrs["name"]]["boot_mode"]))
    lp["profiles"][attrs["name"]] = checked_profile(prof, attrs)


def chhwres(state, opts):
    resource = need(opts, "-r", ("mem", "proc"))
    op = need(opts, "-o", ("a", "r"))
    amount_option, unit = ("-q", "mem") if resource == "mem" else ("--procs", "procs")
    amount = need(opts, amount_option)
    lp = target(state, opts, ("-p",))
    if not amount.isdigit() or int(amount) == 0:
        raise invalid_value(amount_option, amount)
    if lp["state"] != "Running":
        raise HmcError(f"HSCL0031 The partition {lp['name']} is not activated.")
    now = lp["curr"]
    wanted = now[unit] + int(amount) if op == "a" else now[unit] - int(amount)
    if wanted > now[f"max_{unit}"]:
        raise HmcError("HSCL2932 The requested amount exceeds the partition's maximum.")
    if wanted < now[f"min_{unit}"]:
        raise HmcError("HSCL2932 The requested amount is below the partition's minimum.")
    if op == "a" and int(amount) > free(state, unit):
        what = "memory" if unit == "mem" else "processors"
        raise HmcError(f"HSCL2933 There is not enough {what} available on the managed system.")
    now[unit] = wanted


def vterm_file(lp):
    return os.path.join(os.environ["HMC_STATE"], f"vterm-{lp['id']}")


def vterm_holder(lp):
    """The pid of the partition's open virtual terminal, if one is open."""
    try:
        with open(vterm_file(lp)) as f:
            pid = int(f.read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def mkvterm(state, opts):
    lp = target(state, opts, ("-p",))
    if lp["state"] != "Running":
        raise HmcError(f"HSCL1391 The partition {lp['name']} is not activated.")
    # An HMC allows one virtual terminal per partition; rmvterm closes the other.
    if vterm_holder(lp) is not None:
        raise HmcError("A terminal session is already open for this partition. Only one "
                       "open session is allowed for a partition. Exiting....")
    with open(vterm_file(lp), "w") as f:
        f.write(str(os.getpid()))

    # The console is an echo in raw mode (as mkvterm puts its terminal); it runs after the
    # lock is let go, since a console session lasts as long as its caller wants and must not
    # hold up other channels.
    def console():
        if os.isatty(0):
            tty.setraw(0)
        os.write(1, b" Open in progress \r\n\r\n")
        os.write(1, b" Open Completed.\r\n\r\n")
        while True:
            data = os.read(0, 4096)
            if not data:
                break
            os.write(1, data)
    return console


def rmvterm(state, opts):
    lp = target(state, opts, ("-p",))
    pid = vterm_holder(lp)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if vterm_holder(lp) is None:
                break
            time.sleep(0.02)


# Each command and the options it accepts (-m is added on all but lshmc).
COMMANDS = {
    "lshmc": (lshmc, {"-V"}),
    "lssyscfg": (lssyscfg, {"-r", "-F", "--filter"}),
    "lshwres": (lshwres, {"-r", "--level", "-F", "--filter"}),
    "chsysstate": (chsysstate, {"-r", "-o", "--id", "-n", "-f", "--immed", "--restart"}),
    "mksyscfg": (mksyscfg, {"-r", "-i"}),
    "rmsyscfg": (rmsyscfg, {"-r", "--id", "-n", "-p"}),
    "chsyscfg": (chsyscfg, {"-r", "-i"}),
    "chhwres": (chhwres, {"-r", "-o", "--id", "-p", "-q", "--procs"}),
    "mkvterm": (mkvterm, {"--id", "-p"}),
    "rmvterm": (rmvterm, {"--id", "-p"}),
}


def separator(line):
    """An unquoted | or ; : a second command, which this shell refuses."""
    lexer = shlex.shlex(line, posix=False, punctuation_chars="|;")
    lexer.whitespace_split = True
    try:
        return any(set(token) <= set("|;") for token in lexer)
    except ValueError:
        return False  # an open quote: shlex.split below says so


def run(line, mode, state_dir):
    if separator(line):
        raise HmcError("rbash: PIPE: restricted")
    try:
        words = shlex.split(line)
    except ValueError:
        raise HmcError("rbash: -c: line 1: unexpected EOF while looking for matching quote",
                       status=2)
    if not words:
        raise HmcError("rbash: this stand-in offers no interactive shell")
    command, args = words[0], words[1:]
    if command not in COMMANDS or (command == "lshmc" and mode == "ivm"):
        raise HmcError(f"rbash: {command}: command not found", status=127)
    handler, allowed = COMMANDS[command]
    opts = parse_options(args, allowed | ({"-m"} if command != "lshmc" else set()))

    path = os.path.join(state_dir, "state.json")
    try:
        with open(path) as f:
            state = json.load(f)
    except FileNotFoundError:
        state = initial_state()
    system = state["system"]["name"]
    # An HMC names the system on every command but lshmc and the listing of systems.
    if mode == "hmc" and command != "lshmc" and "-m" not in opts \
            and not (command == "lssyscfg" and opts.get("-r") == "sys"):
        raise HmcError("HSCL350B The parameter -m is required.")
    if "-m" in opts and opts["-m"] != system:
        raise HmcError(f"HSC0A3F The managed system {opts['-m']} could not be found.")

    before = copy.deepcopy(state)
    then = handler(state, opts)
    # Only a success is written back: a refusal leaves the HMC as it was.
    if state != before or not os.path.exists(path):
        fd, temp = tempfile.mkstemp(dir=state_dir, prefix=".state.")
        with os.fdopen(fd, "w") as f:
            json.dump(state, f, indent=1)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    return then


def main():
    state_dir = os.environ.get("HMC_STATE")
    mode = os.environ.get("HMC_MODE") or "hmc"
    if not state_dir or mode not in ("hmc", "ivm"):
        print("hmc_shell.py: HMC_STATE must name a directory, HMC_MODE be hmc or ivm",
              file=sys.stderr)
        return 1
    line = os.environ.get("SSH_ORIGINAL_COMMAND", "")
    # One command at a time: the driver may open several channels on one session at once.
    with open(os.path.join(state_dir, "lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(os.path.join(state_dir, "commands.log"), "a") as log:
            log.write(line.replace("\n", "\\n") + "\n")
        try:
            then = run(line, mode, state_dir)
        except HmcError as refusal:
            sys.stdout.flush()
            print(refusal.message, file=sys.stderr)
            return refusal.status
        sys.stdout.flush()
    if then:
        then()
    return 0


if __name__ == "__main__":
    sys.exit(main())
