//! The file format of `xl` guest configurations as libvirt reads and writes it (its
//! `virConf`, a small subset of Python): `name = value` statements separated by new lines or
//! `;`, values that are numbers, quoted strings or bracketed lists, and `#` comments.
//!
//! [`XlConfig::parse`] keeps every statement in file order (a later statement of a name does
//! not replace an earlier one: lookups find the first, as libvirt's do); [`XlConfig::set`]
//! replaces a statement in place or appends it, and [`XlConfig::to_text`] writes the file
//! back the way libvirt writes it. The typed getters mirror libvirt's
//! `xenConfigGet*` helpers, including their messages.

use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::Result;

/// The name libvirt gives a configuration read from memory in its error messages.
const SOURCE_NAME: &str = "memory conf";

/// A value of a configuration statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XlValue {
    /// A number written with a leading `-` (`VIR_CONF_LLONG`).
    Signed(i64),
    /// A number written without a sign or with `+` (`VIR_CONF_ULLONG`).
    Unsigned(u64),
    /// A quoted string (`"..."`, `'...'` or `"""..."""`).
    String(String),
    /// A bracketed list of values.
    List(Vec<XlValue>),
}

impl XlValue {
    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            XlValue::String(text) => Some(text),
            _ => None,
        }
    }

    /// The items of a list value.
    pub fn as_list(&self) -> Option<&[XlValue]> {
        match self {
            XlValue::List(items) => Some(items),
            _ => None,
        }
    }

    /// A list of strings.
    pub fn string_list<I, S>(items: I) -> XlValue
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        XlValue::List(
            items
                .into_iter()
                .map(|item| XlValue::String(item.into()))
                .collect(),
        )
    }

    fn write(&self, out: &mut String) {
        match self {
            XlValue::Signed(number) => out.push_str(&number.to_string()),
            XlValue::Unsigned(number) => out.push_str(&number.to_string()),
            XlValue::String(text) => {
                // The quotes that need no escaping: "..." unless the text has a double
                // quote, then '...', and triple quotes for new lines or both quotes.
                if text.contains('\n') || (text.contains('"') && text.contains('\'')) {
                    out.push_str("\"\"\"");
                    out.push_str(text);
                    out.push_str("\"\"\"");
                } else if !text.contains('"') {
                    out.push('"');
                    out.push_str(text);
                    out.push('"');
                } else {
                    out.push('\'');
                    out.push_str(text);
                    out.push('\'');
                }
            }
            XlValue::List(items) => {
                out.push_str("[ ");
                for (idx, item) in items.iter().enumerate() {
                    if idx > 0 {
                        out.push_str(", ");
                    }
                    item.write(out);
                }
                out.push_str(" ]");
            }
        }
    }
}

/// One line of a configuration: a statement (with its trailing comment) or a comment alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XlEntry {
    pub name: Option<String>,
    pub value: Option<XlValue>,
    pub comment: Option<String>,
}

/// An `xl` configuration: its statements and comments in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XlConfig {
    pub entries: Vec<XlEntry>,
}

