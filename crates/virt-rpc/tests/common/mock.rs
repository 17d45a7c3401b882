//! A small in-memory driver for `mock:///default`: domains, networks, one storage pool with a
//! file-backed volume, and an echoing console. Just enough state for protocol tests.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use virt_core::driver::{Connection, Driver};
use virt_core::*;

pub struct MockDriver {
    shared: Arc<Shared>,
}

pub struct Shared {
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
    pub data_dir: PathBuf,
}

#[derive(Clone)]
struct Dom {
    name: String,
    uuid: Uuid,
    id: i32,
    state: i32,
    reason: i32,
    persistent: bool,
    autostart: bool,
    memory: u64,
    vcpus: u16,
    description: String,
}

#[derive(Clone)]
struct Net {
    name: String,
    uuid: Uuid,
    active: bool,
    persistent: bool,
    autostart: bool,
    bridge: String,
}

struct State {
    domains: Vec<Dom>,
    networks: Vec<Net>,
    next_id: i32,
}

impl Default for MockDriver {
    fn default() -> Self {
        let (events, _) = broadcast::channel(4096);
        let data_dir = std::env::temp_dir().join(format!("rpc-mock-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&data_dir);
        let _ = std::fs::write(data_dir.join("vol1.img"), vec![0u8; 0]);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                domains: Vec::new(),
                networks: vec![Net {
                    name: "default".into(),
                    uuid: Uuid::from_u128(0xdd8fe884_6c02_601e_7551_cca97df1c5df),
                    active: true,
                    persistent: true,
                    autostart: false,
                    bridge: "virbr0".into(),
                }],
                next_id: 1,
            }),
            events,
            data_dir,
        });
        MockDriver { shared }
    }
}

impl Driver for MockDriver {
    fn name(&self) -> &str {
        "mock"
    }
    fn open(&self, uri: &ConnectUri, _flags: u32) -> Result<Option<Arc<dyn Connection>>> {
        if uri.driver != "mock" || uri.is_remote() {
            return Ok(None);
        }
        Ok(Some(Arc::new(MockConnection {
            shared: Arc::clone(&self.shared),
        })))
    }
}

pub struct MockConnection {
    shared: Arc<Shared>,
}

fn tag(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}");
    let start = xml.find(&open)?;
    let content_start = start + xml[start..].find('>')? + 1;
    let end = content_start + xml[content_start..].find(&format!("</{name}>"))?;
    Some(xml[content_start..end].trim().to_string())
}

fn no_domain(what: String) -> Error {
    Error::new(ErrorNumber::NO_DOMAIN, ErrorDomain::TEST, what)
}

impl Dom {
    fn reference(&self) -> DomainRef {
        DomainRef {
            name: self.name.clone(),
            uuid: self.uuid,
            id: self.id,
        }
    }
    fn active(&self) -> bool {
        self.id >= 0
    }
    fn xml(&self) -> String {
        let id = if self.active() {
            format!(" id='{}'", self.id)
        } else {
            String::new()
        };
        format!(
            "<domain type='test'{id}>\n  <name>{}</name>\n  <uuid>{}</uuid>\n  <description>{}</description>\n  <memory unit='KiB'>{}</memory>\n  <vcpu>{}</vcpu>\n  <os><type>hvm</type></os>\n</domain>\n",
            self.name, self.uuid, self.description, self.memory, self.vcpus
        )
    }
}

impl MockConnection {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, event: Event) {
        let _ = self.shared.events.send(event);
    }

    fn with_dom<T>(
        &self,
        dom: &DomainRef,
        f: impl FnOnce(&mut Dom, &mut i32) -> Result<T>,
    ) -> Result<T> {
        let mut state = self.lock();
        let State {
            domains, next_id, ..
        } = &mut *state;
        let found = domains
            .iter_mut()
            .find(|d| d.uuid == dom.uuid)
            .ok_or_else(|| {
                no_domain(format!(
                    "no domain with matching uuid '{}' ({})",
                    dom.uuid, dom.name
                ))
            })?;
        f(found, next_id)
    }

    fn lifecycle(&self, dom: DomainRef, event: i32, detail: i32) {
        self.emit(Event::DomainLifecycle { dom, event, detail });
    }
}

