//! Command lines as libvirt prints them, for drivers whose goldens are command lines (QEMU's
//! argv, the storage backends' programs): shell quoting as `virBufferEscapeShell` does it;
//! and a tool run to completion through the host's `command` call, failing as libvirt's
//! `virCommandRun` reports a child's exit.

use virt_core::{Error, ErrorDomain, ErrorNumber};

/// Quotes a word for a POSIX shell only when it holds a shell metacharacter (libvirt's
/// `virBufferEscapeShell`): single quotes, with a quote inside written `'\''`.
pub fn shell_quote(word: &str) -> String {
    const SPECIAL: &[char] = &[
        '\r', '\t', '\n', ' ', '!', '"', '#', '$', '&', '\'', '(', ')', '*', ';', '<', '>', '?',
        '[', '\\', ']', '^', '`', '{', '|', '}', '~',
    ];
    if word.is_empty() {
        return "''".into();
    }
    if !word.contains(SPECIAL) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Runs `program` (a bare name: the host's helper directories, then PATH) to completion and
/// returns its standard output. A program that cannot start, or that exits non-zero, is
/// `domain`'s internal error: libvirt's "Child process (PROGRAM ARGS) unexpected exit status
/// N: MESSAGE", the message being what it wrote on standard error (else standard output).
pub fn run_tool(
    program: &str,
    args: &[String],
    timeout_ms: u32,
    domain: ErrorDomain,
) -> Result<String, Error> {
    run_tool_output(program, args, timeout_ms, domain, |_| true).map(|output| output.stdout)
}

/// What a tool that succeeded printed.
pub struct ToolOutput {
    pub stdout: String,
    pub stderr: String,
}

/// [`run_tool`] for a tool whose standard error matters on success too (a verbose run that
/// logs what it did). Only the lines `said` keeps make the message of a failure, so a
/// verbose run's debug lines do not bury its error.
pub fn run_tool_output(
    program: &str,
    args: &[String],
    timeout_ms: u32,
    domain: ErrorDomain,
    said: impl Fn(&str) -> bool,
) -> Result<ToolOutput, Error> {
    use crate::host::command::{run, RunRequest};
    let output = run(&RunRequest {
        program: program.into(),
        args: args.to_vec(),
        env: vec![],
        cwd: None,
        stdin: vec![],
        timeout_ms,
    })
    .map_err(|e| {
        Error::new(
            ErrorNumber::INTERNAL_ERROR,
            domain,
            format!("cannot run {program}: {}", e.message),
        )
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if output.exit_code == Some(0) {
        return Ok(ToolOutput { stdout, stderr });
    }
    let kept = |text: &str| {
        text.lines()
            .filter(|line| said(line))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (stderr, stdout) = (kept(&stderr), kept(&stdout));
    let message = [stderr.trim(), stdout.trim()]
        .into_iter()
        .find(|text| !text.is_empty())
        .unwrap_or("no message");
    let command = std::iter::once(program.to_string())
        .chain(args.iter().map(|arg| shell_quote(arg)))
        .collect::<Vec<_>>()
        .join(" ");
    Err(Error::new(
        ErrorNumber::INTERNAL_ERROR,
        domain,
        format!(
            "Child process ({command}) unexpected exit status {}: {message}",
            output.exit_code.unwrap_or(-1)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn only_words_that_need_it_are_quoted() {
        assert_eq!(shell_quote("nodev,nosuid"), "nodev,nosuid");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }
}
