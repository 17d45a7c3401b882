//! A QEMU command line: environment, program and arguments, and its shell rendering (what
//! `virsh domxml-to-native qemu-argv` prints and what the per-domain log records).

/// The environment, program and argument vector of one QEMU process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommandLine {
    pub env: Vec<(String, String)>,
    pub program: String,
    pub args: Vec<String>,
    /// `<qemu:device>` property overrides, per device id, applied to each `-device` as it is
    /// added (`None` removes the property).
    pub(crate) device_overrides: Vec<DeviceOverride>,
}

/// The property overrides of one device id: each property is replaced (or, for `None`,
/// removed).
pub(crate) type DeviceOverride = (String, Vec<(String, Option<super::props::Prop>)>);

impl CommandLine {
    pub fn new(program: &str) -> CommandLine {
        CommandLine {
            env: Vec::new(),
            program: program.to_string(),
            args: Vec::new(),
            device_overrides: Vec::new(),
        }
    }

    pub fn env(&mut self, name: &str, value: impl Into<String>) {
        self.env.push((name.to_string(), value.into()));
    }

    pub fn arg(&mut self, arg: impl Into<String>) {
        self.args.push(arg.into());
    }

    /// An option with its value, e.g. `-m 256`.
    pub fn opt(&mut self, option: &str, value: impl Into<String>) {
        self.args.push(option.to_string());
        self.args.push(value.into());
    }

    /// One line as a shell would read it, the way libvirt renders commands.
    pub fn to_shell_line(&self) -> String {
        let mut parts: Vec<String> = self
            .env
            .iter()
            .map(|(name, value)| format!("{name}={}", shell_quote(value)))
            .collect();
        parts.push(shell_quote(&self.program));
        parts.extend(self.args.iter().map(|arg| shell_quote(arg)));
        parts.join(" ")
    }
}

pub use virt_plugin_sdk::command_line::shell_quote;

/// Splits a shell command line into words (single and double quotes, backslash escapes and
/// backslash-newline continuations), enough to read libvirt's `.args` files and our own output.
pub fn shell_split(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for inner in chars.by_ref() {
                    if inner == '\'' {
                        break;
                    }
                    current.push(inner);
                }
            }
            '"' => {
                in_word = true;
                while let Some(inner) = chars.next() {
                    match inner {
                        '"' => break,
                        '\\' => {
                            if let Some(escaped) = chars.next() {
                                current.push(escaped);
                            }
                        }
                        other => current.push(other),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(escaped) => {
                    in_word = true;
                    current.push(escaped);
                }
            },
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            other => {
                in_word = true;
                current.push(other);
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips() {
        let mut command = CommandLine::new("/usr/bin/qemu-system-x86_64");
        command.env("LC_ALL", "C");
        command.opt("-name", "guest=a b,debug-threads=on");
        command.opt("-device", r#"{"driver":"x","id":"it's"}"#);
        let line = command.to_shell_line();
        assert_eq!(
            line,
            r#"LC_ALL=C /usr/bin/qemu-system-x86_64 -name 'guest=a b,debug-threads=on' -device '{"driver":"x","id":"it'\''s"}'"#
        );
        let words = shell_split(&line);
        assert_eq!(words[0], "LC_ALL=C");
        assert_eq!(&words[2..], command.args.as_slice());
    }

    #[test]
    fn continuation_lines() {
        assert_eq!(shell_split("a \\\n-b \\\n'c d'\n"), vec!["a", "-b", "c d"]);
    }
}