impl Connection for MockConnection {
    fn get_type(&self) -> Result<String> {
        Ok("TEST".into())
    }
    fn get_uri(&self) -> Result<String> {
        Ok("mock:///default".into())
    }
    fn get_version(&self) -> Result<u64> {
        Ok(2)
    }
    fn get_hostname(&self) -> Result<String> {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .map_err(|e| Error::internal(ErrorDomain::TEST, e.to_string()))
    }
    fn get_capabilities(&self) -> Result<String> {
        Ok("<capabilities><host><cpu><arch>x86_64</arch></cpu></host><guest><os_type>hvm</os_type><arch name='x86_64'><domain type='test'/></arch></guest></capabilities>".into())
    }
    fn get_max_vcpus(&self, _virt_type: Option<&str>) -> Result<i32> {
        Ok(32)
    }
    fn node_get_info(&self) -> Result<NodeInfo> {
        Ok(NodeInfo {
            model: "i686".into(),
            memory_kib: 3_145_728,
            cpus: 16,
            mhz: 1400,
            nodes: 2,
            sockets: 2,
            cores: 2,
            threads: 2,
        })
    }
    fn node_get_free_memory(&self) -> Result<u64> {
        Ok(3_145_728)
    }
    fn events(&self) -> Result<broadcast::Receiver<Event>> {
        Ok(self.shared.events.subscribe())
    }

