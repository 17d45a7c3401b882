//! The async API: the blocking handles of [`crate::blocking`] run on tokio's blocking pool.
//!
//! Every call into a driver may wait (on a hypervisor, on a daemon), so the async facade hands
//! it to `spawn_blocking` rather than stalling the runtime. Each method takes owned
//! arguments so the call can move to another thread.

use crate::blocking;
use crate::error::{Error, ErrorDomain, Result};
use crate::types::*;

async fn run<H, T, F>(handle: &H, call: F) -> Result<T>
where
    H: Clone + Send + 'static,
    T: Send + 'static,
    F: FnOnce(&H) -> Result<T> + Send + 'static,
{
    let handle = handle.clone();
    tokio::task::spawn_blocking(move || call(&handle))
        .await
        .map_err(|join| {
            Error::internal(ErrorDomain::NONE, format!("driver call panicked: {join}"))
        })?
}

macro_rules! async_methods {
    ($($(#[$meta:meta])* fn $name:ident($($arg:ident : $ty:ty),*) -> $ret:ty;)*) => {
        $(
            $(#[$meta])*
            pub async fn $name(&self, $($arg: $ty),*) -> Result<$ret> {
                run(&self.0, move |h| h.$name($($arg),*)).await
            }
        )*
    };
}

/// An open connection (async). See [`blocking::Connect`] for what each call does.
#[derive(Clone, Debug)]
pub struct Connect(blocking::Connect);

impl Connect {
    pub async fn open(uri: &str) -> Result<Connect> {
        let uri = uri.to_string();
        run(&(), move |_| blocking::Connect::open(&uri))
            .await
            .map(Connect)
    }

    pub async fn open_read_only(uri: &str) -> Result<Connect> {
        let uri = uri.to_string();
        run(&(), move |_| blocking::Connect::open_read_only(&uri))
            .await
            .map(Connect)
    }

    /// The blocking handle underneath.
    pub fn blocking(&self) -> &blocking::Connect {
        &self.0
    }

    /// Runs any blocking call on this connection off the runtime.
    pub async fn run<T, F>(&self, call: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&blocking::Connect) -> Result<T> + Send + 'static,
    {
        run(&self.0, call).await
    }

    /// Every event of this connection's scope, from now on.
    pub fn events(&self) -> Result<blocking::EventStream> {
        self.0.events()
    }

    async_methods! {
        fn get_type() -> String;
        fn get_uri() -> String;
        fn get_version() -> u64;
        fn get_lib_version() -> u64;
        fn get_hostname() -> String;
        fn get_capabilities() -> String;
        fn node_info() -> NodeInfo;
        fn close() -> ();
    }

    pub async fn list_all_domains(&self, flags: u32) -> Result<Vec<Domain>> {
        let all = run(&self.0, move |c| c.list_all_domains(flags)).await?;
        Ok(all.into_iter().map(Domain).collect())
    }
    pub async fn domain_lookup_by_name(&self, name: &str) -> Result<Domain> {
        let name = name.to_string();
        run(&self.0, move |c| c.domain_lookup_by_name(&name))
            .await
            .map(Domain)
    }
    pub async fn domain_lookup_by_uuid(&self, uuid: Uuid) -> Result<Domain> {
        run(&self.0, move |c| c.domain_lookup_by_uuid(&uuid))
            .await
            .map(Domain)
    }
    pub async fn domain_lookup_by_id(&self, id: i32) -> Result<Domain> {
        run(&self.0, move |c| c.domain_lookup_by_id(id))
            .await
            .map(Domain)
    }
    pub async fn domain_define_xml(&self, xml: &str, flags: u32) -> Result<Domain> {
        let xml = xml.to_string();
        run(&self.0, move |c| c.domain_define_xml(&xml, flags))
            .await
            .map(Domain)
    }
    pub async fn domain_create_xml(&self, xml: &str, flags: u32) -> Result<Domain> {
        let xml = xml.to_string();
        run(&self.0, move |c| c.domain_create_xml(&xml, flags))
            .await
            .map(Domain)
    }
    pub async fn domain_restore(&self, path: &str, flags: u32) -> Result<()> {
        let path = path.to_string();
        run(&self.0, move |c| c.domain_restore(&path, None, flags)).await
    }
    pub async fn list_all_networks(&self, flags: u32) -> Result<Vec<blocking::Network>> {
        run(&self.0, move |c| c.list_all_networks(flags)).await
    }
    pub async fn list_all_storage_pools(&self, flags: u32) -> Result<Vec<blocking::StoragePool>> {
        run(&self.0, move |c| c.list_all_storage_pools(flags)).await
    }
}

/// A domain (async). See [`blocking::Domain`].
#[derive(Clone, Debug)]
pub struct Domain(blocking::Domain);

impl Domain {
    pub fn blocking(&self) -> &blocking::Domain {
        &self.0
    }
    pub fn name(&self) -> String {
        self.0.name()
    }
    pub fn uuid(&self) -> Uuid {
        self.0.uuid()
    }
    pub fn id(&self) -> i32 {
        self.0.id()
    }

    /// Runs any blocking call on this domain off the runtime.
    pub async fn run<T, F>(&self, call: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&blocking::Domain) -> Result<T> + Send + 'static,
    {
        run(&self.0, call).await
    }

    async_methods! {
        fn xml_desc(flags: u32) -> String;
        fn info() -> DomainInfo;
        fn state(flags: u32) -> DomainState;
        fn status() -> ObjectStatus;
        fn create(flags: u32) -> ();
        fn undefine(flags: u32) -> ();
        fn destroy(flags: u32) -> ();
        fn shutdown(flags: u32) -> ();
        fn reboot(flags: u32) -> ();
        fn reset(flags: u32) -> ();
        fn suspend() -> ();
        fn resume() -> ();
        fn managed_save(flags: u32) -> ();
        fn set_autostart(autostart: bool) -> ();
        fn set_memory(kib: u64, flags: u32) -> ();
        fn set_vcpus(count: u32, flags: u32) -> ();
    }

    pub async fn save(&self, path: &str, flags: u32) -> Result<()> {
        let path = path.to_string();
        run(&self.0, move |d| d.save(&path, None, flags)).await
    }
}
