//! The process-wide list of drivers `Connect::open` asks, in registration order.
//!
//! Backends register themselves explicitly (`virt_host::register`, `virt_rpc::register`), so
//! an embedder decides which ones exist in its process.

use std::sync::{Arc, RwLock};

use crate::driver::{Connection, Driver};
use crate::error::{Error, ErrorDomain, ErrorNumber, Result};
use crate::uri::ConnectUri;

static DRIVERS: RwLock<Vec<Arc<dyn Driver>>> = RwLock::new(Vec::new());

/// Adds a driver; a driver with the same name replaces the earlier one.
pub fn register(driver: Arc<dyn Driver>) {
    let mut drivers = DRIVERS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    drivers.retain(|d| d.name() != driver.name());
    drivers.push(driver);
}

/// Names of the registered drivers, in the order they are asked.
pub fn registered() -> Vec<String> {
    let drivers = DRIVERS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    drivers.iter().map(|d| d.name().to_string()).collect()
}

/// Opens `uri` with the first driver that accepts it.
pub fn open(uri: &ConnectUri, flags: u32) -> Result<Arc<dyn Connection>> {
    let drivers: Vec<Arc<dyn Driver>> = {
        let drivers = DRIVERS
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        drivers.clone()
    };
    for driver in drivers {
        if let Some(connection) = driver.open(uri, flags)? {
            tracing::debug!(
                uri = uri.as_str(),
                driver = driver.name(),
                "connection opened"
            );
            return Ok(connection);
        }
    }
    Err(Error::new(
        ErrorNumber::NO_CONNECT,
        ErrorDomain::NONE,
        uri.as_str(),
    ))
}
