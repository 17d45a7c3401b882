//! WS-Management 1.1 (DMTF DSP0226) as Hyper-V's WinRM speaks it, pure: the SOAP envelopes
//! of the three operations the driver needs (WS-Enumeration `Enumerate` with a WQL filter,
//! `Pull`, and a WMI method `Invoke`), and the answers read back into instances (property
//! name → values) and endpoint references, or a fault.
//!
//! It knows WMI only as far as WS-Management carries it: no class here is special.

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_soap::escape;
pub use virt_soap::Element;

pub const NS_SOAP: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const NS_ADDRESSING: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing";
pub const NS_WSMAN: &str = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd";
pub const NS_ENUMERATION: &str = "http://schemas.xmlsoap.org/ws/2004/09/enumeration";
pub const WQL_DIALECT: &str = "http://schemas.microsoft.com/wbem/wsman/1/WQL";
const ANONYMOUS: &str = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";

/// How many instances one `Pull` asks for: libvirt pulled one at a time, a round trip each.
pub const MAX_ELEMENTS: u32 = 100;

/// The envelope every request shares: addressing headers, the resource, the selectors.
fn envelope(
    to: &str,
    resource_uri: &str,
    action: &str,
    message_id: &str,
    selectors: &[(&str, &str)],
    body: &str,
) -> String {
    let mut selector_set = String::new();
    if !selectors.is_empty() {
        selector_set.push_str("<w:SelectorSet>");
        for (name, value) in selectors {
            selector_set.push_str(&format!(
                "<w:Selector Name=\"{}\">{}</w:Selector>",
                escape(name),
                escape(value)
            ));
        }
        selector_set.push_str("</w:SelectorSet>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <s:Envelope xmlns:s=\"{NS_SOAP}\" xmlns:a=\"{NS_ADDRESSING}\" xmlns:w=\"{NS_WSMAN}\" \
         xmlns:n=\"{NS_ENUMERATION}\"><s:Header><a:To>{to}</a:To>\
         <w:ResourceURI s:mustUnderstand=\"true\">{resource}</w:ResourceURI>\
         <a:ReplyTo><a:Address s:mustUnderstand=\"true\">{ANONYMOUS}</a:Address></a:ReplyTo>\
         <a:Action s:mustUnderstand=\"true\">{action}</a:Action>\
         <a:MessageID>{message_id}</a:MessageID>\
         <w:OperationTimeout>PT60S</w:OperationTimeout>{selector_set}</s:Header>\
         <s:Body>{body}</s:Body></s:Envelope>",
        to = escape(to),
        resource = escape(resource_uri),
        action = escape(action),
    )
}

/// `Enumerate` over a WMI namespace (`.../root/virtualization/v2/*`) with a WQL query.
pub fn enumerate(to: &str, namespace_uri: &str, wql: &str, message_id: &str) -> String {
    envelope(
        to,
        namespace_uri,
        &format!("{NS_ENUMERATION}/Enumerate"),
        message_id,
        &[],
        &format!(
            "<n:Enumerate><w:Filter Dialect=\"{WQL_DIALECT}\">{}</w:Filter></n:Enumerate>",
            escape(wql)
        ),
    )
}

/// `Pull` the next instances of an enumeration.
pub fn pull(to: &str, class_uri: &str, context: &str, message_id: &str) -> String {
    envelope(
        to,
        class_uri,
        &format!("{NS_ENUMERATION}/Pull"),
        message_id,
        &[],
        &format!(
            "<n:Pull><n:EnumerationContext>{}</n:EnumerationContext>\
             <n:MaxElements>{MAX_ELEMENTS}</n:MaxElements></n:Pull>",
            escape(context)
        ),
    )
}

/// A method parameter: a plain value, an embedded instance (CIM-XML `<INSTANCE>` text, which
/// travels escaped inside the parameter element), or an endpoint reference (`<a:Address>` and
/// `<a:ReferenceParameters>` elements, written as they are).
pub enum Param<'a> {
    Value(&'a str, String),
    Embedded(&'a str, String),
    Reference(&'a str, String),
}

/// Invokes `method` on the instance of `class_uri` the selectors name.
pub fn invoke(
    to: &str,
    class_uri: &str,
    method: &str,
    selectors: &[(&str, &str)],
    params: &[Param<'_>],
    message_id: &str,
) -> String {
    let mut body = format!("<p:{method}_INPUT xmlns:p=\"{}\">", escape(class_uri));
    for param in params {
        match param {
            Param::Value(name, value) | Param::Embedded(name, value) => {
                body.push_str(&format!("<p:{name}>{}</p:{name}>", escape(value)));
            }
            Param::Reference(name, elements) => {
                body.push_str(&format!("<p:{name}>{elements}</p:{name}>"));
            }
        }
    }
    body.push_str(&format!("</p:{method}_INPUT>"));
    envelope(
        to,
        class_uri,
        &format!("{class_uri}/{method}"),
        message_id,
        selectors,
        &body,
    )
}

/// A CIM-XML embedded instance of `class` with string-valued properties, as DefineSystem and
/// ModifyResourceSettings take them.
pub fn embedded_instance(class: &str, properties: &[(&str, &str, String)]) -> String {
    let mut text = format!("<INSTANCE CLASSNAME=\"{}\">", escape(class));
    for (name, cim_type, value) in properties {
        text.push_str(&format!(
            "<PROPERTY NAME=\"{}\" TYPE=\"{}\"><VALUE>{}</VALUE></PROPERTY>",
            escape(name),
            escape(cim_type),
            escape(value)
        ));
    }
    text.push_str("</INSTANCE>");
    text
}

fn malformed(why: String) -> Error {
    Error::new(
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::HYPERV,
        format!("Could not parse the WS-Management response: {why}"),
    )
}

/// Reads a document (virt-soap's tree, names by local name).
pub fn parse(text: &str) -> Result<Element, Error> {
    virt_soap::parse(text, ErrorDomain::HYPERV)
}

/// One WMI instance: its class and properties in document order; a property repeated is an
/// array, `xsi:nil` is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Instance {
    pub class: String,
    pub properties: Vec<(String, Option<String>)>,
}

impl Instance {
    fn from_element(element: &Element) -> Instance {
        Instance {
            class: element.name.clone(),
            properties: element
                .children
                .iter()
                .map(|p| {
                    let nil = p.attribute("nil") == Some("true");
                    (p.name.clone(), (!nil).then(|| p.text.clone()))
                })
                .collect(),
        }
    }

    /// The property's (first) value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Every value of an array property.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.properties
            .iter()
            .filter(|(k, _)| k == name)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }

    /// A numeric property; absent or malformed is the driver's internal error, naming it.
    pub fn number(&self, name: &str) -> Result<u64, Error> {
        self.get(name)
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| {
                Error::new(
                    ErrorNumber::INTERNAL_ERROR,
                    ErrorDomain::HYPERV,
                    format!(
                        "Could not read property '{name}' of {}: {:?}",
                        self.class,
                        self.get(name)
                    ),
                )
            })
    }
}

/// The body of an answer, or the fault it carries as libvirt reports one.
fn body(document: &Element, what: &str) -> Result<Element, Error> {
    virt_soap::body(document, ErrorDomain::HYPERV)?.map_err(|fault| {
        Error::new(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::HYPERV,
            format!(
                "Request failed for {what}: SOAP fault {}: {}",
                fault.code, fault.reason
            ),
        )
    })
}

/// An `EnumerateResponse`'s context.
pub fn enumeration_context(answer: &str) -> Result<String, Error> {
    let document = parse(answer)?;
    let body = body(&document, "enumeration")?;
    body.find("EnumerationContext")
        .map(|c| c.text.trim().to_string())
        .ok_or_else(|| malformed("no enumeration context".into()))
}

/// A `PullResponse`: the instances, and the context to pull again with (none at the end).
pub fn pulled(answer: &str) -> Result<(Vec<Instance>, Option<String>), Error> {
    let document = parse(answer)?;
    let body = body(&document, "pull")?;
    let response = body
        .child("PullResponse")
        .ok_or_else(|| malformed("no pull response".into()))?;
    let items = response
        .child("Items")
        .map(|items| items.children.iter().map(Instance::from_element).collect())
        .unwrap_or_default();
    let next = if response.child("EndOfSequence").is_some() {
        None
    } else {
        response
            .child("EnumerationContext")
            .map(|c| c.text.trim().to_string())
            .filter(|c| !c.is_empty())
    };
    Ok((items, next))
}

/// A method's output: its `ReturnValue` and the whole output element (for references such as
/// `Job` or `ResultingSystem`).
pub fn invoked(answer: &str, method: &str) -> Result<(i64, Element), Error> {
    let document = parse(answer)?;
    let body = body(&document, "invocation")?;
    let output = body
        .child(&format!("{method}_OUTPUT"))
        .ok_or_else(|| malformed(format!("no {method}_OUTPUT")))?;
    let value = output
        .child("ReturnValue")
        .and_then(|v| v.text.trim().parse().ok())
        .ok_or_else(|| {
            Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::HYPERV,
                format!("Could not lookup ReturnValue for {method} invocation"),
            )
        })?;
    Ok((value, output.clone()))
}

