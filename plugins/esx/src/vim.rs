//! The vSphere API's wire form (`urn:vim25`, document/literal SOAP 1.1), pure: a method's
//! envelope, managed object references, the property collector's object contents, and
//! faults with their vSphere type (`InvalidLogin`, `InvalidPowerState`, ...).
//!
//! Arguments are written in the order the WSDL declares them; the server rejects others.

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_soap::{escape, Element};

/// The API version the plugin asks for in `SOAPAction`; ESX 5.5 and later, and vcsim,
/// answer it.
pub const API_VERSION: &str = "6.5";

/// A managed object reference: its type and the server's id for it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MoRef {
    pub kind: String,
    pub value: String,
}

impl MoRef {
    pub fn new(kind: &str, value: &str) -> MoRef {
        MoRef {
            kind: kind.to_string(),
            value: value.to_string(),
        }
    }

    /// `<TAG type="KIND">VALUE</TAG>`.
    pub fn xml(&self, tag: &str) -> String {
        format!(
            "<{tag} type=\"{}\">{}</{tag}>",
            escape(&self.kind),
            escape(&self.value)
        )
    }

    /// The reference an element holds (`<returnval type="Task">task-1</returnval>`).
    pub fn from_element(element: &Element) -> Option<MoRef> {
        let kind = element.attribute("type")?;
        Some(MoRef::new(kind, element.text.trim()))
    }
}

/// `<TAG>text</TAG>`, escaped.
pub fn text(tag: &str, value: &str) -> String {
    format!("<{tag}>{}</{tag}>", escape(value))
}

/// The envelope of `method` called on `this` with already written arguments.
pub fn envelope(method: &str, this: &MoRef, args: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>\
         <{method} xmlns=\"urn:vim25\">{}{args}</{method}></soapenv:Body></soapenv:Envelope>",
        this.xml("_this")
    )
}

/// Which properties of which type to retrieve.
pub struct PropertySpec<'a> {
    pub kind: &'a str,
    pub paths: &'a [&'a str],
}

/// A `RetrievePropertiesEx` spec: the properties of `object`, or of every object a
/// container view holds when `object` is that view.
pub fn retrieve_spec(object: &MoRef, properties: &[PropertySpec<'_>]) -> String {
    let mut spec = String::from("<specSet>");
    for property in properties {
        spec.push_str("<propSet>");
        spec.push_str(&text("type", property.kind));
        for path in property.paths {
            spec.push_str(&text("pathSet", path));
        }
        spec.push_str("</propSet>");
    }
    spec.push_str("<objectSet>");
    spec.push_str(&object.xml("obj"));
    if object.kind == "ContainerView" {
        spec.push_str(
            "<skip>true</skip><selectSet xsi:type=\"TraversalSpec\"><name>view</name>\
             <type>ContainerView</type><path>view</path><skip>false</skip></selectSet>",
        );
    } else {
        spec.push_str("<skip>false</skip>");
    }
    spec.push_str("</objectSet></specSet><options></options>");
    spec
}

/// One object the property collector returned: its reference and its properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectContent {
    pub object: MoRef,
    pub properties: Vec<(String, Element)>,
}

impl ObjectContent {
    /// A property's value element.
    pub fn get(&self, path: &str) -> Option<&Element> {
        self.properties
            .iter()
            .find(|(name, _)| name == path)
            .map(|(_, value)| value)
    }

    /// A property's text.
    pub fn text(&self, path: &str) -> Option<&str> {
        self.get(path).map(|value| value.text.trim())
    }

    pub fn number(&self, path: &str) -> Option<i64> {
        self.text(path).and_then(|t| t.parse().ok())
    }

    pub fn moref(&self, path: &str) -> Option<MoRef> {
        self.get(path).and_then(MoRef::from_element)
    }
}

/// The objects of a `RetrievePropertiesEx`/`ContinueRetrievePropertiesEx` answer, and the
/// token of the next page when there is one.
pub fn object_contents(returnval: Option<&Element>) -> (Vec<ObjectContent>, Option<String>) {
    let Some(returnval) = returnval else {
        return (Vec::new(), None);
    };
    let objects = returnval
        .children_named("objects")
        .filter_map(|object| {
            let reference = MoRef::from_element(object.child("obj")?)?;
            let properties = object
                .children_named("propSet")
                .filter_map(|set| {
                    Some((
                        set.child_text("name")?.to_string(),
                        set.child("val")?.clone(),
                    ))
                })
                .collect();
            Some(ObjectContent {
                object: reference,
                properties,
            })
        })
        .collect();
    let token = returnval.child_text("token").map(str::to_string);
    (objects, token)
}

/// A vSphere fault: its type (the detail's `xsi:type` or element name) and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VimFault {
    pub kind: String,
    pub message: String,
}

