//! virsh's command-line grammar: splitting a line into words and binding words to a
//! command's options.
//!
//! Two sources feed the same parser: a command string (one quoted argument, or a line of the
//! interactive shell), split the way virsh splits it (quotes, backslash escapes, `;` and
//! newline between commands, `#` comments), and the process's own argument vector, where
//! rvirsh also accepts a lone `;` word between commands (virsh would call it unexpected data).
//! A whole line is parsed before anything runs: one syntax error and nothing runs, as in virsh.
//!
//! The error messages are virsh's, word for word: scripts match on them.

use crate::command::{self, CommandDef, OptDef, OptKind};

/// Why a line did not parse.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown command: '{0}'")]
    UnknownCommand(String),
    #[error("command '{command}' doesn't support option --{option}")]
    UnknownOption { command: String, option: String },
    #[error("option --{0} already seen")]
    RepeatedOption(String),
    #[error("invalid '=' after option --{0}")]
    ValueForSwitch(String),
    #[error("expected syntax: --{option} <{kind}>")]
    MissingValue { option: String, kind: &'static str },
    #[error("unexpected data '{0}'")]
    UnexpectedData(String),
    #[error("dangling \\")]
    DanglingBackslash,
    #[error("missing \"")]
    MissingQuote,
    /// Required options absent; virsh reports each one on its own line.
    #[error("command '{command}' requires {}", describe_missing(.missing.first()))]
    MissingOptions {
        command: String,
        missing: Vec<MissingOption>,
    },
}

/// A required option that was not given.
#[derive(Debug, PartialEq, Eq)]
pub struct MissingOption {
    pub name: String,
    /// True for values normally given positionally (`<name>`), false for `--name`.
    pub positional: bool,
}

fn describe_missing(missing: Option<&MissingOption>) -> String {
    match missing {
        Some(MissingOption {
            name,
            positional: true,
        }) => format!("<{name}> option"),
        Some(MissingOption {
            name,
            positional: false,
        }) => format!("--{name} option"),
        None => "options".to_string(),
    }
}

impl ParseError {
    /// The lines virsh prints for this error, each to be prefixed with "error: ".
    pub fn messages(&self) -> Vec<String> {
        match self {
            ParseError::MissingOptions { command, missing } => missing
                .iter()
                .map(|m| format!("command '{command}' requires {}", describe_missing(Some(m))))
                .collect(),
            other => vec![other.to_string()],
        }
    }
}

/// One unit of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Token {
    Word(String),
    /// `;`, a newline or a comment: the current command ends.
    CommandEnd,
    /// Nothing more.
    End,
}

/// Where words come from.
pub trait TokenSource {
    fn next_token(&mut self) -> Result<Token, ParseError>;
}

/// Words of a command string, split as virsh splits them.
#[derive(Debug)]
pub struct StringSource<'a> {
    rest: &'a str,
}

impl<'a> StringSource<'a> {
    pub fn new(line: &'a str) -> Self {
        StringSource { rest: line }
    }
}

impl TokenSource for StringSource<'_> {
    fn next_token(&mut self) -> Result<Token, ParseError> {
        // Skip blanks and backslash-newline pairs.
        loop {
            if let Some(after) = self.rest.strip_prefix([' ', '\t']) {
                self.rest = after;
            } else if let Some(after) = self.rest.strip_prefix("\\\n") {
                self.rest = after;
            } else {
                break;
            }
        }
        let mut chars = self.rest.char_indices().peekable();
        match chars.peek() {
            None => return Ok(Token::End),
            Some((_, ';' | '\n')) => {
                self.rest = &self.rest[1..];
                return Ok(Token::CommandEnd);
            }
            Some((_, '#')) => {
                // A word starting with '#' comments out the rest of the line.
                self.rest = match self.rest.find('\n') {
                    Some(newline) => &self.rest[newline + 1..],
                    None => "",
                };
                return Ok(Token::CommandEnd);
            }
            Some(_) => {}
        }
        let mut word = String::new();
        let (mut in_single, mut in_double) = (false, false);
        let mut end = self.rest.len();
        while let Some((idx, c)) = chars.next() {
            if !in_single && !in_double && matches!(c, ' ' | '\t' | ';' | '\n') {
                end = idx;
                break;
            }
            match c {
                '\'' if !in_double => in_single = !in_single,
                '"' if !in_single => in_double = !in_double,
                '\\' if !in_single => match chars.next() {
                    None => return Err(ParseError::DanglingBackslash),
                    Some((_, '\n')) => {}
                    Some((_, escaped)) => word.push(escaped),
                },
                other => word.push(other),
            }
        }
        if in_double {
            return Err(ParseError::MissingQuote);
        }
        self.rest = &self.rest[end..];
        Ok(Token::Word(word))
    }
}

