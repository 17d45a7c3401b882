//! A small driver built against `rvirt:driver@0.1.0`, kept as a prebuilt component so every
//! later host shows it still loads it and serves its calls.
//!
//! `compat:///NAME` opens the volatile space NAME. `define-xml` takes the domain's name as
//! its "XML" and stores a record; `list-all`, `lookup-by-name`, `get-state` and
//! `get-xml-desc` read the records back; `create` and `destroy` flip the state and emit
//! libvirt's lifecycle events. Each call goes through the 0.1 host interfaces it uses
//! (`state`, `events`, `log`).
#![cfg(target_arch = "wasm32")]

use virt_core::{ErrorDomain, ErrorNumber};
use virt_plugin_sdk::host::{events, log, state};
use virt_plugin_sdk::types::{DomainRef, DomainState, Error, Event, Uuid};
use virt_plugin_sdk::*;

struct Compat;

fn uuid_of(name: &str) -> Uuid {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    Uuid { hi: hash, lo: !hash }
}

/// A record is the domain's state byte: 1 running, 5 shut off (libvirt's numbers).
fn domain(name: &str, running: bool) -> DomainRef {
    DomainRef {
        name: name.to_string(),
        uuid: uuid_of(name),
        id: if running { 1 } else { -1 },
    }
}

fn find(name: &str) -> Result<DomainRef, Error> {
    match state::get("domain", name) {
        Some(record) => Ok(domain(name, record.first() == Some(&1))),
        None => Err(error(
            ErrorNumber::NO_DOMAIN,
            ErrorDomain::DOM,
            format!("no domain with matching name '{name}'"),
        )),
    }
}

fn set_running(dom: &DomainRef, running: bool, event: i32) -> Result<(), Error> {
    find(&dom.name)?;
    state::put("domain", &dom.name, &[if running { 1 } else { 5 }]);
    events::emit(&Event::DomainLifecycle((domain(&dom.name, running), event, 0)));
    Ok(())
}

impl Connect for Compat {
    fn metadata(&self) -> DriverMetadata {
        DriverMetadata {
            name: "Compat".into(),
            version: "0.1.0".into(),
            uri_schemes: vec!["compat".into()],
            hypervisor_version: 1_000_000,
        }
    }

    fn open(&self, uri: String, _flags: u32) -> Result<(), Error> {
        let name = uri.trim_start_matches("compat://").trim_start_matches('/');
        state::bind_space(name, state::Persistence::Volatile)?;
        log::write(log::Level::Debug, &format!("compat plugin opened {uri}"));
        Ok(())
    }
}

impl Domains for Compat {
    fn lookup_by_name(&self, name: String) -> Result<DomainRef, Error> {
        find(&name)
    }

    fn list_all(&self, _flags: u32) -> Result<Vec<DomainRef>, Error> {
        Ok(state::list("domain")
            .into_iter()
            .map(|(name, record)| domain(&name, record.first() == Some(&1)))
            .collect())
    }

    fn define_xml(&self, xml: String, _flags: u32) -> Result<DomainRef, Error> {
        let name = xml.trim().to_string();
        if name.is_empty() || name.contains('<') {
            return Err(error(
                ErrorNumber::XML_ERROR,
                ErrorDomain::DOM,
                "the compat driver's XML is the domain's bare name",
            ));
        }
        state::put("domain", &name, &[5]);
        events::emit(&Event::DomainLifecycle((domain(&name, false), 0, 0)));
        Ok(domain(&name, false))
    }

    fn create(&self, dom: DomainRef, _flags: u32) -> Result<DomainRef, Error> {
        set_running(&dom, true, 2)?;
        Ok(domain(&dom.name, true))
    }

    fn destroy(&self, dom: DomainRef, _flags: u32) -> Result<(), Error> {
        set_running(&dom, false, 5)
    }

    fn get_state(&self, dom: DomainRef, _flags: u32) -> Result<DomainState, Error> {
        let running = find(&dom.name)?.id > 0;
        Ok(DomainState {
            state: if running { 1 } else { 5 },
            reason: 1,
        })
    }

    fn get_xml(&self, dom: DomainRef, _flags: u32) -> Result<String, Error> {
        let dom = find(&dom.name)?;
        Ok(format!(
            "<domain type='compat'>\n  <name>{}</name>\n</domain>\n",
            dom.name
        ))
    }
}

impl Snapshots for Compat {}
impl Networks for Compat {}
impl Storage for Compat {}
impl HostDevices for Compat {}
impl Secrets for Compat {}
impl Handlers for Compat {}

export_plugin!(Compat = Compat);
