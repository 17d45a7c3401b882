//! Events a connection delivers: libvirt's event ids with their payloads.

use crate::types::{DomainRef, NetworkRef, SecretRef, StoragePoolRef, TypedParam};

/// `virDomainEventID` values rvirt names; other ids travel as [`Event::DomainOther`].
pub mod domain_event_id {
    pub const LIFECYCLE: i32 = 0;
    pub const REBOOT: i32 = 1;
}

/// `virNetworkEventID` / `virStoragePoolEventID` values.
pub mod object_event_id {
    pub const NETWORK_LIFECYCLE: i32 = 0;
    pub const POOL_LIFECYCLE: i32 = 0;
    pub const POOL_REFRESH: i32 = 1;
}

/// One event, as a driver reports it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// `event` is a `virDomainEventType`, `detail` the matching detail enum.
    DomainLifecycle {
        dom: DomainRef,
        event: i32,
        detail: i32,
    },
    DomainReboot {
        dom: DomainRef,
    },
    /// Any other `virDomainEventID`, its payload as typed parameters.
    DomainOther {
        dom: DomainRef,
        event_id: i32,
        params: Vec<TypedParam>,
    },
    /// `event` is a `virNetworkEventLifecycleType`.
    NetworkLifecycle {
        net: NetworkRef,
        event: i32,
        detail: i32,
    },
    /// `event` is a `virStoragePoolEventLifecycleType`.
    PoolLifecycle {
        pool: StoragePoolRef,
        event: i32,
        detail: i32,
    },
    PoolRefresh {
        pool: StoragePoolRef,
    },
    /// `event` is a `virNodeDeviceEventLifecycleType` (`consts::node_device_event_lifecycle_type`);
    /// `dev` is the device's name.
    NodeDeviceLifecycle {
        dev: String,
        event: i32,
        detail: i32,
    },
    NodeDeviceUpdate {
        dev: String,
    },
    /// `event` is a `virSecretEventLifecycleType` (`consts::secret_event_lifecycle_type`).
    SecretLifecycle {
        secret: SecretRef,
        event: i32,
        detail: i32,
    },
    SecretValueChanged {
        secret: SecretRef,
    },
}

impl Event {
    /// The domain this event is about, if it is a domain event.
    pub fn domain(&self) -> Option<&DomainRef> {
        match self {
            Event::DomainLifecycle { dom, .. }
            | Event::DomainReboot { dom }
            | Event::DomainOther { dom, .. } => Some(dom),
            _ => None,
        }
    }
}
