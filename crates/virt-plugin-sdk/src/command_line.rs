//! Command lines as libvirt prints them, for drivers whose goldens are command lines (QEMU's
//! argv, the storage backends' programs): shell quoting as `virBufferEscapeShell` does it.

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
