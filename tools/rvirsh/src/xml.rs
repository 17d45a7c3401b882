//! The little XML reading rvirsh does itself: a domain's `<title>` (for `list --title` where
//! the driver has no metadata call) and its disks (for `undefine --remove-all-storage`).
//!
//! Documents come from the driver, already validated; a document that does not parse here
//! simply yields nothing. Typed schemas are `virt-xml`'s business, not rvirsh's.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// An element with its attributes, children and text.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |child| child.name == name)
    }
}

fn start_element(start: &BytesStart<'_>) -> Element {
    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
    let attributes = start
        .attributes()
        .flatten()
        .map(|attr| {
            let key = String::from_utf8_lossy(attr.key.as_ref()).into_owned();
            let value = attr
                .unescape_value()
                .map(|v| v.into_owned())
                .unwrap_or_default();
            (key, value)
        })
        .collect();
    Element {
        name,
        attributes,
        ..Element::default()
    }
}

/// Parses a document into its root element.
pub fn parse(document: &str) -> Option<Element> {
    let mut reader = Reader::from_str(document);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => stack.push(start_element(&start)),
            Event::Empty(start) => {
                let element = start_element(&start);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return Some(element),
                }
            }
            Event::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text.unescape().ok()?);
                }
            }
            Event::CData(data) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::End(_) => {
                let element = stack.pop()?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return Some(element),
                }
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The text of the root's first child called `name`.
pub fn child_text(document: &str, name: &str) -> Option<String> {
    parse(document)?.child(name).map(|child| child.text.clone())
}

/// A disk of a domain, as `undefine --storage` names it.
#[derive(Debug, PartialEq, Eq)]
pub struct DomainDisk {
    /// `<target dev=...>`, e.g. "vda".
    pub target: String,
    /// The source file, directory, device, network name or volume name.
    pub source: String,
    /// `<source pool=...>` for volume disks.
    pub pool: Option<String>,
}

/// The disks of a domain description that have a source.
pub fn domain_disks(document: &str) -> Vec<DomainDisk> {
    let Some(domain) = parse(document) else {
        return Vec::new();
    };
    let Some(devices) = domain.child("devices") else {
        return Vec::new();
    };
    devices
        .children_named("disk")
        .filter_map(|disk| {
            let target = disk.child("target")?.attribute("dev")?.to_string();
            let source_element = disk.child("source")?;
            let source = ["file", "dir", "name", "dev", "volume"]
                .iter()
                .find_map(|key| {
                    source_element
                        .attribute(key)
                        .filter(|value| !value.is_empty())
                })?
                .to_string();
            let pool = source_element
                .attribute("pool")
                .filter(|p| !p.is_empty())
                .map(str::to_string);
            Some(DomainDisk {
                target,
                source,
                pool,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAIN: &str = r#"<domain type='test'>
  <name>demo</name>
  <title>A &amp; B</title>
  <devices>
    <disk type='file' device='disk'><source file='/var/lib/a.img'/><target dev='vda'/></disk>
    <disk type='volume'><source pool='default-pool' volume='b.img'/><target dev='vdb'/></disk>
    <disk type='file' device='cdrom'><target dev='hdc'/></disk>
  </devices>
</domain>"#;

    #[test]
    fn reads_title_and_disks() {
        assert_eq!(child_text(DOMAIN, "title").as_deref(), Some("A & B"));
        assert_eq!(child_text(DOMAIN, "description"), None);
        assert_eq!(
            domain_disks(DOMAIN),
            vec![
                DomainDisk {
                    target: "vda".into(),
                    source: "/var/lib/a.img".into(),
                    pool: None
                },
                DomainDisk {
                    target: "vdb".into(),
                    source: "b.img".into(),
                    pool: Some("default-pool".into())
                },
            ]
        );
    }

    #[test]
    fn garbage_yields_nothing() {
        assert_eq!(parse("<domain>"), None);
        assert!(domain_disks("not xml").is_empty());
    }
}
