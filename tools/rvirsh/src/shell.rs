//! The shell itself: running parsed commands one after another, the interactive loop, and
//! the commands that need no hypervisor (`help`, `quit`, `connect`, `echo`, `cd`, `pwd`).

use std::io::{BufRead, IsTerminal};
use std::time::Instant;

use crate::command::{self, CommandDef, Group, OptDef, OptKind};
use crate::grammar::{self, Args};
use crate::session::{CmdResult, Failure, Session};

/// Runs commands in order; the result is the last command's, as in virsh. After each
/// command a blank line follows (`-q` leaves it out), or the time it took (`-t`).
pub fn run_commands(session: &mut Session, commands: Vec<Args>) -> bool {
    let mut succeeded = true;
    for args in commands {
        let started = Instant::now();
        let result = if args.def.needs_connection {
            session
                .connect()
                .and_then(|_| (args.def.handler)(session, &args))
        } else {
            (args.def.handler)(session, &args)
        };
        succeeded = result.is_ok();
        if let Err(failure) = &result {
            session.report(failure);
        }
        if matches!(args.def.name, "quit" | "exit") {
            break;
        }
        if session.options.timing {
            let millis = started.elapsed().as_secs_f64() * 1000.0;
            session.print(format!("\n(Time: {millis:.3} ms)\n\n"));
        } else {
            session.print_extra("\n");
        }
    }
    session.flush();
    succeeded
}

/// Parses and runs one command line; a line that does not parse runs nothing.
pub fn run_line(session: &mut Session, line: &str) -> bool {
    match grammar::parse_line(line) {
        Ok(commands) => run_commands(session, commands),
        Err(error) => {
            for message in error.messages() {
                session.error(message);
            }
            false
        }
    }
}

/// The interactive shell: a prompt, one command line at a time, until `quit` or end of input.
pub fn interactive(session: &mut Session) {
    session.interactive = true;
    if !session.options.quiet {
        session.print("Welcome to rvirsh, the virtualization interactive terminal.\n\n");
        session.print("Type:  'help' for help with commands\n       'quit' to quit\n\n");
    }
    let stdin = std::io::stdin();
    // A terminal echoes what is typed; for piped input the line is echoed here, so that a
    // transcript reads the same (as readline does).
    let echo = !stdin.is_terminal();
    let mut input = stdin.lock();
    loop {
        let prompt = if session.options.readonly {
            "rvirsh > "
        } else {
            "rvirsh # "
        };
        session.print(prompt);
        session.flush();
        let mut line = String::new();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => {
                session.print("\n");
                break;
            }
            Ok(_) => {}
        }
        let line = line.strip_suffix('\n').unwrap_or(&line);
        if echo {
            session.print(format!("{line}\n"));
        }
        if !line.is_empty() {
            run_line(session, line);
        }
        if session.quit_requested {
            break;
        }
    }
    session.flush();
}

// ---- help ----

/// `help`'s synopsis line for one option.
fn synopsis_part(opt: &OptDef, short_form: bool) -> Option<String> {
    Some(match opt.kind {
        OptKind::Bool => format!("[--{}]", opt.name),
        OptKind::Int if opt.required => format!("<{}>", opt.name),
        OptKind::Int => format!("[--{} <number>]", opt.name),
        OptKind::String => format!("[--{} <string>]", opt.name),
        OptKind::Data if opt.required => format!("<{}>", opt.name),
        OptKind::Data => format!("[<{}>]", opt.name),
        OptKind::Argv => match (short_form, opt.required) {
            (true, true) => format!("{{[--{}] <string>}}...", opt.name),
            (true, false) => format!("[[--{}] <string>]...", opt.name),
            (false, true) => format!("<{}>...", opt.name),
            (false, false) => format!("[<{}>]...", opt.name),
        },
        OptKind::Alias(_) => return None,
    })
}