/// Words of the process's argument vector; a lone `;` separates commands.
#[derive(Debug)]
pub struct ArgvSource<I> {
    words: I,
}

impl<I: Iterator<Item = String>> ArgvSource<I> {
    pub fn new(words: I) -> Self {
        ArgvSource { words }
    }
}

impl<I: Iterator<Item = String>> TokenSource for ArgvSource<I> {
    fn next_token(&mut self) -> Result<Token, ParseError> {
        Ok(match self.words.next() {
            None => Token::End,
            Some(word) if word == ";" => Token::CommandEnd,
            Some(word) => Token::Word(word),
        })
    }
}

/// The implicit `--help` every command accepts.
const HELP_OPTION: usize = usize::MAX;

/// A command with its options bound (virsh's `vshCmd`).
#[derive(Debug)]
pub struct Args {
    pub def: &'static CommandDef,
    /// Option index in `def.options`, and the value for options that take one.
    values: Vec<(usize, Option<String>)>,
}

/// An option whose value is unusable: virsh's "Failed to get option" errors.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("Failed to get option '{option}': {reason}")]
pub struct OptionError {
    pub option: String,
    pub reason: &'static str,
}

impl Args {
    /// Binds options by hand, for commands built programmatically (`--help` → `help NAME`).
    pub fn new(def: &'static CommandDef, values: Vec<(&str, Option<String>)>) -> Args {
        let values = values
            .into_iter()
            .filter_map(|(name, value)| def.option(name).map(|(idx, _)| (idx, value)))
            .collect();
        Args { def, values }
    }

    fn entries(&self, name: &str) -> Vec<(&'static OptDef, Option<&str>)> {
        self.values
            .iter()
            .filter_map(|(idx, value)| {
                let opt = self.def.options.get(*idx)?;
                (opt.name == name).then_some((opt, value.as_deref()))
            })
            .collect()
    }

    /// True when the option was given (virsh's `vshCommandOptBool`).
    pub fn flag(&self, name: &str) -> bool {
        !self.entries(name).is_empty()
    }

    /// The option's value if given; an empty value is an error unless the option allows it
    /// (virsh's `vshCommandOptStringReq`).
    pub fn string(&self, name: &str) -> Result<Option<&str>, OptionError> {
        match self.entries(name).into_iter().next() {
            None => Ok(None),
            Some((opt, value)) => {
                let value = value.unwrap_or("");
                if value.is_empty() && !opt.empty_ok {
                    return Err(OptionError {
                        option: name.to_string(),
                        reason: "Option argument is empty",
                    });
                }
                Ok(Some(value))
            }
        }
    }

    /// The value of an option the grammar already made mandatory.
    pub fn required(&self, name: &str) -> Result<&str, OptionError> {
        self.string(name)?.ok_or_else(|| OptionError {
            option: name.to_string(),
            reason: "Mandatory option not present",
        })
    }

    /// The option's value if given, empty or not (virsh's `vshCommandOptStringQuiet`, minus
    /// its silence about empty values, which no rvirsh command needs).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.entries(name)
            .into_iter()
            .next()
            .and_then(|(_, value)| value)
    }

    /// Every value of a repeatable (argv) option, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.entries(name)
            .into_iter()
            .filter_map(|(_, value)| value)
            .collect()
    }
}

