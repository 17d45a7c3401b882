//! Ordered JSON objects for QEMU's JSON command-line syntax (`-device '{"driver":...}'`) and
//! the matching QMP arguments.
//!
//! Hand-written rather than `serde_json::Map`: QEMU does not care about key order, but
//! libvirt's golden files do, and the workspace's `serde_json` sorts keys (turning on its
//! `preserve_order` feature would change every other crate's output).

use serde_json::Value;

/// One property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Prop {
    Str(String),
    Int(i64),
    UInt(u64),
    Bool(bool),
    /// JSON `null` (a terminated backing chain).
    Null,
    Object(Props),
    Array(Vec<Prop>),
}

/// An object whose keys keep the order they were added in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Props(pub Vec<(String, Prop)>);

impl Props {
    pub fn new() -> Props {
        Props(Vec::new())
    }

    pub fn str(mut self, key: &str, value: impl Into<String>) -> Props {
        self.0.push((key.to_string(), Prop::Str(value.into())));
        self
    }

    pub fn opt_str(self, key: &str, value: Option<impl Into<String>>) -> Props {
        match value {
            Some(value) => self.str(key, value),
            None => self,
        }
    }

    pub fn int(mut self, key: &str, value: i64) -> Props {
        self.0.push((key.to_string(), Prop::Int(value)));
        self
    }

    pub fn uint(mut self, key: &str, value: u64) -> Props {
        self.0.push((key.to_string(), Prop::UInt(value)));
        self
    }

    pub fn opt_uint(self, key: &str, value: Option<u64>) -> Props {
        match value {
            Some(value) => self.uint(key, value),
            None => self,
        }
    }

    pub fn bool(mut self, key: &str, value: bool) -> Props {
        self.0.push((key.to_string(), Prop::Bool(value)));
        self
    }

    pub fn opt_bool(self, key: &str, value: Option<bool>) -> Props {
        match value {
            Some(value) => self.bool(key, value),
            None => self,
        }
    }

    pub fn object(mut self, key: &str, value: Props) -> Props {
        self.0.push((key.to_string(), Prop::Object(value)));
        self
    }

    pub fn array(mut self, key: &str, value: Vec<Prop>) -> Props {
        self.0.push((key.to_string(), Prop::Array(value)));
        self
    }

    /// Appends another object's keys.
    pub fn extend(mut self, other: Props) -> Props {
        self.0.extend(other.0);
        self
    }

    pub fn push(&mut self, key: &str, value: Prop) {
        self.0.push((key.to_string(), value));
    }

    pub fn get(&self, key: &str) -> Option<&Prop> {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Prop::Str(text)) => Some(text),
            _ => None,
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Prop> {
        let index = self.0.iter().position(|(name, _)| name == key)?;
        Some(self.0.remove(index).1)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compact JSON as libvirt writes it on the command line.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(128);
        write_object(self, &mut out);
        out
    }

    /// The same object as a QMP argument.
    pub fn to_value(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(key, value)| (key.clone(), value.to_value()))
                .collect(),
        )
    }
}

impl Prop {
    pub fn to_value(&self) -> Value {
        match self {
            Prop::Str(text) => Value::String(text.clone()),
            Prop::Int(number) => Value::from(*number),
            Prop::UInt(number) => Value::from(*number),
            Prop::Bool(flag) => Value::Bool(*flag),
            Prop::Null => Value::Null,
            Prop::Object(props) => props.to_value(),
            Prop::Array(items) => Value::Array(items.iter().map(Prop::to_value).collect()),
        }
    }
}

fn write_object(props: &Props, out: &mut String) {
    out.push('{');
    for (index, (key, value)) in props.0.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_string(key, out);
        out.push(':');
        write_value(value, out);
    }
    out.push('}');
}

fn write_value(value: &Prop, out: &mut String) {
    match value {
        Prop::Str(text) => write_string(text, out),
        Prop::Int(number) => out.push_str(&number.to_string()),
        Prop::UInt(number) => out.push_str(&number.to_string()),
        Prop::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Prop::Null => out.push_str("null"),
        Prop::Object(props) => write_object(props, out),
        Prop::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
    }
}

fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_order() {
        let props = Props::new()
            .str("driver", "virtio-blk-pci")
            .str("bus", "pci.0")
            .str("addr", "0x2")
            .uint("bootindex", 1)
            .bool("read-only", false)
            .str("quote", "a\"b");
        assert_eq!(
            props.to_json(),
            r#"{"driver":"virtio-blk-pci","bus":"pci.0","addr":"0x2","bootindex":1,"read-only":false,"quote":"a\"b"}"#
        );
        assert_eq!(props.to_value()["bootindex"], 1);
    }
}