/// `help NAME`, laid out as virsh lays it out.
pub fn command_help(def: &CommandDef) -> String {
    let mut text = format!(
        "  NAME\n    {} - {}\n\n  SYNOPSIS\n    {}",
        def.name, def.summary, def.name
    );
    let mut short_form = false;
    for opt in def.options {
        if opt.takes_value() && opt.kind != OptKind::Argv && !opt.named_only {
            short_form = true;
        }
        if let Some(part) = synopsis_part(opt, short_form) {
            text.push(' ');
            text.push_str(&part);
        }
    }
    text.push('\n');
    if !def.description.is_empty() {
        text += &format!("\n  DESCRIPTION\n    {}\n", def.description);
    }
    if !def.options.is_empty() {
        text += "\n  OPTIONS\n";
        for opt in def.options {
            let form = match opt.kind {
                OptKind::Bool => format!("--{}", opt.name),
                OptKind::Int if opt.required => format!("[--{}] <number>", opt.name),
                OptKind::Int => format!("--{} <number>", opt.name),
                OptKind::String => format!("--{} <string>", opt.name),
                OptKind::Data => format!("[--{}] <string>", opt.name),
                OptKind::Argv if short_form => format!("[--{}] <string>", opt.name),
                OptKind::Argv => format!("<{}>", opt.name),
                OptKind::Alias(_) => continue,
            };
            text += &format!("    {form:<15}  {}\n", opt.help);
        }
    }
    text.push('\n');
    text
}

fn group_help(group: Group) -> String {
    let mut text = format!(" {} (help keyword '{}'):\n", group.title(), group.keyword());
    for def in command::all().filter(|def| def.group == group) {
        text += &format!("    {:<30} {}\n", def.name, def.summary);
    }
    text
}

fn cmd_help(session: &mut Session, args: &Args) -> CmdResult {
    let Some(name) = args.raw("command").filter(|name| !name.is_empty()) else {
        let mut text = String::from("Grouped commands:\n\n");
        for group in Group::ALL {
            text += &group_help(group);
            text.push('\n');
        }
        session.print(text);
        return Ok(());
    };
    if let Some(def) = command::find(name) {
        session.print(command_help(def));
        return Ok(());
    }
    if let Some(group) = Group::ALL
        .into_iter()
        .find(|group| group.keyword() == name || group.title() == name)
    {
        session.print(group_help(group));
        return Ok(());
    }
    Err(Failure::message(format!(
        "command or command group '{name}' doesn't exist"
    )))
}

fn cmd_quit(session: &mut Session, _args: &Args) -> CmdResult {
    session.quit_requested = true;
    Ok(())
}

fn cmd_connect(session: &mut Session, args: &Args) -> CmdResult {
    let uri = args.raw("name").map(str::to_string);
    // Reconnecting to the same URI keeps its read-only mode unless told; a new URI is
    // read-write unless told (virsh's rule).
    let readonly = args.flag("readonly") || (uri.is_none() && session.options.readonly);
    session.reconnect(uri, readonly)
}

/// Quotes a word for a POSIX shell when it needs it.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./,:=+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

