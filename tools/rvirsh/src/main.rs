//! rvirsh: a virsh-compatible command line over rvirt's public API (`virt-core`).
//!
//! It speaks virsh's language: the same commands and options, the same table layouts and the
//! same "error: ..." lines, exit status 1 when the (last) command failed, several commands in
//! one invocation separated by `;`, and an interactive shell when no command is given. On
//! top of that, listing and info commands take `--json` for scripts (shapes in `README.md`).
//!
//! Layout: [`grammar`] splits and binds words the way virsh does, [`command`] describes the
//! commands, [`session`] carries the connection and output, [`shell`] runs commands and the
//! interactive loop; one module per command family ([`domain`], [`network`], [`storage`],
//! [`host`]) plus [`console`]. It knows nothing about plugins, wasm or the wire protocol:
//! [`backends`] registers whatever serves connections, and everything goes through virt-core.
//!
//! clap parses the global options (`-c`, `-r`, ...). Command options are bound by rvirsh's
//! own small parser because virsh's grammar is part of the contract: every option that
//! takes a value may also be given positionally, in declaration order, and each mistake has
//! a fixed message that scripts match on; clap models neither.

mod backends;
mod command;
mod console;
mod domain;
#[cfg(test)]
mod fake;
mod files;
mod format;
mod grammar;
mod host;
mod migrate;
mod network;
mod plugin;
mod qemu;
mod session;
mod shell;
mod storage;
mod table;
mod xml;

use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;

use crate::session::{GlobalOptions, Session};

/// The global options, as virsh takes them (everything after the first word that is not an
/// option belongs to the command).
#[derive(Debug, Parser)]
#[command(name = "rvirsh", disable_help_flag = true, disable_version_flag = true)]
struct Cli {
    /// Hypervisor connection URI.
    #[arg(short = 'c', long = "connect", value_name = "URI")]
    connect: Option<String>,
    /// Debug level (0-4); accepted for compatibility, rvirsh logs through RUST_LOG.
    #[arg(short = 'd', long = "debug", value_name = "NUM")]
    debug: Option<String>,
    /// Escape sequence for the console.
    #[arg(short = 'e', long = "escape", value_name = "SEQ")]
    escape: Option<String>,
    /// This help.
    #[arg(short = 'h', long = "help")]
    help: bool,
    /// Keepalive interval in seconds; in-process connections have nothing to keep alive.
    #[arg(short = 'k', long = "keepalive-interval", value_name = "NUM")]
    keepalive_interval: Option<String>,
    /// Number of possible missed keepalive messages.
    #[arg(short = 'K', long = "keepalive-count", value_name = "NUM")]
    keepalive_count: Option<String>,
    /// Output logging to a file (not supported yet).
    #[arg(short = 'l', long = "log", value_name = "FILE")]
    log: Option<String>,
    /// Quiet mode.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Connect read-only.
    #[arg(short = 'r', long = "readonly")]
    readonly: bool,
    /// Print timing information.
    #[arg(short = 't', long = "timing")]
    timing: bool,
    /// Print the version (`-v`, `--version=short|long`).
    #[arg(short = 'v', long = "version", num_args = 0..=1, require_equals = true, default_missing_value = "short")]
    version: Option<String>,
    /// Print the version and build information.
    #[arg(short = 'V')]
    long_version: bool,
}

/// Global options that take a value: (short, long).
const VALUE_OPTIONS: [(char, &str); 6] = [
    ('c', "connect"),
    ('d', "debug"),
    ('e', "escape"),
    ('k', "keepalive-interval"),
    ('K', "keepalive-count"),
    ('l', "log"),
];

/// Splits the arguments where the command starts, as getopt's "+" mode does: at the first
/// word that is not an option or an option's value, or after "--".
fn split_at_command(args: &[String]) -> (Vec<String>, Vec<String>) {
    let mut idx = 0;
    while idx < args.len() {
        let word = &args[idx];
        if word == "--" {
            return (args[..idx].to_vec(), args[idx + 1..].to_vec());
        }
        if let Some(long) = word.strip_prefix("--") {
            let takes_value =
                !long.contains('=') && VALUE_OPTIONS.iter().any(|(_, name)| *name == long);
            idx += if takes_value { 2 } else { 1 };
            continue;
        }
        if let Some(shorts) = word.strip_prefix('-').filter(|rest| !rest.is_empty()) {
            // In "-rqc URI" the value follows the first short option that takes one.
            let mut skip_next = false;
            for (pos, c) in shorts.char_indices() {
                if VALUE_OPTIONS.iter().any(|(short, _)| *short == c) {
                    skip_next = pos + c.len_utf8() == shorts.len();
                    break;
                }
            }
            idx += if skip_next { 2 } else { 1 };
            continue;
        }
        break;
    }
    let idx = idx.min(args.len());
    (args[..idx].to_vec(), args[idx..].to_vec())
}