/// A syntax error at `line` of the text, as libvirt reports it.
fn syntax_error(line: usize, what: &str) -> Error {
    Error::new(
        ErrorNumber::CONF_SYNTAX,
        ErrorDomain::CONF,
        format!("{SOURCE_NAME}:{line}: {what}"),
    )
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

fn is_eol(byte: u8) -> bool {
    byte == b'\n' || byte == b'\r'
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
    }

    fn skip_blanks_and_eol(&mut self) {
        while let Some(byte) = self.peek() {
            if !is_blank(byte) && !is_eol(byte) {
                break;
            }
            if byte == b'\n' {
                self.line += 1;
            }
            self.pos += 1;
        }
    }

    fn slice(&self, start: usize, end: usize) -> Result<String> {
        std::str::from_utf8(&self.text[start..end])
            .map(str::to_string)
            .map_err(|_| syntax_error(self.line, "invalid UTF-8 in value"))
    }

    fn error(&self, what: &str) -> Error {
        syntax_error(self.line, what)
    }

    fn parse_number(&mut self) -> Result<XlValue> {
        let negative = self.peek() == Some(b'-');
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
        }
        if !self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            return Err(self.error("unterminated number"));
        }
        let mut magnitude: u64 = 0;
        while let Some(byte) = self.peek().filter(u8::is_ascii_digit) {
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|value| value.checked_add(u64::from(byte - b'0')))
                .ok_or_else(|| self.error("number out of range"))?;
            self.pos += 1;
        }
        if negative {
            let value = i64::try_from(magnitude)
                .map(|value| -value)
                .map_err(|_| self.error("number out of range"))?;
            Ok(XlValue::Signed(value))
        } else {
            Ok(XlValue::Unsigned(magnitude))
        }
    }

    fn parse_string(&mut self) -> Result<String> {
        let quote = self.peek();
        if self.text[self.pos..].starts_with(b"\"\"\"") && self.pos + 6 < self.text.len() {
            self.pos += 3;
            let start = self.pos;
            while self.pos + 2 < self.text.len() && !self.text[self.pos..].starts_with(b"\"\"\"") {
                if self.text[self.pos] == b'\n' {
                    self.line += 1;
                }
                self.pos += 1;
            }
            if !self.text[self.pos..].starts_with(b"\"\"\"") {
                return Err(self.error("unterminated string"));
            }
            let value = self.slice(start, self.pos)?;
            self.pos += 3;
            return Ok(value);
        }
        let Some(quote @ (b'"' | b'\'')) = quote else {
            return Err(self.error("expecting a value"));
        };
        self.pos += 1;
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|byte| byte != quote && !is_eol(byte))
        {
            self.pos += 1;
        }
        if self.peek() != Some(quote) {
            return Err(self.error("unterminated string"));
        }
        let value = self.slice(start, self.pos)?;
        self.pos += 1;
        Ok(value)
    }

    fn parse_value(&mut self) -> Result<XlValue> {
        self.skip_blanks();
        let Some(byte) = self.peek() else {
            return Err(self.error("expecting a value"));
        };
        match byte {
            b'"' | b'\'' => self.parse_string().map(XlValue::String),
            b'[' => {
                self.pos += 1;
                self.skip_blanks_and_eol();
                let mut items = Vec::new();
                if !self.at_end() && self.peek() != Some(b']') {
                    items.push(self.parse_value()?);
                    self.skip_blanks_and_eol();
                }
                while !self.at_end() && self.peek() != Some(b']') {
                    if self.peek() != Some(b',') {
                        return Err(self.error("expecting a separator in list"));
                    }
                    self.pos += 1;
                    self.skip_blanks_and_eol();
                    if self.peek() == Some(b']') {
                        break;
                    }
                    items.push(self.parse_value()?);
                    self.skip_blanks_and_eol();
                }
                if self.peek() != Some(b']') {
                    return Err(self.error("list is not closed with ]"));
                }
                self.pos += 1;
                Ok(XlValue::List(items))
            }
            b'0'..=b'9' | b'-' | b'+' => self.parse_number(),
            _ => Err(self.error("expecting a value")),
        }
    }

    fn parse_name(&mut self) -> Result<String> {
        self.skip_blanks();
        let start = self.pos;
        if !self.peek().is_some_and(|byte| byte.is_ascii_alphabetic()) {
            return Err(self.error("expecting a name"));
        }
        while self
            .peek()
            .is_some_and(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    fn rest_of_line(&mut self) -> Result<String> {
        let start = self.pos;
        while self.peek().is_some_and(|byte| !is_eol(byte)) {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    fn parse_statement(&mut self, config: &mut XlConfig) -> Result<()> {
        self.skip_blanks_and_eol();
        if self.peek() == Some(b'#') {
            self.pos += 1;
            let comment = self.rest_of_line()?;
            config.entries.push(XlEntry {
                name: None,
                value: None,
                comment: Some(comment),
            });
            return Ok(());
        }
        let name = self.parse_name()?;
        self.skip_blanks();
        if self.peek() != Some(b'=') {
            return Err(self.error("expecting an assignment"));
        }
        self.pos += 1;
        self.skip_blanks();
        let value = self.parse_value()?;
        self.skip_blanks();
        let comment = if self.peek() == Some(b'#') {
            self.pos += 1;
            Some(self.rest_of_line()?)
        } else {
            None
        };
        config.entries.push(XlEntry {
            name: Some(name),
            value: Some(value),
            comment,
        });
        Ok(())
    }

    fn parse_separator(&mut self) -> Result<()> {
        self.skip_blanks();
        match self.peek() {
            None => Ok(()),
            Some(byte) if is_eol(byte) => {
                self.skip_blanks_and_eol();
                Ok(())
            }
            Some(b';') => {
                self.pos += 1;
                self.skip_blanks_and_eol();
                Ok(())
            }
            Some(_) => Err(self.error("expecting a separator")),
        }
    }
}

impl XlConfig {
    /// Reads configuration text. A syntax error is `VIR_ERR_CONF_SYNTAX` naming the line.
    pub fn parse(text: &str) -> Result<XlConfig> {
        let mut parser = Parser {
            text: text.as_bytes(),
            pos: 0,
            line: 1,
        };
        let mut config = XlConfig::default();
        while !parser.at_end() {
            parser.parse_statement(&mut config)?;
            parser.parse_separator()?;
        }
        Ok(config)
    }

    /// The value of the first statement named `name`.
    pub fn get(&self, name: &str) -> Option<&XlValue> {
        self.entries
            .iter()
            .find(|entry| entry.name.as_deref() == Some(name))
            .and_then(|entry| entry.value.as_ref())
    }

    /// Sets `name`: the first statement of that name gets the value, or a statement is
    /// appended.
    pub fn set(&mut self, name: &str, value: XlValue) {
        match self
            .entries
            .iter_mut()
            .find(|entry| entry.name.as_deref() == Some(name))
        {
            Some(entry) => entry.value = Some(value),
            None => self.entries.push(XlEntry {
                name: Some(name.to_string()),
                value: Some(value),
                comment: None,
            }),
        }
    }

    /// Sets `name` to a number (written signed, as libvirt writes every number).
    pub fn set_int(&mut self, name: &str, value: i64) {
        self.set(name, XlValue::Signed(value));
    }

    /// Sets `name` to a string.
    pub fn set_string(&mut self, name: &str, value: impl Into<String>) {
        self.set(name, XlValue::String(value.into()));
    }

    /// The configuration as text, one statement per line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for entry in &self.entries {
            match (&entry.name, &entry.value) {
                (Some(name), Some(value)) => {
                    out.push_str(name);
                    out.push_str(" = ");
                    value.write(&mut out);
                    if let Some(comment) = &entry.comment {
                        out.push_str(" #");
                        out.push_str(comment);
                    }
                }
                _ => {
                    if let Some(comment) = &entry.comment {
                        out.push('#');
                        out.push_str(comment);
                    }
                }
            }
            out.push('\n');
        }
        out
    }

    // The typed getters of libvirt's Xen configuration helpers (`xenConfigGet*`).

    /// A 0/1 switch: a number (non-zero is on) or the string `"1"`; `default` when absent.
    pub fn get_bool(&self, name: &str, default: Option<bool>) -> Result<Option<bool>> {
        match self.get(name) {
            None => Ok(default),
            Some(XlValue::Unsigned(number)) => Ok(Some(*number != 0)),
            Some(XlValue::String(text)) => Ok(Some(text == "1")),
            Some(_) => Err(malformed(name)),
        }
    }

    /// An unsigned number, given as a number or a decimal string; `default` when absent.
    pub fn get_ulong(&self, name: &str, default: u64) -> Result<u64> {
        match self.get(name) {
            None => Ok(default),
            Some(XlValue::Unsigned(number)) => Ok(*number),
            Some(XlValue::String(text)) => {
                crate::util::parse_ulong(text, 10).ok_or_else(|| malformed(name))
            }
            Some(_) => Err(malformed(name)),
        }
    }

    /// A string; `Ok(None)` when absent, an error when the value is not a string.
    pub fn get_string(&self, name: &str) -> Result<Option<&str>> {
        match self.get(name) {
            None => Ok(None),
            Some(XlValue::String(text)) => Ok(Some(text)),
            Some(_) => Err(Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::CONF,
                format!("{SOURCE_NAME}: expected a string for '{name}' parameter"),
            )),
        }
    }

    /// A string that must be present.
    pub fn require_string(&self, name: &str) -> Result<&str> {
        self.get_string(name)?.ok_or_else(|| {
            Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::XEN,
                format!("config value {name} was missing"),
            )
        })
    }

    /// A list of strings (`Ok(None)` when absent or not a list of strings only: libvirt's
    /// Xen code reads those as "not given").
    pub fn get_string_list(&self, name: &str) -> Result<Option<Vec<&str>>> {
        match self.get(name) {
            Some(XlValue::List(items)) => {
                let mut strings = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        XlValue::String(text) => strings.push(text.as_str()),
                        _ => {
                            return Err(Error::new(
                                ErrorNumber::CONF_SYNTAX,
                                ErrorDomain::CONF,
                                format!(
                                    "{SOURCE_NAME}: expected a string list for '{name}' parameter"
                                ),
                            ))
                        }
                    }
                }
                Ok(Some(strings))
            }
            _ => Ok(None),
        }
    }
}