/// Parses every command of a line; nothing is returned unless all of it parsed.
pub fn parse(source: &mut dyn TokenSource) -> Result<Vec<Args>, ParseError> {
    let mut commands = Vec::new();
    loop {
        let (parsed, last) = parse_one(source)?;
        commands.extend(parsed);
        if last == Token::End {
            return Ok(commands);
        }
    }
}

/// Bookkeeping while binding one command's words.
struct Binder {
    def: &'static CommandDef,
    values: Vec<(usize, Option<String>)>,
    /// Options still waiting for a value, in declaration order (positional candidates).
    awaiting_value: Vec<bool>,
    seen: Vec<bool>,
}

impl Binder {
    fn new(def: &'static CommandDef) -> Binder {
        let awaiting_value = def
            .options
            .iter()
            .map(|opt| opt.takes_value() && !opt.named_only)
            .collect();
        Binder {
            def,
            values: Vec::new(),
            awaiting_value,
            seen: vec![false; def.options.len()],
        }
    }

    fn is_help_command(&self) -> bool {
        self.def.name == "help"
    }

    /// Resolves `--name[=value]`; returns the option index and the inline value.
    fn named_option(&mut self, word: &str) -> Result<Option<(usize, Option<String>)>, ParseError> {
        let body = &word[2..];
        let (mut name, mut inline) = match body.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (body.to_string(), None),
        };
        if name == "help" {
            return Ok(Some((HELP_OPTION, inline)));
        }
        loop {
            let Some((idx, opt)) = self.def.option(&name) else {
                if self.is_help_command() {
                    return Ok(None);
                }
                return Err(ParseError::UnknownOption {
                    command: self.def.name.to_string(),
                    option: name,
                });
            };
            if let OptKind::Alias(target) = opt.kind {
                match target.split_once('=') {
                    Some((target_name, implied)) => {
                        if inline.is_some() {
                            return Err(ParseError::ValueForSwitch(opt.name.to_string()));
                        }
                        inline = Some(implied.to_string());
                        name = target_name.to_string();
                    }
                    None => name = target.to_string(),
                }
                continue;
            }
            if self.seen[idx] && opt.kind != OptKind::Argv {
                return Err(ParseError::RepeatedOption(name));
            }
            self.seen[idx] = true;
            return Ok(Some((idx, inline)));
        }
    }

    /// The next option a positional word binds to.
    fn positional_slot(&mut self) -> Option<usize> {
        let idx = self.awaiting_value.iter().position(|waiting| *waiting)?;
        if self.def.options[idx].kind != OptKind::Argv {
            self.awaiting_value[idx] = false;
        }
        self.seen[idx] = true;
        Some(idx)
    }

    fn finish(self) -> Result<Args, ParseError> {
        if self.values.iter().any(|(idx, _)| *idx == HELP_OPTION) {
            // `CMD --help` is `help CMD`.
            let help =
                command::find("help").ok_or_else(|| ParseError::UnknownCommand("help".into()))?;
            return Ok(Args::new(
                help,
                vec![("command", Some(self.def.name.to_string()))],
            ));
        }
        let missing: Vec<MissingOption> = self
            .def
            .options
            .iter()
            .zip(&self.seen)
            .filter(|(opt, seen)| opt.required && !**seen)
            .map(|(opt, _)| MissingOption {
                name: opt.name.to_string(),
                positional: matches!(opt.kind, OptKind::Data | OptKind::Argv),
            })
            .collect();
        if !missing.is_empty() {
            return Err(ParseError::MissingOptions {
                command: self.def.name.to_string(),
                missing,
            });
        }
        Ok(Args {
            def: self.def,
            values: self.values,
        })
    }
}