fn xml_escape(word: &str) -> String {
    word.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn cmd_echo(session: &mut Session, args: &Args) -> CmdResult {
    let (shell, xml, split) = (args.flag("shell"), args.flag("xml"), args.flag("split"));
    for (first, second, a, b) in [
        ("shell", "xml", shell, xml),
        ("shell", "split", shell, split),
        ("xml", "split", xml, split),
    ] {
        if a && b {
            return Err(Failure::message(format!(
                "Options --{first} and --{second} are mutually exclusive"
            )));
        }
    }
    let words: Vec<String> = args
        .all("string")
        .into_iter()
        .map(|word| {
            if xml {
                xml_escape(word)
            } else if shell {
                shell_quote(word)
            } else if split {
                crate::storage::split_list(word)
                    .into_iter()
                    .map(|item| format!("{item}\n"))
                    .collect()
            } else {
                word.to_string()
            }
        })
        .collect();
    let text = words.join(" ");
    let text = text.trim_end_matches(' ');
    if args.flag("err") {
        session.error(text);
    } else {
        session.print(text);
    }
    Ok(())
}

fn cmd_cd(session: &mut Session, args: &Args) -> CmdResult {
    if !session.interactive {
        return Err(Failure::message(
            "cd: command valid only in interactive mode",
        ));
    }
    let dir = match args.raw("dir").filter(|dir| !dir.is_empty()) {
        Some(dir) => dir.to_string(),
        None => std::env::var("HOME").unwrap_or_else(|_| "/".to_string()),
    };
    std::env::set_current_dir(&dir).map_err(|error| {
        Failure::message(format!(
            "cd: {}: {dir}",
            crate::files::os_error_text(&error)
        ))
    })
}

fn cmd_pwd(session: &mut Session, _args: &Args) -> CmdResult {
    let cwd = std::env::current_dir().map_err(|error| {
        Failure::message(format!("pwd: {}", crate::files::os_error_text(&error)))
    })?;
    session.print(format!("{}\n", cwd.display()));
    Ok(())
}

/// The shell's own commands.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "cd",
        group: Group::Shell,
        summary: "change the current directory",
        description: "Change the current directory (interactive shell only).",
        options: &[OptDef::string(
            "dir",
            "directory to switch to (default: home or else root)",
        )],
        needs_connection: false,
        handler: cmd_cd,
    },
    CommandDef {
        name: "echo",
        group: Group::Shell,
        summary: "echo arguments. Used for internal testing.",
        description: "Print the arguments back, optionally quoted for a shell or XML.",
        options: &[
            OptDef::flag("shell", "escape for shell use"),
            OptDef::flag("xml", "escape for XML use"),
            OptDef::flag(
                "split",
                "split each argument on ','; ',,' is an escape sequence",
            ),
            OptDef::flag("err", "output to stderr"),
            OptDef::alias("str", "string"),
            OptDef::alias("hi", "string=hello"),
            OptDef::argv("string", "arguments to echo"),
        ],
        needs_connection: false,
        handler: cmd_echo,
    },
    CommandDef {
        name: "exit",
        group: Group::Shell,
        summary: "quit this interactive terminal",
        description: "",
        options: &[],
        needs_connection: false,
        handler: cmd_quit,
    },
    CommandDef {
        name: "help",
        group: Group::Shell,
        summary: "print help",
        description: "Print the list of commands, one command's help, or a group's commands.",
        options: &[OptDef::string("command", "a command or a help keyword")],
        needs_connection: false,
        handler: cmd_help,
    },
    CommandDef {
        name: "pwd",
        group: Group::Shell,
        summary: "print the current directory",
        description: "Print the current directory.",
        options: &[],
        needs_connection: false,
        handler: cmd_pwd,
    },
    CommandDef {
        name: "quit",
        group: Group::Shell,
        summary: "quit this interactive terminal",
        description: "",
        options: &[],
        needs_connection: false,
        handler: cmd_quit,
    },
    CommandDef {
        name: "connect",
        group: Group::Shell,
        summary: "(re)connect to hypervisor",
        description: "Open a new connection, replacing the current one.",
        options: &[
            OptDef::string("name", "hypervisor connection URI").empty_ok(),
            OptDef::flag("readonly", "read-only connection"),
        ],
        needs_connection: false,
        handler: cmd_connect,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::testing;

    /// Runs a command line on a fresh fake connection: (stdout, stderr, succeeded).
    fn run(line: &str) -> (String, String, bool) {
        crate::fake::register();
        let (mut session, out, err) = testing::session("fake:///default");
        let succeeded = run_line(&mut session, line);
        (out.text(), err.text(), succeeded)
    }

    #[test]
    fn list_table_and_order() {
        let (out, err, ok) = run("list --all");
        assert!(ok, "{err}");
        // Running domains by id first, then inactive ones by name; a blank line after.
        assert_eq!(out, " Id   Name   State\n-----------------------\n 1    test   running\n -    Idle   shut off\n\n");
        let (out, _, _) = run("list --name --all; list --uuid; list --id --all");
        assert_eq!(
            out,
            "test\nIdle\n\n6695eb01-f6a4-8304-79aa-97f2502e193f\n\n1\n\n"
        );
    }

    #[test]
    fn dominfo_and_domstate() {
        let (out, _, ok) = run("dominfo 1");
        assert!(ok);
        assert_eq!(
            out,
            "Id:             1\nName:           test\nUUID:           6695eb01-f6a4-8304-79aa-97f2502e193f\n\
             OS Type:        linux\nState:          running\nCPU(s):         2\nCPU time:       1.5s\n\
             Max memory:     8388608 KiB\nUsed memory:    2097152 KiB\nPersistent:     yes\n\
             Autostart:      disable\nManaged save:   no\n\n"
        );
        let (out, _, _) = run("suspend test; domstate test --reason; domstate --domain Idle");
        assert_eq!(
            out,
            "Domain 'test' suspended\n\npaused (user)\n\nshut off\n\n"
        );
    }

    #[test]
    fn failures_report_like_virsh() {
        let (out, err, ok) = run("dominfo nosuch");
        assert!(!ok);
        assert_eq!(
            (out.as_str(), err.as_str()),
            ("\n", "error: failed to get domain 'nosuch'\n")
        );
        let (_, err, ok) = run("suspend Idle");
        assert!(!ok);
        assert_eq!(err, "error: Failed to suspend domain 'Idle'\nerror: internal error: domain 'Idle' not running\n");
        let (_, err, _) = run("start test");
        assert_eq!(err, "error: Domain is already active\n");
        let (_, err, _) = run("list --table --name");
        assert_eq!(
            err,
            "error: Options --table and --name are mutually exclusive\n"
        );
        let (_, err, _) = run("vol-list nosuch");
        assert_eq!(
            err,
            "error: failed to get pool 'nosuch'\nerror: Storage pool not found: no storage pool with matching name 'nosuch'\n"
        );
        let (_, err, ok) = run("define /nonexistent/dom.xml");
        assert!(!ok);
        assert_eq!(
            err,
            "error: Failed to open file '/nonexistent/dom.xml': No such file or directory\n"
        );
        // The status is the last command's, as in virsh.
        assert!(run("dominfo nosuch; list").2);
        // A driver that lacks a call says so.
        let (_, err, _) = run("net-list");
        assert_eq!(
            err,
            "error: Failed to list networks\nerror: this function is not supported by the connection driver: virConnectListAllNetworks\n"
        );
    }

    #[test]
    fn storage_views() {
        let (out, err, ok) = run("pool-info default-pool; vol-list default-pool --details; vol-info /pool/disk1.img --bytes");
        assert!(ok, "{err}");
        assert_eq!(
            out,
            "Name:           default-pool\nUUID:           dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566\nState:          running\n\
             Persistent:     yes\nAutostart:      no\nCapacity:       100.00 GiB\nAllocation:     0.00 B\n\
             Available:      100.00 GiB\n\n\
             \x20Name        Path              Type   Capacity   Allocation\n\
             -------------------------------------------------------------\n\
             \x20disk1.img   /pool/disk1.img   file   1.00 GiB   512.00 MiB\n\n\
             Name:           disk1.img\nType:           file\nCapacity:       1073741824 bytes\n\
             Allocation:     536870912 bytes\n\n"
        );
    }

    #[test]
    fn json_shapes() {
        let (out, _, ok) = run("list --all --json");
        assert!(ok);
        let value: serde_json::Value = serde_json::from_str(out.trim()).expect("valid JSON");
        assert_eq!(value[0]["name"], "test");
        assert_eq!(value[0]["id"], 1);
        assert_eq!(value[1]["id"], serde_json::Value::Null);
        assert_eq!(value[1]["state"], "shut off");
        assert_eq!(value[1]["autostart"], true);
        let (out, _, _) = run("domstate test --json");
        let value: serde_json::Value = serde_json::from_str(out.trim()).expect("valid JSON");
        assert_eq!(
            value,
            serde_json::json!({"state": "running", "state_code": 1, "reason": "booted", "reason_code": 1})
        );
    }

    #[test]
    fn quiet_and_help_need_no_connection() {
        let (mut session, out, _) = testing::session("nothing:///at-all");
        session.options.quiet = true;
        assert!(run_line(&mut session, "help list; echo a b"));
        assert!(out.text().starts_with("  NAME\n    list - list domains\n"));
        assert!(out.text().ends_with("\n\na b"));
    }

    #[test]
    fn command_help_layout() {
        let def = command::find("dominfo").expect("dominfo exists");
        let help = command_help(def);
        assert!(help.starts_with("  NAME\n    dominfo - domain information\n\n  SYNOPSIS\n    dominfo <domain> [--json]\n"));
        assert!(help.contains("\n  OPTIONS\n    [--domain] <string>  domain name, id or uuid\n"));
        assert!(help.ends_with("\n\n"));
    }

    #[test]
    fn echo_quoting() {
        assert_eq!(shell_quote("plain"), "plain");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(xml_escape("<a&'b'>"), "&lt;a&amp;&apos;b&apos;&gt;");
    }
}