fn usage() -> String {
    let mut text = String::from(
        "\nrvirsh [options]... [<command_string>]\n\
         rvirsh [options]... <command> [args...]\n\n\
         \x20 options:\n\
         \x20   -c | --connect=URI      hypervisor connection URI\n\
         \x20   -d | --debug=NUM        debug level [0-4]\n\
         \x20   -e | --escape <char>    set escape sequence for console\n\
         \x20   -h | --help             this help\n\
         \x20   -k | --keepalive-interval=NUM\n\
         \x20                           keepalive interval in seconds, 0 for disable\n\
         \x20   -K | --keepalive-count=NUM\n\
         \x20                           number of possible missed keepalive messages\n\
         \x20   -q | --quiet            quiet mode\n\
         \x20   -r | --readonly         connect readonly\n\
         \x20   -t | --timing           print timing information\n\
         \x20   -v                      short version\n\
         \x20   -V                      long version\n\
         \x20        --version[=TYPE]   version, TYPE is short or long (default short)\n\n\
         \x20 commands (non interactive mode):\n\n",
    );
    for group in command::Group::ALL {
        text += &format!(" {} (help keyword '{}')\n", group.title(), group.keyword());
        for def in command::all().filter(|def| def.group == group) {
            text += &format!("    {:<30} {}\n", def.name, def.summary);
        }
        text.push('\n');
    }
    text += "  (specify help <group> for details about the commands in the group)\n\n";
    text += "  (specify help <command> for details about the command)\n\n";
    text
}

fn long_version() -> String {
    format!(
        "rvirsh {} (libvirt API {}), the virtualization toolkit's shell over rvirt\n\
         See the rvirt README for the drivers and plugins available.\n",
        env!("CARGO_PKG_VERSION"),
        host::version_text(virt_core::LIBVIRT_API_VERSION),
    )
}

/// The message virsh (getopt) prints for a bad global option.
fn option_error(error: &clap::Error) -> String {
    let arg = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.clone(),
        _ => String::new(),
    };
    match error.kind() {
        ErrorKind::UnknownArgument => {
            let word = arg.split('=').next().unwrap_or(&arg).to_string();
            format!("unsupported option '{word}'. See --help.")
        }
        ErrorKind::InvalidValue | ErrorKind::NoEquals => {
            // "-c" or "--connect" at the end of the line: clap names it "--connect <URI>".
            let long = arg
                .split_whitespace()
                .next()
                .unwrap_or(&arg)
                .trim_start_matches('-');
            match VALUE_OPTIONS.iter().find(|(_, name)| *name == long) {
                Some((short, name)) => format!("option '-{short}'/'--{name}' requires an argument"),
                None => format!("option '--{long}' requires an argument"),
            }
        }
        _ => error
            .to_string()
            .lines()
            .next()
            .unwrap_or("invalid options")
            .trim_start_matches("error: ")
            .to_string(),
    }
}

fn error_line(text: &str) {
    eprintln!("error: {text}");
}