/// Parses words up to the end of one command; returns it (if any) and the token that ended it.
fn parse_one(source: &mut dyn TokenSource) -> Result<(Option<Args>, Token), ParseError> {
    let mut binder: Option<Binder> = None;
    let mut data_only = false;
    let last = loop {
        let word = match source.next_token()? {
            Token::Word(word) => word,
            other => break other,
        };
        let Some(current) = binder.as_mut() else {
            if word.starts_with('#') {
                // A comment in command position swallows the rest of the command.
                loop {
                    match source.next_token()? {
                        Token::Word(_) => continue,
                        other => return Ok((None, other)),
                    }
                }
            }
            let def = command::find(&word).ok_or(ParseError::UnknownCommand(word))?;
            binder = Some(Binder::new(def));
            continue;
        };
        let bytes = word.as_bytes();
        let is_option = !data_only
            && bytes.len() > 2
            && word.starts_with("--")
            && bytes[2].is_ascii_alphanumeric();
        if is_option {
            let Some((idx, inline)) = current.named_option(&word)? else {
                continue; // `help` ignores options it does not know
            };
            let opt = current.def.options.get(idx);
            let takes_value = opt.is_some_and(|opt| opt.takes_value());
            if !takes_value {
                if inline.is_some() {
                    let name = opt.map_or("help", |opt| opt.name);
                    return Err(ParseError::ValueForSwitch(name.to_string()));
                }
                current.values.push((idx, None));
                continue;
            }
            let Some(opt) = opt else { continue };
            let value = match inline {
                Some(value) => value,
                None => match source.next_token()? {
                    Token::Word(value) => value,
                    _ => {
                        let kind = if opt.kind == OptKind::Int {
                            "number"
                        } else {
                            "string"
                        };
                        return Err(ParseError::MissingValue {
                            option: opt.name.to_string(),
                            kind,
                        });
                    }
                },
            };
            if opt.kind != OptKind::Argv {
                current.awaiting_value[idx] = false;
            }
            current.values.push((idx, Some(value)));
        } else if !data_only && word == "--" {
            data_only = true;
        } else {
            match current.positional_slot() {
                Some(idx) => current.values.push((idx, Some(word))),
                None if current.is_help_command() => {}
                None => return Err(ParseError::UnexpectedData(word)),
            }
        }
    };
    let args = binder.map(Binder::finish).transpose()?;
    Ok((args, last))
}

/// Parses a command string.
pub fn parse_line(line: &str) -> Result<Vec<Args>, ParseError> {
    parse(&mut StringSource::new(line))
}