/// The `{method}Response` element of an answer, or its fault.
pub fn answer(text: &str, method: &str) -> Result<Result<Element, VimFault>, Error> {
    let envelope = virt_soap::parse(text, ErrorDomain::ESX)?;
    match virt_soap::body(&envelope, ErrorDomain::ESX)? {
        Ok(body) => body
            .child(&format!("{method}Response"))
            .cloned()
            .map(Ok)
            .ok_or_else(|| {
                Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::ESX,
                    format!("the answer to {method} has no {method}Response"),
                )
            }),
        Err(fault) => {
            let kind = fault
                .detail
                .as_ref()
                .and_then(|detail| detail.children.first())
                .map(|fault| {
                    fault
                        .attribute("type")
                        .map(|t| t.rsplit(':').next().unwrap_or(t).to_string())
                        .unwrap_or_else(|| fault.name.trim_end_matches("Fault").to_string())
                })
                .unwrap_or_default();
            Ok(Err(VimFault {
                kind,
                message: fault.reason,
            }))
        }
    }
}

/// The `Set-Cookie` session of a login answer (`vmware_soap_session="..."`), as the
/// `Cookie` header writes it.
pub fn session_cookie(headers: &[(String, String)]) -> Option<String> {
    headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, value)| value.split(';').next())
        .find(|pair| pair.trim_start().starts_with("vmware_soap_session"))
        .map(|pair| pair.trim().to_string())
}

/// libvirt's domain id for a machine: the number in its reference (`vm-42` → 42).
pub fn machine_id(reference: &MoRef) -> Option<i32> {
    let digits = reference
        .value
        .strip_prefix("vm-")
        .unwrap_or(&reference.value);
    digits.parse().ok().filter(|id: &i32| *id > 0)
}

/// `[datastore] dir/file` split into its datastore and path.
pub fn split_datastore_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.trim().strip_prefix('[')?;
    let (datastore, path) = rest.split_once(']')?;
    (!datastore.is_empty()).then_some((datastore, path.trim_start()))
}

/// Percent-encodes a URL query value or path segment (RFC 3986 unreserved kept; `/` kept
/// when `keep_slash`).
pub fn url_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_and_specs() {
        let pc = MoRef::new("PropertyCollector", "ha-property-collector");
        let view = MoRef::new("ContainerView", "session[1]2");
        let spec = retrieve_spec(
            &view,
            &[PropertySpec {
                kind: "VirtualMachine",
                paths: &["name", "runtime.powerState"],
            }],
        );
        let text = envelope("RetrievePropertiesEx", &pc, &spec);
        assert!(text.contains(
            "<RetrievePropertiesEx xmlns=\"urn:vim25\"><_this type=\"PropertyCollector\">\
             ha-property-collector</_this><specSet><propSet><type>VirtualMachine</type>\
             <pathSet>name</pathSet><pathSet>runtime.powerState</pathSet></propSet>"
        ));
        assert!(text.contains("<path>view</path>"));
    }

    #[test]
    fn object_contents_and_faults() {
        let ok = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="VirtualMachine">vm-9</obj><propSet><name>name</name><val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="xsd:string">web</val></propSet><propSet><name>parent</name><val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="ManagedObjectReference" type="Folder">f-1</val></propSet></objects><token>t1</token></returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>"#;
        let response = answer(ok, "RetrievePropertiesEx")
            .expect("parsed")
            .expect("no fault");
        let (objects, token) = object_contents(response.child("returnval"));
        assert_eq!(token.as_deref(), Some("t1"));
        assert_eq!(objects[0].object, MoRef::new("VirtualMachine", "vm-9"));
        assert_eq!(objects[0].text("name"), Some("web"));
        assert_eq!(
            objects[0].moref("parent"),
            Some(MoRef::new("Folder", "f-1"))
        );
        assert_eq!(machine_id(&objects[0].object), Some(9));

        let fault = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Login failure</faultstring><detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#;
        let fault = answer(fault, "Login").expect("parsed").expect_err("fault");
        assert_eq!(fault.kind, "InvalidLogin");
        assert_eq!(fault.message, "Login failure");
    }

    #[test]
    fn cookies_paths_and_encoding() {
        let headers = vec![(
            "Set-Cookie".to_string(),
            "vmware_soap_session=\"52a\"; Path=/; HttpOnly".to_string(),
        )];
        assert_eq!(
            session_cookie(&headers).as_deref(),
            Some("vmware_soap_session=\"52a\"")
        );
        assert_eq!(
            split_datastore_path("[LocalDS_0] web/web.vmx"),
            Some(("LocalDS_0", "web/web.vmx"))
        );
        assert_eq!(split_datastore_path("web.vmx"), None);
        assert_eq!(url_encode("a b/c", true), "a%20b/c");
    }
}
