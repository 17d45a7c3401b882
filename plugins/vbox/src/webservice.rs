//! VirtualBox's web service API (vboxweb.wsdl, document/literal SOAP 1.1, namespace
//! `http://www.virtualbox.org/`), pure: a call's envelope (`Interface_method` with `_this`
//! and named arguments, an array being its element repeated) and its answer (`returnval`s,
//! named out-parameters, or a fault with VirtualBox's result code).
//!
//! Objects are managed object references, strings the server hands out per session; this
//! module passes them along without reading them.

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_soap::{escape, Element};

/// One argument: a value, or an array (the element repeated, possibly zero times).
pub enum Arg<'a> {
    One(&'a str, String),
    Many(&'a str, Vec<String>),
}

/// `<vbox:METHOD><_this>..</_this>ARGS</vbox:METHOD>` in a SOAP 1.1 envelope.
pub fn envelope(method: &str, this: Option<&str>, args: &[Arg<'_>]) -> String {
    let mut body = format!("<vbox:{method}>");
    if let Some(this) = this {
        body.push_str(&format!("<_this>{}</_this>", escape(this)));
    }
    for arg in args {
        match arg {
            Arg::One(name, value) => {
                body.push_str(&format!("<{name}>{}</{name}>", escape(value)));
            }
            Arg::Many(name, values) => {
                for value in values {
                    body.push_str(&format!("<{name}>{}</{name}>", escape(value)));
                }
            }
        }
    }
    body.push_str(&format!("</vbox:{method}>"));
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:vbox=\"http://www.virtualbox.org/\"><SOAP-ENV:Body>{body}</SOAP-ENV:Body>\
         </SOAP-ENV:Envelope>"
    )
}

/// VirtualBox result codes the driver tells apart.
pub const VBOX_E_OBJECT_NOT_FOUND: i64 = 0x80BB_0001_u32 as i32 as i64;
pub const E_ACCESSDENIED: i64 = 0x8007_0005_u32 as i32 as i64;

/// A method's answer: its return values (an array is several) and out-parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub values: Vec<String>,
    pub outputs: Vec<(String, String)>,
}

impl Answer {
    /// The single return value ("" when the method returned a null reference).
    pub fn value(&self) -> &str {
        self.values.first().map_or("", String::as_str)
    }

    pub fn output(&self, name: &str) -> Option<&str> {
        self.outputs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A fault as the service reports it: its message and VirtualBox's result code, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceFault {
    pub message: String,
    pub result_code: Option<i64>,
}

/// Reads the answer to `method`.
pub fn answer(text: &str, method: &str) -> Result<Result<Answer, ServiceFault>, Error> {
    let envelope = virt_soap::parse(text, ErrorDomain::VBOX)?;
    let body = match virt_soap::body(&envelope, ErrorDomain::VBOX)? {
        Ok(body) => body,
        Err(fault) => {
            let result_code = fault
                .detail
                .as_ref()
                .and_then(|d| d.find("resultCode"))
                .and_then(|r| r.text.trim().parse().ok());
            return Ok(Err(ServiceFault {
                message: fault.reason,
                result_code,
            }));
        }
    };
    let response: &Element = body.child(&format!("{method}Response")).ok_or_else(|| {
        Error::new(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::VBOX,
            format!("the web service's answer to {method} has no {method}Response"),
        )
    })?;
    let mut answer = Answer::default();
    for child in &response.children {
        if child.name == "returnval" {
            answer.values.push(child.text.trim().to_string());
        } else {
            answer
                .outputs
                .push((child.name.clone(), child.text.trim().to_string()));
        }
    }
    Ok(Ok(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_name_this_and_repeat_arrays() {
        let text = envelope(
            "IVirtualBox_createMachine",
            Some("s-1"),
            &[
                Arg::One("name", "a&b".into()),
                Arg::Many("groups", vec![]),
                Arg::Many("flags", vec!["x".into(), "y".into()]),
            ],
        );
        assert!(text.contains(
            "<vbox:IVirtualBox_createMachine><_this>s-1</_this><name>a&amp;b</name>\
             <flags>x</flags><flags>y</flags></vbox:IVirtualBox_createMachine>"
        ));
    }

    #[test]
    fn answers_give_values_outputs_and_faults() {
        let ok = r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:vbox="http://www.virtualbox.org/"><SOAP-ENV:Body><vbox:IMachine_takeSnapshotResponse><returnval>p-9</returnval><id>u-1</id></vbox:IMachine_takeSnapshotResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
        let answer = answer(ok, "IMachine_takeSnapshot")
            .expect("parsed")
            .expect("no fault");
        assert_eq!(answer.value(), "p-9");
        assert_eq!(answer.output("id"), Some("u-1"));
        let fault = r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:vbox="http://www.virtualbox.org/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>VirtualBox error: Could not find a registered machine named 'x' (0x80BB0001)</faultstring><detail><vbox:RuntimeFault><resultCode>-2135228415</resultCode><returnval>e-1</returnval></vbox:RuntimeFault></detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
        let fault = super::answer(fault, "IVirtualBox_findMachine")
            .expect("parsed")
            .expect_err("a fault");
        assert_eq!(fault.result_code, Some(VBOX_E_OBJECT_NOT_FOUND));
        assert!(fault.message.contains("named 'x'"));
    }
}
