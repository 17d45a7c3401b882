//! Character devices (`<serial>`, `<parallel>`, `<console>`, `<channel>`) and the character
//! backends other devices embed (smartcard passthrough, USB redirection, RNG EGD).

use crate::domain::address::DeviceInfo;
use crate::domain::disk::{DeviceSeclabel, Reconnect};
use crate::domain::enums::*;
use crate::domain::interface::TypeAttr;
use crate::xml::{OnOff, YesNo};
use crate::XmlElement;

/// `<clipboard copypaste='yes'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct Clipboard {
    #[xml(attr)]
    pub copypaste: Option<YesNo>,
}

/// `<mouse mode='server|client'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct MouseModeElement {
    #[xml(attr)]
    pub mode: Option<MouseMode>,
}

/// `<source>` of a character device: attributes of every backend type, in libvirt's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(omit_empty)]
pub struct ChrSource {
    #[xml(attr)]
    pub mode: Option<String>,
    #[xml(attr)]
    pub master: Option<String>,
    #[xml(attr)]
    pub slave: Option<String>,
    #[xml(attr)]
    pub host: Option<String>,
    #[xml(attr)]
    pub service: Option<String>,
    #[xml(attr)]
    pub path: Option<String>,
    #[xml(attr)]
    pub append: Option<OnOff>,
    #[xml(attr)]
    pub channel: Option<String>,
    #[xml(attr)]
    pub tls: Option<YesNo>,
    #[xml(child = "seclabel")]
    pub seclabels: Vec<DeviceSeclabel>,
    #[xml(child)]
    pub reconnect: Option<Reconnect>,
    #[xml(child)]
    pub clipboard: Option<Clipboard>,
    #[xml(child)]
    pub mouse: Option<MouseModeElement>,
}

/// `<log file='...' append='on|off'/>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ChrLog {
    #[xml(attr)]
    pub file: Option<String>,
    #[xml(attr)]
    pub append: Option<OnOff>,
}

/// `<model name='...'/>` (serial target model, controller model name).
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ModelName {
    #[xml(attr)]
    pub name: Option<String>,
}

/// `<target>` of a character device.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
pub struct ChrTarget {
    #[xml(attr = "type")]
    pub target_type: Option<String>,
    #[xml(attr)]
    pub address: Option<String>,
    #[xml(attr)]
    pub port: Option<u32>,
    #[xml(attr)]
    pub name: Option<String>,
    #[xml(attr)]
    pub state: Option<ChrDeviceState>,
    #[xml(child)]
    pub model: Option<ModelName>,
}

/// A `<serial>`, `<parallel>`, `<console>` or `<channel>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, XmlElement)]
#[xml(expanded)]
pub struct ChrDevice {
    #[xml(attr = "type")]
    pub chr_type: Option<ChrType>,
    /// Legacy `<console tty='/dev/pts/N'>` (live XML).
    #[xml(attr)]
    pub tty: Option<String>,
    /// Usually one; a UDP backend has a `bind` and a `connect` source.
    #[xml(child = "source")]
    pub sources: Vec<ChrSource>,
    #[xml(child)]
    pub protocol: Option<TypeAttr>,
    #[xml(child)]
    pub log: Option<ChrLog>,
    #[xml(child)]
    pub target: Option<ChrTarget>,
    #[xml(flatten)]
    pub info: DeviceInfo,
}

impl ChrDevice {
    /// The first `<source>`, where most backends keep their settings.
    pub fn source(&self) -> Option<&ChrSource> {
        self.sources.first()
    }

    /// The target port, if given.
    pub fn target_port(&self) -> Option<u32> {
        self.target.as_ref().and_then(|target| target.port)
    }

    /// The target type keyword (`isa-serial`, `virtio`, `serial`, ...).
    pub fn target_type(&self) -> Option<&str> {
        self.target
            .as_ref()
            .and_then(|target| target.target_type.as_deref())
    }
}