/// The value of selector `name` in an endpoint reference element.
pub fn selector(reference: &Element, name: &str) -> Option<String> {
    reference
        .find("SelectorSet")?
        .children
        .iter()
        .find(|s| s.attribute("Name") == Some(name))
        .map(|s| s.text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_addressing_and_escape_their_text() {
        let text = enumerate(
            "http://h:5985/wsman",
            "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/*",
            "SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'a<b'",
            "uuid:1",
        );
        let parsed = parse(&text).expect("well formed");
        assert_eq!(parsed.name, "Envelope");
        assert_eq!(
            parsed.find("Action").map(|a| a.text.as_str()),
            Some("http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate")
        );
        assert_eq!(
            parsed.find("Filter").map(|f| f.text.as_str()),
            Some("SELECT * FROM Msvm_ComputerSystem WHERE ElementName = 'a<b'")
        );
        let call = invoke(
            "http://h/wsman",
            "http://x/Msvm_ComputerSystem",
            "RequestStateChange",
            &[("Name", "G"), ("CreationClassName", "Msvm_ComputerSystem")],
            &[Param::Value("RequestedState", "2".into())],
            "uuid:2",
        );
        let parsed = parse(&call).expect("well formed");
        assert_eq!(
            parsed.find("RequestedState").map(|v| v.text.as_str()),
            Some("2")
        );
        assert_eq!(
            parsed.find("SelectorSet").map(|s| s.children.len()),
            Some(2)
        );
    }

    const PULL: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Header/><s:Body><n:PullResponse><n:Items><p:Msvm_ComputerSystem xmlns:p="http://x/Msvm_ComputerSystem"><p:ElementName>web &amp; db</p:ElementName><p:EnabledState>2</p:EnabledState><p:ProcessID xsi:nil="true"/><p:Notes>a</p:Notes><p:Notes>b</p:Notes></p:Msvm_ComputerSystem></n:Items><n:EndOfSequence/></n:PullResponse></s:Body></s:Envelope>"#;

    #[test]
    fn pulled_instances_keep_arrays_and_nils() {
        let (items, next) = pulled(PULL).expect("a pull response");
        assert_eq!(next, None);
        let vm = &items[0];
        assert_eq!(vm.class, "Msvm_ComputerSystem");
        assert_eq!(vm.get("ElementName"), Some("web & db"));
        assert_eq!(vm.number("EnabledState").expect("a number"), 2);
        assert_eq!(vm.get("ProcessID"), None);
        assert_eq!(vm.all("Notes"), ["a", "b"]);
        assert!(vm.number("ProcessID").is_err());
    }

    #[test]
    fn faults_are_errors_naming_code_and_reason() {
        let fault = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>w:InvalidSelectors</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">bad selectors</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#;
        let error = invoked(fault, "RequestStateChange").expect_err("a fault");
        assert_eq!(error.code(), ErrorNumber::INTERNAL_ERROR);
        assert!(
            error
                .message()
                .contains("w:InvalidSelectors: bad selectors"),
            "{error}"
        );
        assert!(parse("<a><b></a>").is_err());
    }

    #[test]
    fn method_output_gives_return_value_and_references() {
        let answer = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><p:RequestStateChange_OUTPUT xmlns:p="x"><p:Job><a:Address xmlns:a="y">anon</a:Address><a:ReferenceParameters xmlns:a="y"><w:ResourceURI xmlns:w="z">j</w:ResourceURI><w:SelectorSet xmlns:w="z"><w:Selector Name="InstanceID">JOB-1</w:Selector></w:SelectorSet></a:ReferenceParameters></p:Job><p:ReturnValue>4096</p:ReturnValue></p:RequestStateChange_OUTPUT></s:Body></s:Envelope>"#;
        let (value, output) = invoked(answer, "RequestStateChange").expect("output");
        assert_eq!(value, 4096);
        let job = output.child("Job").expect("job reference");
        assert_eq!(selector(job, "InstanceID").as_deref(), Some("JOB-1"));
    }
}
