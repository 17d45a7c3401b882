//! A small in-memory driver for rvirsh's unit tests: it checks formatting and error paths
//! without loading plugins. The integration tests (`tests/all/rvirsh.rs`) run the real
//! binary against the real test plugin.

use std::sync::{Arc, Mutex, Once};

use virt_core::consts::{
    connect_list_all_domains_flags as dom_flags, domain_state, storage_pool_state,
};
use virt_core::driver::{Connection, Driver};
use virt_core::types::*;
use virt_core::{ConnectUri, Error, ErrorDomain, ErrorNumber, Result};

#[derive(Clone)]
struct FakeDomain {
    reference: DomainRef,
    state: i32,
    reason: i32,
    persistent: bool,
    autostart: bool,
}

struct FakeState {
    domains: Vec<FakeDomain>,
    next_id: i32,
}

struct FakeConnection {
    state: Mutex<FakeState>,
}

fn uuid(text: &str) -> Uuid {
    parse_uuid(text).unwrap_or_default()
}

fn no_domain(what: &str) -> Error {
    Error::new(ErrorNumber::NO_DOMAIN, ErrorDomain::TEST, what)
}

impl FakeConnection {
    fn new() -> FakeConnection {
        let domains = vec![
            FakeDomain {
                reference: DomainRef {
                    name: "test".into(),
                    uuid: uuid("6695eb01-f6a4-8304-79aa-97f2502e193f"),
                    id: 1,
                },
                state: domain_state::RUNNING,
                reason: 1,
                persistent: true,
                autostart: false,
            },
            FakeDomain {
                reference: DomainRef {
                    name: "Idle".into(),
                    uuid: uuid("11111111-2222-3333-4444-555555555555"),
                    id: -1,
                },
                state: domain_state::SHUTOFF,
                reason: 1,
                persistent: true,
                autostart: true,
            },
        ];
        FakeConnection {
            state: Mutex::new(FakeState {
                domains,
                next_id: 2,
            }),
        }
    }

    fn with_domain<T>(
        &self,
        dom: &DomainRef,
        f: impl FnOnce(&mut FakeDomain, &mut i32) -> Result<T>,
    ) -> Result<T> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| Error::internal(ErrorDomain::TEST, "poisoned"))?;
        let FakeState { domains, next_id } = &mut *state;
        let domain = domains
            .iter_mut()
            .find(|d| d.reference.uuid == dom.uuid)
            .ok_or_else(|| no_domain(&format!("no domain with matching uuid '{}'", dom.uuid)))?;
        f(domain, next_id)
    }

    fn find(&self, matches: impl Fn(&FakeDomain) -> bool, what: String) -> Result<DomainRef> {
        let state = self
            .state
            .lock()
            .map_err(|_| Error::internal(ErrorDomain::TEST, "poisoned"))?;
        state
            .domains
            .iter()
            .find(|d| matches(d))
            .map(|d| d.reference.clone())
            .ok_or_else(|| no_domain(&what))
    }
}