/// Checks a numeric option as virsh does; `None` when it is fine.
fn check_number(
    value: &Option<String>,
    short: &str,
    long: &str,
    positive_message: bool,
) -> Option<String> {
    let value = value.as_ref()?;
    match value.parse::<i64>() {
        Err(_) if positive_message => Some(format!("Invalid value for option {short}")),
        Err(_) => Some(format!("option {short} takes a numeric argument")),
        Ok(number) if positive_message && number < 0 => Some(format!(
            "option {long} requires a positive integer argument"
        )),
        Ok(_) => None,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (option_words, command_words) = split_at_command(&args);
    let cli = match Cli::try_parse_from(std::iter::once("rvirsh".to_string()).chain(option_words)) {
        Ok(cli) => cli,
        Err(error) => {
            error_line(&option_error(&error));
            return ExitCode::FAILURE;
        }
    };
    if cli.help {
        print!("{}", usage());
        return ExitCode::SUCCESS;
    }
    match cli.version.as_deref() {
        Some("long") => {
            print!("{}", long_version());
            return ExitCode::SUCCESS;
        }
        Some(_) => {
            println!("{}", host::version_text(virt_core::LIBVIRT_API_VERSION));
            return ExitCode::SUCCESS;
        }
        None if cli.long_version => {
            print!("{}", long_version());
            return ExitCode::SUCCESS;
        }
        None => {}
    }
    let number_errors = [
        check_number(&cli.debug, "-d", "--debug", false),
        check_number(&cli.keepalive_interval, "-k", "--keepalive-interval", true),
        check_number(&cli.keepalive_count, "-K", "--keepalive-count", true),
    ];
    if let Some(message) = number_errors.into_iter().flatten().next() {
        error_line(&message);
        return ExitCode::FAILURE;
    }
    let escape = cli.escape.clone().unwrap_or_else(|| "^]".to_string());
    if !console::valid_escape(&escape) {
        error_line(&format!("Invalid string '{escape}' for escape sequence"));
        return ExitCode::FAILURE;
    }
    if cli.log.is_some() {
        error_line("option --log is not supported by rvirsh; use RUST_LOG");
        return ExitCode::FAILURE;
    }

    // Parse before connecting: a command line with a syntax error runs nothing. An empty
    // command string is a failure without a message, as in virsh.
    if command_words.len() == 1 && command_words[0].is_empty() {
        return ExitCode::FAILURE;
    }
    let commands = match command_words.len() {
        0 => None,
        1 => Some(grammar::parse_line(&command_words[0])),
        _ => Some(grammar::parse_words(command_words)),
    };
    let commands = match commands {
        Some(Err(error)) => {
            for message in error.messages() {
                error_line(&message);
            }
            return ExitCode::FAILURE;
        }
        Some(Ok(commands)) => Some(commands),
        None => None,
    };

    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let backend_error = backends::register();
    let options = GlobalOptions {
        uri: cli.connect.clone(),
        readonly: cli.readonly,
        quiet: cli.quiet,
        timing: cli.timing,
        escape,
    };
    let mut session = Session::new(
        options,
        Box::new(std::io::stdout()),
        Box::new(std::io::stderr()),
    );
    session.set_backend_error(backend_error);
    session.progress_bars = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // As virsh: a URI named with -c must open before anything runs; the default one is
    // opened by the first command that needs it.
    if cli.connect.is_some() {
        if let Err(failure) = session.connect() {
            session.report(&failure);
            return ExitCode::FAILURE;
        }
    }
    let succeeded = match commands {
        Some(commands) => shell::run_commands(&mut session, commands),
        None => {
            shell::interactive(&mut session);
            true
        }
    };
    session.flush();
    if succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(words: &[&str]) -> (Vec<String>, Vec<String>) {
        split_at_command(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn command_starts_after_the_options() {
        assert_eq!(
            split(&["-c", "test:///default", "list", "--all"]).1,
            ["list", "--all"]
        );
        assert_eq!(
            split(&["--connect=test:///default", "-rq", "list"]).1,
            ["list"]
        );
        assert_eq!(split(&["-rc", "test:///default", "uri"]).1, ["uri"]);
        assert_eq!(split(&["-ctest:///default", "uri"]).1, ["uri"]);
        assert_eq!(split(&["--connect", "x", "--", "--weird"]).1, ["--weird"]);
        assert!(split(&["-q"]).1.is_empty());
    }

    #[test]
    fn getopt_messages() {
        let parse = |words: &[&str]| {
            let error = Cli::try_parse_from(std::iter::once("rvirsh").chain(words.iter().copied()))
                .expect_err("bad");
            option_error(&error)
        };
        assert_eq!(
            parse(&["--bogus"]),
            "unsupported option '--bogus'. See --help."
        );
        assert_eq!(parse(&["-x"]), "unsupported option '-x'. See --help.");
        assert_eq!(
            parse(&["-c"]),
            "option '-c'/'--connect' requires an argument"
        );
        assert_eq!(
            parse(&["--connect"]),
            "option '-c'/'--connect' requires an argument"
        );
    }
}
