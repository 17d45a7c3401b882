//! The QEMU-specific commands (`qemu-monitor-command`, `qemu-agent-command`): text passed to
//! QEMU's monitor or guest agent through the driver, as virsh passes it.
//!
//! virsh builds a QMP command from its words: words that already form a JSON object go as
//! they are; otherwise the first word is the command name and the rest its arguments, either
//! one JSON object or `"key":value` pieces joined into one.

use serde_json::{Map, Value};
use virt_core::consts::domain_qemu_agent_command_timeout as agent_timeout;
use virt_core::consts::domain_qemu_monitor_command_flags as monitor_flags;

use crate::command::{CommandDef, Group, OptDef};
use crate::domain::{domain_option, LookupBy, DOMAIN};
use crate::grammar::Args;
use crate::session::{CmdResult, Failure, Session};

/// The QMP command the words of `qemu-monitor-command` mean (virsh's wrapping rules).
fn qmp_command(words: &[&str]) -> Result<String, Failure> {
    let whole = words.join(" ");
    if let Ok(Value::Object(_)) = serde_json::from_str::<Value>(&whole) {
        return Ok(whole);
    }
    let Some((name, rest)) = words.split_first() else {
        return Ok(whole);
    };
    let mut command = Map::new();
    command.insert("execute".into(), Value::String(name.to_string()));
    if !rest.is_empty() {
        let joined = rest.join(" ");
        let arguments = match serde_json::from_str::<Value>(&joined) {
            Ok(Value::Object(object)) => object,
            _ => match serde_json::from_str::<Value>(&format!("{{{}}}", rest.join(","))) {
                Ok(Value::Object(object)) => object,
                _ => {
                    return Err(Failure::message(format!(
                        "failed to wrap arguments '{joined}' into a QMP command wrapper"
                    )))
                }
            },
        };
        command.insert("arguments".into(), Value::Object(arguments));
    }
    Ok(Value::Object(command).to_string())
}

fn cmd_qemu_monitor_command(session: &mut Session, args: &Args) -> CmdResult {
    let hmp = args.flag("hmp");
    let pretty = args.flag("pretty");
    let return_value = args.flag("return-value");
    for (other, given) in [("pretty", pretty), ("return-value", return_value)] {
        if hmp && given {
            return Err(Failure::message(format!(
                "Options --hmp and --{other} are mutually exclusive"
            )));
        }
    }
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    let words = args.all("cmd");
    let (text, flags) = if hmp {
        (words.join(" "), monitor_flags::HMP)
    } else {
        (qmp_command(&words)?, 0)
    };
    let reply = domain.qemu_monitor_command(&text, flags)?;
    let parsed = if return_value || pretty {
        serde_json::from_str::<Value>(&reply).ok()
    } else {
        None
    };
    let Some(parsed) = parsed else {
        if return_value {
            return Err(Failure::message("failed to parse JSON returned by qemu"));
        }
        session.print(format!("{reply}\n"));
        return Ok(());
    };
    let shown = if return_value {
        parsed
            .get("return")
            .cloned()
            .ok_or_else(|| Failure::message("'return' member missing"))?
    } else {
        parsed
    };
    // No newline of its own: the command loop's blank line ends it, as in virsh.
    session.print(to_json(&shown, pretty).trim());
    Ok(())
}

fn to_json(value: &Value, pretty: bool) -> String {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    text.unwrap_or_default()
}

fn cmd_qemu_agent_command(session: &mut Session, args: &Args) -> CmdResult {
    let (domain, _) = domain_option(session, args, LookupBy::ANY)?;
    let text = args.all("cmd").join(" ");
    let mut chosen = 0;
    let mut timeout = agent_timeout::DEFAULT;
    if let Some(value) = args.string("timeout")? {
        timeout = value.parse::<i32>().map_err(|_| {
            Failure::message(format!(
                "Numeric value '{value}' for <timeout> option is malformed or out of range"
            ))
        })?;
        if timeout < 1 {
            return Err(Failure::message("timeout must be positive"));
        }
        chosen += 1;
    }
    if args.flag("async") {
        timeout = agent_timeout::NOWAIT;
        chosen += 1;
    }
    if args.flag("block") {
        timeout = agent_timeout::BLOCK;
        chosen += 1;
    }
    if chosen > 1 {
        return Err(Failure::message(
            "timeout, async and block options are exclusive",
        ));
    }
    let reply = domain.qemu_agent_command(&text, timeout, 0)?;
    let shown = match serde_json::from_str::<Value>(&reply) {
        Ok(value) if args.flag("pretty") => to_json(&value, true),
        _ => reply,
    };
    session.print(format!("{shown}\n"));
    Ok(())
}

/// The QEMU commands.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef {
        name: "qemu-agent-command",
        group: Group::DomainManagement,
        summary: "QEMU Guest Agent Command",
        description: "Run an arbitrary qemu guest agent command; use at your own risk",
        options: &[
            DOMAIN,
            OptDef::named_int("timeout", "timeout seconds. must be positive."),
            OptDef::flag("async", "execute command without waiting for timeout"),
            OptDef::flag("block", "execute command without timeout"),
            OptDef::flag("pretty", "pretty-print the output"),
            OptDef::argv("cmd", "command").required(),
        ],
        needs_connection: true,
        handler: cmd_qemu_agent_command,
    },
    CommandDef {
        name: "qemu-monitor-command",
        group: Group::DomainManagement,
        summary: "QEMU Monitor Command",
        description: "QEMU Monitor Command",
        options: &[
            DOMAIN,
            OptDef::flag("hmp", "command is in human monitor protocol"),
            OptDef::flag("pretty", "pretty-print any qemu monitor protocol output"),
            OptDef::flag(
                "return-value",
                "extract the value of the 'return' key from the returned string",
            ),
            OptDef::argv("cmd", "command").required(),
        ],
        needs_connection: true,
        handler: cmd_qemu_monitor_command,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapped(words: &[&str]) -> Value {
        serde_json::from_str(&qmp_command(words).expect("wraps")).expect("json")
    }

    #[test]
    fn a_json_object_goes_as_it_is() {
        let text = r#"{"execute":"query-status"}"#;
        assert_eq!(qmp_command(&[text]).expect("ok"), text);
    }

    #[test]
    fn words_are_wrapped_into_a_command() {
        assert_eq!(
            wrapped(&["query-status"]),
            serde_json::json!({"execute": "query-status"})
        );
        assert_eq!(
            wrapped(&[
                "human-monitor-command",
                r#"{"command-line":"info","cpu-index":0}"#
            ]),
            serde_json::json!({"execute": "human-monitor-command",
                               "arguments": {"command-line": "info", "cpu-index": 0}})
        );
        assert_eq!(
            wrapped(&["balloon", r#""value":1024"#, r#""extra":true"#]),
            serde_json::json!({"execute": "balloon", "arguments": {"value": 1024, "extra": true}})
        );
    }

    #[test]
    fn unwrappable_arguments_are_refused() {
        let error = qmp_command(&["cmd", "not json"]).expect_err("refused");
        assert!(
            format!("{error:?}").contains("failed to wrap arguments 'not json'"),
            "{error:?}"
        );
    }
}