/// Parses the words after the global options.
pub fn parse_words(words: Vec<String>) -> Result<Vec<Args>, ParseError> {
    parse(&mut ArgvSource::new(words.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Result<Vec<Token>, ParseError> {
        let mut source = StringSource::new(line);
        let mut tokens = Vec::new();
        loop {
            let token = source.next_token()?;
            let end = token == Token::End;
            tokens.push(token);
            if end {
                return Ok(tokens);
            }
        }
    }

    fn w(text: &str) -> Token {
        Token::Word(text.to_string())
    }

    #[test]
    fn splits_like_virsh() {
        assert_eq!(
            words(r#"echo a 'b c' "d\"e" f\ g"#).expect("splits"),
            vec![w("echo"), w("a"), w("b c"), w("d\"e"), w("f g"), Token::End]
        );
        assert_eq!(
            words("list;uri\n dominfo test # trailing; comment\nuri").expect("splits"),
            vec![
                w("list"),
                Token::CommandEnd,
                w("uri"),
                Token::CommandEnd,
                w("dominfo"),
                w("test"),
                Token::CommandEnd,
                w("uri"),
                Token::End
            ]
        );
        // A backslash is literal inside single quotes; '#' inside a word is not a comment.
        assert_eq!(
            words(r"echo 'a\b' x#y").expect("splits"),
            vec![w("echo"), w("a\\b"), w("x#y"), Token::End]
        );
        // An unterminated single quote is accepted, as virsh accepts it.
        assert_eq!(
            words("echo 'open").expect("splits"),
            vec![w("echo"), w("open"), Token::End]
        );
        assert_eq!(words("echo \"open"), Err(ParseError::MissingQuote));
        assert_eq!(words("echo x\\"), Err(ParseError::DanglingBackslash));
    }

    fn parse_error(line: &str) -> Vec<String> {
        parse_line(line).expect_err("should not parse").messages()
    }

    #[test]
    fn binds_positional_and_named_values() {
        let commands =
            parse_line("dominfo test; dominfo --domain=x; dominfo --domain y").expect("parses");
        let domains: Vec<_> = commands
            .iter()
            .map(|args| args.required("domain").expect("bound"))
            .collect();
        assert_eq!(domains, ["test", "x", "y"]);
        let commands =
            parse_line("vol-create-as default-pool v1 --allocation 0 1G").expect("parses");
        assert_eq!(commands[0].required("capacity").expect("bound"), "1G");
        assert_eq!(commands[0].string("allocation").expect("ok"), Some("0"));
        // After `--` everything is data, even words that look like options.
        let commands = parse_line("dominfo -- --x").expect("parses");
        assert_eq!(commands[0].required("domain").expect("bound"), "--x");
        // A named option takes the next word whatever it looks like.
        let commands = parse_line("dominfo --domain --all").expect("parses");
        assert_eq!(commands[0].required("domain").expect("bound"), "--all");
    }

    #[test]
    fn virsh_messages_for_bad_lines() {
        assert_eq!(parse_error("nosuch"), ["unknown command: 'nosuch'"]);
        assert_eq!(
            parse_error("list; nosuch; list"),
            ["unknown command: 'nosuch'"]
        );
        assert_eq!(
            parse_error("dominfo"),
            ["command 'dominfo' requires <domain> option"]
        );
        assert_eq!(
            parse_error("vol-create-as"),
            [
                "command 'vol-create-as' requires <pool> option",
                "command 'vol-create-as' requires <name> option",
                "command 'vol-create-as' requires <capacity> option"
            ]
        );
        assert_eq!(
            parse_error("dominfo test extra"),
            ["unexpected data 'extra'"]
        );
        assert_eq!(
            parse_error("dominfo --foo test"),
            ["command 'dominfo' doesn't support option --foo"]
        );
        assert_eq!(
            parse_error("dominfo --domain"),
            ["expected syntax: --domain <string>"]
        );
        assert_eq!(
            parse_error("dominfo --domain=a --domain=b"),
            ["option --domain already seen"]
        );
        assert_eq!(
            parse_error("list --all=yes"),
            ["invalid '=' after option --all"]
        );
        assert_eq!(parse_error("uri extra"), ["unexpected data 'extra'"]);
    }

    #[test]
    fn empty_value_is_reported_when_read() {
        let commands = parse_line("dominfo ''").expect("parses");
        assert_eq!(
            commands[0]
                .required("domain")
                .expect_err("empty")
                .to_string(),
            "Failed to get option 'domain': Option argument is empty"
        );
    }

    #[test]
    fn help_option_becomes_help_command() {
        let commands = parse_line("dominfo test --help").expect("parses");
        assert_eq!(commands[0].def.name, "help");
        assert_eq!(commands[0].string("command").expect("ok"), Some("dominfo"));
        // `help` tolerates words it does not understand.
        assert!(parse_line("help list --bogus extra").is_ok());
    }

    #[test]
    fn comments_and_empty_commands() {
        assert_eq!(parse_line("  ; ; uri ;").expect("parses").len(), 1);
        assert_eq!(parse_line("list # comment; uri").expect("parses").len(), 1);
        assert!(parse_line("").expect("parses").is_empty());
    }

    #[test]
    fn argv_words_with_separators() {
        let argv = ["define", "a.xml", ";", "start", "demo"]
            .map(String::from)
            .to_vec();
        let commands = parse_words(argv).expect("parses");
        let names: Vec<_> = commands.iter().map(|args| args.def.name).collect();
        assert_eq!(names, ["define", "start"]);
        // In argv mode quotes are the shell's business: words are taken as they are.
        let commands = parse_words(vec!["echo".into(), "a b;c".into()]).expect("parses");
        assert_eq!(commands[0].all("string"), ["a b;c"]);
    }
}