    fn domain_lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        let state = self.lock();
        state
            .domains
            .iter()
            .find(|d| d.name == name)
            .map(Dom::reference)
            .ok_or_else(|| no_domain(format!("no domain with matching name '{name}'")))
    }
    fn domain_lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        let state = self.lock();
        state
            .domains
            .iter()
            .find(|d| d.uuid == *uuid)
            .map(Dom::reference)
            .ok_or_else(|| no_domain(String::new()))
    }
    fn domain_lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        let state = self.lock();
        state
            .domains
            .iter()
            .find(|d| d.id == id && id >= 0)
            .map(Dom::reference)
            .ok_or_else(|| no_domain(String::new()))
    }
    fn domain_list_all(&self, flags: u32) -> Result<Vec<DomainRef>> {
        Error::check_flags(
            ErrorDomain::TEST,
            flags,
            0x3fff,
            "testConnectListAllDomains",
        )?;
        let state = self.lock();
        Ok(state
            .domains
            .iter()
            .filter(|d| {
                let activity = flags & 3;
                let persistence = (flags >> 2) & 3;
                let states = (flags >> 4) & 15;
                (activity == 0
                    || (activity & 1 != 0 && d.active())
                    || (activity & 2 != 0 && !d.active()))
                    && (persistence == 0
                        || (persistence & 1 != 0 && d.persistent)
                        || (persistence & 2 != 0 && !d.persistent))
                    && (states == 0
                        || (states & 1 != 0 && d.state == 1)
                        || (states & 2 != 0 && d.state == 3)
                        || (states & 4 != 0 && d.state == 5))
            })
            .map(Dom::reference)
            .collect())
    }
    fn domain_define_xml(&self, xml: &str, _flags: u32) -> Result<DomainRef> {
        let name = tag(xml, "name").ok_or_else(|| {
            Error::new(
                ErrorNumber::NO_NAME,
                ErrorDomain::DOMAIN,
                "missing name information",
            )
        })?;
        let uuid = match tag(xml, "uuid") {
            Some(text) => parse_uuid(&text)
                .ok_or_else(|| Error::internal(ErrorDomain::DOMAIN, "malformed uuid element"))?,
            None => Uuid::new_v4(),
        };
        let memory = tag(xml, "memory")
            .and_then(|m| m.parse().ok())
            .unwrap_or(131_072);
        let vcpus = tag(xml, "vcpu").and_then(|m| m.parse().ok()).unwrap_or(1);
        let description = tag(xml, "description").unwrap_or_default();
        let mut state = self.lock();
        if let Some(existing) = state.domains.iter_mut().find(|d| d.name == name) {
            if existing.uuid != uuid {
                return Err(Error::new(
                    ErrorNumber::OPERATION_FAILED,
                    ErrorDomain::DOMAIN,
                    format!("domain '{name}' already exists with uuid {}", existing.uuid),
                ));
            }
            existing.memory = memory;
            existing.vcpus = vcpus;
            existing.description = description;
            existing.persistent = true;
            let reference = existing.reference();
            drop(state);
            self.lifecycle(reference.clone(), 0, 1);
            return Ok(reference);
        }
        let dom = Dom {
            name,
            uuid,
            id: -1,
            state: 5,
            reason: 0,
            persistent: true,
            autostart: false,
            memory,
            vcpus,
            description,
        };
        let reference = dom.reference();
        state.domains.push(dom);
        drop(state);
        self.lifecycle(reference.clone(), 0, 0);
        Ok(reference)
    }
    fn domain_undefine(&self, dom: &DomainRef, _flags: u32) -> Result<()> {
        let reference = self.with_dom(dom, |d, _| Ok(d.reference()))?;
        let mut state = self.lock();
        if let Some(pos) = state.domains.iter().position(|d| d.uuid == dom.uuid) {
            if state.domains[pos].active() {
                state.domains[pos].persistent = false;
            } else {
                state.domains.remove(pos);
            }
        }
        drop(state);
        self.lifecycle(reference, 1, 0);
        Ok(())
    }
    fn domain_create(&self, dom: &DomainRef, _flags: u32) -> Result<DomainRef> {
        let started = self.with_dom(dom, |d, next_id| {
            if d.active() {
                return Err(Error::internal(
                    ErrorDomain::TEST,
                    format!("Domain '{}' is already running", d.name),
                ));
            }
            d.id = *next_id;
            *next_id += 1;
            d.state = 1;
            d.reason = 1;
            Ok(d.reference())
        })?;
        self.lifecycle(started.clone(), 2, 0);
        Ok(started)
    }
    fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<DomainRef> {
        let defined = self.domain_define_xml(xml, flags)?;
        self.with_dom(&defined, |d, _| {
            d.persistent = false;
            Ok(())
        })?;
        self.domain_create(&defined, 0)
    }
    fn domain_destroy(&self, dom: &DomainRef, _flags: u32) -> Result<()> {
        let stopped = self.with_dom(dom, |d, _| {
            if !d.active() {
                return Err(Error::new(
                    ErrorNumber::OPERATION_INVALID,
                    ErrorDomain::DOMAIN,
                    "domain is not running",
                ));
            }
            d.id = -1;
            d.state = 5;
            d.reason = 2;
            Ok((d.reference(), d.persistent))
        })?;
        if !stopped.1 {
            self.lock().domains.retain(|d| d.uuid != dom.uuid);
        }
        self.lifecycle(stopped.0, 5, 1);
        Ok(())
    }
    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        let reference = self.with_dom(dom, |d, _| {
            if d.state != 1 {
                return Err(Error::internal(
                    ErrorDomain::TEST,
                    format!("domain '{}' not running", d.name),
                ));
            }
            d.state = 3;
            d.reason = 1;
            Ok(d.reference())
        })?;
        self.lifecycle(reference, 3, 0);
        Ok(())
    }
    fn domain_resume(&self, dom: &DomainRef) -> Result<()> {
        let reference = self.with_dom(dom, |d, _| {
            if d.state != 3 {
                return Err(Error::internal(
                    ErrorDomain::TEST,
                    format!("domain '{}' not paused", d.name),
                ));
            }
            d.state = 1;
            d.reason = 5;
            Ok(d.reference())
        })?;
        self.lifecycle(reference, 4, 0);
        Ok(())
    }
    fn domain_get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        self.with_dom(dom, |d, _| {
            Ok(DomainInfo {
                state: d.state as u8,
                max_mem_kib: d.memory,
                memory_kib: d.memory,
                nr_virt_cpu: d.vcpus,
                cpu_time_ns: 0,
            })
        })
    }
    fn domain_get_state(&self, dom: &DomainRef, _flags: u32) -> Result<DomainState> {
        self.with_dom(dom, |d, _| {
            Ok(DomainState {
                state: d.state,
                reason: d.reason,
            })
        })
    }
    fn domain_get_status(&self, dom: &DomainRef) -> Result<ObjectStatus> {
        self.with_dom(dom, |d, _| {
            Ok(ObjectStatus {
                active: d.active(),
                persistent: d.persistent,
                autostart: d.autostart,
                ..ObjectStatus::default()
            })
        })
    }
    fn domain_get_xml(&self, dom: &DomainRef, _flags: u32) -> Result<String> {
        self.with_dom(dom, |d, _| Ok(d.xml()))
    }
    fn domain_get_os_type(&self, dom: &DomainRef) -> Result<String> {
        self.with_dom(dom, |_, _| Ok("linux".to_string()))
    }
    fn domain_set_autostart(&self, dom: &DomainRef, autostart: bool) -> Result<()> {
        self.with_dom(dom, |d, _| {
            d.autostart = autostart;
            Ok(())
        })
    }
    fn domain_get_max_memory(&self, dom: &DomainRef) -> Result<u64> {
        self.with_dom(dom, |d, _| Ok(d.memory))
    }
    fn domain_get_scheduler_type(&self, dom: &DomainRef) -> Result<(String, i32)> {
        self.with_dom(dom, |_, _| Ok(("fair".to_string(), 2)))
    }
    fn domain_get_scheduler_params(&self, dom: &DomainRef, _flags: u32) -> Result<Vec<TypedParam>> {
        self.with_dom(dom, |_, _| {
            Ok(vec![
                TypedParam::new("weight", TypedValue::UInt(50)),
                TypedParam::new("label", TypedValue::String("mock".into())),
            ])
        })
    }
    fn domain_open_console(
        &self,
        dom: &DomainRef,
        _dev: Option<&str>,
        _flags: u32,
    ) -> Result<ConsoleEndpoint> {
        let name = self.with_dom(dom, |d, _| Ok(d.name.clone()))?;
        let path = self
            .shared
            .data_dir
            .join(format!("console-{name}-{}.sock", rand_suffix()));
        let listener = std::os::unix::net::UnixListener::bind(&path)
            .map_err(|e| Error::internal(ErrorDomain::TEST, e.to_string()))?;
        // The "guest": greets, then echoes every line in upper case.
        std::thread::spawn(move || {
            if let Ok((mut socket, _)) = listener.accept() {
                let _ = socket.write_all(b"mock console ready\n");
                let mut buf = [0u8; 1024];
                while let Ok(n) = socket.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let upper: Vec<u8> = buf[..n].iter().map(|b| b.to_ascii_uppercase()).collect();
                    if socket.write_all(&upper).is_err() {
                        break;
                    }
                }
            }
        });
        Ok(ConsoleEndpoint::UnixSocket(
            path.to_string_lossy().into_owned(),
        ))
    }

    fn network_lookup_by_name(&self, name: &str) -> Result<NetworkRef> {
        let state = self.lock();
        state
            .networks
            .iter()
            .find(|n| n.name == name)
            .map(|n| NetworkRef {
                name: n.name.clone(),
                uuid: n.uuid,
            })
            .ok_or_else(|| {
                Error::new(
                    ErrorNumber::NO_NETWORK,
                    ErrorDomain::TEST,
                    format!("no network with matching name '{name}'"),
                )
            })
    }
    fn network_list_all(&self, _flags: u32) -> Result<Vec<NetworkRef>> {
        Ok(self
            .lock()
            .networks
            .iter()
            .map(|n| NetworkRef {
                name: n.name.clone(),
                uuid: n.uuid,
            })
            .collect())
    }
    fn network_get_status(&self, net: &NetworkRef) -> Result<ObjectStatus> {
        let state = self.lock();
        let n = state
            .networks
            .iter()
            .find(|n| n.uuid == net.uuid)
            .ok_or_else(|| Error::new(ErrorNumber::NO_NETWORK, ErrorDomain::TEST, ""))?;
        Ok(ObjectStatus {
            active: n.active,
            persistent: n.persistent,
            autostart: n.autostart,
            ..ObjectStatus::default()
        })
    }
    fn network_get_bridge_name(&self, net: &NetworkRef) -> Result<String> {
        let state = self.lock();
        let n = state
            .networks
            .iter()
            .find(|n| n.uuid == net.uuid)
            .ok_or_else(|| Error::new(ErrorNumber::NO_NETWORK, ErrorDomain::TEST, ""))?;
        Ok(n.bridge.clone())
    }

    fn pool_list_all(&self, _flags: u32) -> Result<Vec<StoragePoolRef>> {
        Ok(vec![mock_pool()])
    }
    fn pool_lookup_by_name(&self, name: &str) -> Result<StoragePoolRef> {
        if name == "mock-pool" {
            return Ok(mock_pool());
        }
        Err(Error::new(
            ErrorNumber::NO_STORAGE_POOL,
            ErrorDomain::TEST,
            format!("no storage pool with matching name '{name}'"),
        ))
    }
    fn pool_get_status(&self, _pool: &StoragePoolRef) -> Result<ObjectStatus> {
        Ok(ObjectStatus {
            active: true,
            persistent: true,
            ..ObjectStatus::default()
        })
    }
    fn pool_get_info(&self, _pool: &StoragePoolRef) -> Result<StoragePoolInfo> {
        Ok(StoragePoolInfo {
            state: 2,
            capacity: 1 << 30,
            allocation: 0,
            available: 1 << 30,
        })
    }
    fn pool_lookup_by_volume(&self, _vol: &StorageVolRef) -> Result<StoragePoolRef> {
        Ok(mock_pool())
    }
    fn vol_lookup_by_name(&self, _pool: &StoragePoolRef, name: &str) -> Result<StorageVolRef> {
        if name == "vol1.img" {
            return Ok(self.mock_vol());
        }
        Err(Error::new(
            ErrorNumber::NO_STORAGE_VOL,
            ErrorDomain::TEST,
            format!("no storage vol with matching name '{name}'"),
        ))
    }
    fn vol_list(&self, _pool: &StoragePoolRef) -> Result<Vec<StorageVolRef>> {
        Ok(vec![self.mock_vol()])
    }
    fn vol_data_path(&self, _vol: &StorageVolRef, _for_upload: bool) -> Result<String> {
        Ok(self
            .shared
            .data_dir
            .join("vol1.img")
            .to_string_lossy()
            .into_owned())
    }
    fn nodedev_list(&self, _capability: Option<&str>, _flags: u32) -> Result<Vec<String>> {
        Ok(vec!["computer".into()])
    }
    fn iface_list_all(&self, _flags: u32) -> Result<Vec<InterfaceRef>> {
        Ok(vec![InterfaceRef {
            name: "eth1".into(),
            mac: "aa:bb:cc:dd:ee:ff".into(),
        }])
    }
}

impl MockConnection {
    fn mock_vol(&self) -> StorageVolRef {
        let path = self
            .shared
            .data_dir
            .join("vol1.img")
            .to_string_lossy()
            .into_owned();
        StorageVolRef {
            pool: "mock-pool".into(),
            name: "vol1.img".into(),
            key: path,
        }
    }
}

fn mock_pool() -> StoragePoolRef {
    StoragePoolRef {
        name: "mock-pool".into(),
        uuid: Uuid::from_u128(0x35bb2ad9_388a_cdfe_461a_b8907f6e53fe),
    }
}

fn rand_suffix() -> u128 {
    Uuid::new_v4().as_u128() & 0xffff_ffff
}