impl Connection for FakeConnection {
    fn get_type(&self) -> Result<String> {
        Ok("TEST".into())
    }
    fn get_uri(&self) -> Result<String> {
        Ok("fake:///default".into())
    }
    fn get_version(&self) -> Result<u64> {
        Ok(2)
    }
    fn node_get_info(&self) -> Result<NodeInfo> {
        Ok(NodeInfo {
            model: "i686".into(),
            memory_kib: 3145728,
            cpus: 16,
            mhz: 1400,
            nodes: 2,
            sockets: 2,
            cores: 2,
            threads: 2,
        })
    }
    fn domain_lookup_by_name(&self, name: &str) -> Result<DomainRef> {
        self.find(
            |d| d.reference.name == name,
            format!("no domain with matching name '{name}'"),
        )
    }
    fn domain_lookup_by_id(&self, id: i32) -> Result<DomainRef> {
        self.find(
            |d| d.reference.id == id,
            format!("no domain with matching id {id}"),
        )
    }
    fn domain_lookup_by_uuid(&self, uuid: &Uuid) -> Result<DomainRef> {
        self.find(
            |d| d.reference.uuid == *uuid,
            format!("no domain with matching uuid '{uuid}'"),
        )
    }
    fn domain_list_all(&self, flags: u32) -> Result<Vec<DomainRef>> {
        let state = self
            .state
            .lock()
            .map_err(|_| Error::internal(ErrorDomain::TEST, "poisoned"))?;
        let want_active = flags & dom_flags::ACTIVE != 0
            || flags & (dom_flags::ACTIVE | dom_flags::INACTIVE) == 0;
        let want_inactive = flags & dom_flags::INACTIVE != 0
            || flags & (dom_flags::ACTIVE | dom_flags::INACTIVE) == 0;
        Ok(state
            .domains
            .iter()
            .filter(|d| {
                if d.reference.id >= 0 {
                    want_active
                } else {
                    want_inactive
                }
            })
            .map(|d| d.reference.clone())
            .collect())
    }
    fn domain_get_info(&self, dom: &DomainRef) -> Result<DomainInfo> {
        self.with_domain(dom, |d, _| {
            Ok(DomainInfo {
                state: d.state as u8,
                max_mem_kib: 8388608,
                memory_kib: 2097152,
                nr_virt_cpu: 2,
                cpu_time_ns: if d.reference.id >= 0 {
                    1_500_000_000
                } else {
                    0
                },
            })
        })
    }
    fn domain_get_state(&self, dom: &DomainRef, _flags: u32) -> Result<DomainState> {
        self.with_domain(dom, |d, _| {
            Ok(DomainState {
                state: d.state,
                reason: d.reason,
            })
        })
    }
    fn domain_get_status(&self, dom: &DomainRef) -> Result<ObjectStatus> {
        self.with_domain(dom, |d, _| {
            Ok(ObjectStatus {
                active: d.reference.id >= 0,
                persistent: d.persistent,
                autostart: d.autostart,
                ..ObjectStatus::default()
            })
        })
    }
    fn domain_get_os_type(&self, _dom: &DomainRef) -> Result<String> {
        Ok("linux".into())
    }
    fn domain_get_xml(&self, dom: &DomainRef, _flags: u32) -> Result<String> {
        self.with_domain(dom, |d, _| {
            Ok(format!(
                "<domain type='test'>\n  <name>{}</name>\n</domain>\n",
                d.reference.name
            ))
        })
    }
    fn domain_suspend(&self, dom: &DomainRef) -> Result<()> {
        self.with_domain(dom, |d, _| {
            if d.state != domain_state::RUNNING {
                return Err(Error::internal(
                    ErrorDomain::TEST,
                    format!("domain '{}' not running", d.reference.name),
                ));
            }
            d.state = domain_state::PAUSED;
            d.reason = 1;
            Ok(())
        })
    }
    fn domain_create(&self, dom: &DomainRef, _flags: u32) -> Result<DomainRef> {
        self.with_domain(dom, |d, next_id| {
            d.reference.id = *next_id;
            *next_id += 1;
            d.state = domain_state::RUNNING;
            d.reason = 1;
            Ok(d.reference.clone())
        })
    }
    fn pool_lookup_by_name(&self, name: &str) -> Result<StoragePoolRef> {
        if name == "default-pool" {
            return Ok(StoragePoolRef {
                name: name.into(),
                uuid: uuid("dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566"),
            });
        }
        Err(Error::new(
            ErrorNumber::NO_STORAGE_POOL,
            ErrorDomain::TEST,
            format!("no storage pool with matching name '{name}'"),
        ))
    }
    fn pool_get_info(&self, _pool: &StoragePoolRef) -> Result<StoragePoolInfo> {
        Ok(StoragePoolInfo {
            state: storage_pool_state::RUNNING,
            capacity: 100 << 30,
            allocation: 0,
            available: 100 << 30,
        })
    }
    fn pool_get_status(&self, _pool: &StoragePoolRef) -> Result<ObjectStatus> {
        Ok(ObjectStatus {
            active: true,
            persistent: true,
            ..ObjectStatus::default()
        })
    }
    fn vol_list(&self, _pool: &StoragePoolRef) -> Result<Vec<StorageVolRef>> {
        Ok(vec![StorageVolRef {
            pool: "default-pool".into(),
            name: "disk1.img".into(),
            key: "/pool/disk1.img".into(),
        }])
    }
    fn vol_lookup_by_key(&self, key: &str) -> Result<StorageVolRef> {
        match self
            .vol_list(&StoragePoolRef {
                name: "default-pool".into(),
                uuid: Uuid::nil(),
            })?
            .into_iter()
            .find(|v| v.key == key)
        {
            Some(volume) => Ok(volume),
            None => Err(Error::new(
                ErrorNumber::NO_STORAGE_VOL,
                ErrorDomain::TEST,
                format!("no storage vol with matching key '{key}'"),
            )),
        }
    }
    fn vol_get_path(&self, vol: &StorageVolRef) -> Result<String> {
        Ok(vol.key.clone())
    }
    fn vol_get_info(&self, _vol: &StorageVolRef, _flags: u32) -> Result<StorageVolInfo> {
        Ok(StorageVolInfo {
            kind: 0,
            capacity: 1 << 30,
            allocation: 512 << 20,
        })
    }
}

struct FakeDriver;

impl Driver for FakeDriver {
    fn name(&self) -> &str {
        "rvirsh-fake"
    }
    fn open(&self, uri: &ConnectUri, _flags: u32) -> Result<Option<Arc<dyn Connection>>> {
        if uri.driver != "fake" {
            return Ok(None);
        }
        // Every open gets its own state, so tests running in parallel do not meet.
        Ok(Some(Arc::new(FakeConnection::new())))
    }
}

/// Registers the fake driver (once per test process); connect with `fake:///anything`.
pub fn register() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| virt_core::registry::register(Arc::new(FakeDriver)));
}