/// libvirt's "config value NAME was malformed".
pub(crate) fn malformed(name: &str) -> Error {
    Error::new(
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::XEN,
        format!("config value {name} was malformed"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_strings_lists_and_comments() {
        let text = "# a guest\nname = \"g\" # trailing\nmemory = 512; vcpus = -2\n\
                    disk = [ 'a',\n  \"b\", ]\nextra = \"\"\"x\ny\"\"\"\n";
        let config = XlConfig::parse(text).expect("parses");
        assert_eq!(config.get("name"), Some(&XlValue::String("g".into())));
        assert_eq!(config.get("memory"), Some(&XlValue::Unsigned(512)));
        assert_eq!(config.get("vcpus"), Some(&XlValue::Signed(-2)));
        assert_eq!(config.get("disk"), Some(&XlValue::string_list(["a", "b"])));
        assert_eq!(config.get("extra"), Some(&XlValue::String("x\ny".into())));
        assert_eq!(config.entries[0].comment.as_deref(), Some(" a guest"));
        assert_eq!(config.entries[1].comment.as_deref(), Some(" trailing"));
    }

    #[test]
    fn writes_as_libvirt_writes() {
        let mut config = XlConfig::default();
        config.set_string("name", "g");
        config.set_int("memory", 512);
        config.set_string("q", "say \"hi\"");
        config.set("vif", XlValue::string_list(["mac=00:16:3e:00:00:01"]));
        config.set_int("memory", 1024);
        assert_eq!(
            config.to_text(),
            "name = \"g\"\nmemory = 1024\nq = 'say \"hi\"'\nvif = [ \"mac=00:16:3e:00:00:01\" ]\n"
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        for (text, message) in [
            (
                "name = \"g\"\nmemory = \n",
                "memory conf:2: expecting a value",
            ),
            ("name = \"g\nx = 1\n", "memory conf:1: unterminated string"),
            ("1name = 2\n", "memory conf:1: expecting a name"),
            ("name \"g\"\n", "memory conf:1: expecting an assignment"),
            ("a = 1 b = 2\n", "memory conf:1: expecting a separator"),
            (
                "a = [ \"x\" \"y\" ]\n",
                "memory conf:1: expecting a separator in list",
            ),
            ("a = [ \"x\"", "memory conf:1: list is not closed with ]"),
            ("a = -\n", "memory conf:1: unterminated number"),
        ] {
            let error = XlConfig::parse(text).expect_err(text);
            assert_eq!(error.code(), ErrorNumber::CONF_SYNTAX, "{text}");
            assert_eq!(error.domain(), ErrorDomain::CONF, "{text}");
            assert_eq!(
                error.message(),
                format!("configuration file syntax error: {message}"),
                "{text}"
            );
        }
    }
}
