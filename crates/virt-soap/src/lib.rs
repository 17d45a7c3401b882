//! What every driver that manages its hypervisor through a SOAP web service needs once:
//! the answer read into an owned tree of elements named by their local names, the SOAP fault
//! (1.1's `faultcode`/`faultstring` or 1.2's `Code`/`Subcode`/`Reason`) found in its body,
//! and text escaped for an envelope.
//!
//! It knows no service: envelopes, WS-Management, vboxwebsrv's managed object references and
//! vSphere's types are the drivers'. Parsing goes through virt-xml's hardened reader (size
//! and depth limits, no DTD or entities), so a hostile server's answer is refused, not obeyed.

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_xml::xml::{parse_document, Node};

/// Escapes text for an element's content or an attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    virt_xml::xml::escape_into(&mut out, text);
    out
}

/// An element of an answer: local name, attributes as written, direct text, children.
/// Prefixes vary by server; within one answer the local names a driver asks for do not
/// collide, so they are what it looks elements up by. Attributes keep their prefixes: a
/// vSphere reference carries both `xsi:type` and a plain `type`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, local)| local)
}

impl Element {
    fn from_node(node: &Node<'_>) -> Element {
        Element {
            name: node.local_name().to_string(),
            attributes: node
                .attrs()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            text: node.text().into_owned(),
            children: node.children().map(Element::from_node).collect(),
        }
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`, in order.
    pub fn children_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first descendant named `name`, depth first.
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.children.iter().find_map(|c| {
            if c.name == name {
                Some(c)
            } else {
                c.find(name)
            }
        })
    }

    /// The attribute whose local name is `name`, the unprefixed one first.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .or_else(|| self.attributes.iter().find(|(k, _)| local(k) == name))
            .map(|(_, v)| v.as_str())
    }

    /// The trimmed text of child `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

/// Reads a document; malformed text is `domain`'s internal error naming the service.
pub fn parse(text: &str, domain: ErrorDomain) -> Result<Element, Error> {
    let document = parse_document(text, "(SOAP answer)", domain).map_err(|e| {
        Error::new(
            ErrorNumber::INTERNAL_ERROR,
            domain,
            format!("Could not parse the SOAP answer: {}", e.message()),
        )
    })?;
    Ok(Element::from_node(&document.root))
}

/// A SOAP fault: its code (1.2's subcode when present) and reason, and its detail element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub code: String,
    pub reason: String,
    pub detail: Option<Element>,
}

/// The body of an envelope, or its fault.
pub fn body(envelope: &Element, domain: ErrorDomain) -> Result<Result<Element, Fault>, Error> {
    let body = envelope.child("Body").ok_or_else(|| {
        Error::new(
            ErrorNumber::INTERNAL_ERROR,
            domain,
            "Could not lookup SOAP body",
        )
    })?;
    let Some(fault) = body.child("Fault") else {
        return Ok(Ok(body.clone()));
    };
    // SOAP 1.2 nests Code/Value and Subcode/Value and Reason/Text; 1.1 has flat elements.
    let code = fault
        .find("Subcode")
        .and_then(|s| s.child_text("Value"))
        .or_else(|| fault.child("Code").and_then(|c| c.child_text("Value")))
        .or_else(|| fault.child_text("faultcode"))
        .unwrap_or_default()
        .to_string();
    let reason = fault
        .child("Reason")
        .and_then(|r| r.child_text("Text"))
        .or_else(|| fault.child_text("faultstring"))
        .unwrap_or_default()
        .to_string();
    let detail = fault
        .child("Detail")
        .or_else(|| fault.child("detail"))
        .cloned();
    Ok(Err(Fault {
        code,
        reason,
        detail,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soap_12_faults_give_subcode_and_reason() {
        let text = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>w:InvalidSelectors</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">bad selectors</s:Text></s:Reason><s:Detail/></s:Fault></s:Body></s:Envelope>"#;
        let envelope = parse(text, ErrorDomain::HYPERV).expect("parsed");
        let fault = body(&envelope, ErrorDomain::HYPERV)
            .expect("a body")
            .expect_err("a fault");
        assert_eq!(fault.code, "w:InvalidSelectors");
        assert_eq!(fault.reason, "bad selectors");
        assert!(fault.detail.is_some());
    }

    #[test]
    fn soap_11_faults_and_plain_bodies() {
        let text = r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>VirtualBox error: no (0x80BB0001)</faultstring><detail><vbox:RuntimeFault xmlns:vbox="http://www.virtualbox.org/"><resultCode>-2135228415</resultCode></vbox:RuntimeFault></detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
        let envelope = parse(text, ErrorDomain::VBOX).expect("parsed");
        let fault = body(&envelope, ErrorDomain::VBOX)
            .expect("a body")
            .expect_err("a fault");
        assert_eq!(fault.code, "SOAP-ENV:Client");
        assert!(fault.reason.ends_with("(0x80BB0001)"));
        let detail = fault.detail.expect("detail");
        assert_eq!(
            detail.find("resultCode").map(|r| r.text.as_str()),
            Some("-2135228415")
        );
        let ok = r#"<e:Envelope xmlns:e="x"><e:Body><r a:k="v" xmlns:a="y">t &amp; u<c>1</c></r></e:Body></e:Envelope>"#;
        let envelope = parse(ok, ErrorDomain::VBOX).expect("parsed");
        let body = body(&envelope, ErrorDomain::VBOX)
            .expect("a body")
            .expect("no fault");
        let r = body.child("r").expect("r");
        assert_eq!(r.text, "t & u");
        assert_eq!(r.attribute("k"), Some("v"));
        let moref = r#"<e:Envelope xmlns:e="x"><e:Body><val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="ManagedObjectReference" type="Folder">f-1</val></e:Body></e:Envelope>"#;
        let envelope = parse(moref, ErrorDomain::ESX).expect("parsed");
        let val = envelope.find("val").expect("val");
        assert_eq!(val.attribute("type"), Some("Folder"));
        assert_eq!(r.child_text("c"), Some("1"));
        assert!(parse("<a><b></a>", ErrorDomain::VBOX).is_err());
        assert_eq!(escape("a<b&'"), "a&lt;b&amp;&apos;");
    }
}
