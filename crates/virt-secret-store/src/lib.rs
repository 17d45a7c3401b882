//! Secrets as rvirt's secret driver keeps them on disk, for the secret plugin that writes
//! them and the hypervisor plugins that read a domain's secrets at start (libvirt's drivers
//! ask the secret driver in-process; rvirt's plugins never call each other, so they read the
//! same files, as the QEMU plugin reads a network's bridge from the network plugin's).
//!
//! The layout is libvirt's: a secret is `UUID.xml` (its definition) and `UUID.base64` (its
//! value, [`sealed`]) in the secret driver's configuration directory, or in its run
//! directory when ephemeral; the key that seals values is `secrets-encryption-key` in the
//! configuration directory. This crate knows the files and the sealing; it knows nothing of
//! the secret API's rules (who may read a private value), which are the plugin's.

pub mod sealed;

use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_plugin_sdk::host::files;
use virt_xml::secret::{Secret, SecretUsageType};

/// The key file's name, in the configuration directory.
pub const KEY_FILE: &str = "secrets-encryption-key";

/// The secret driver's two directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretDirs {
    /// Persistent secrets and the key file.
    pub config: String,
    /// Ephemeral secrets.
    pub run: String,
}

impl SecretDirs {
    /// The secret driver's directories beside another driver's (`$config/../secret`,
    /// `$run/../secret`), for a hypervisor plugin.
    pub fn beside(config: &str, run: &str) -> SecretDirs {
        let sibling = |own: &str| {
            let parent = own.rsplit_once('/').map_or("", |(parent, _)| parent);
            format!("{parent}/secret")
        };
        SecretDirs {
            config: sibling(config),
            run: sibling(run),
        }
    }

    pub fn xml_file(&self, ephemeral: bool, uuid: &str) -> String {
        format!("{}/{uuid}.xml", self.dir(ephemeral))
    }

    pub fn value_file(&self, ephemeral: bool, uuid: &str) -> String {
        format!("{}/{uuid}.base64", self.dir(ephemeral))
    }

    pub fn key_file(&self) -> String {
        format!("{}/{KEY_FILE}", self.config)
    }

    fn dir(&self, ephemeral: bool) -> &str {
        if ephemeral {
            &self.run
        } else {
            &self.config
        }
    }

    /// The host key, if one was made.
    pub fn read_key(&self) -> Result<Option<[u8; sealed::KEY_LEN]>, Error> {
        let path = self.key_file();
        let Ok(bytes) = files::read(&path) else {
            return Ok(None);
        };
        bytes.as_slice().try_into().map(Some).map_err(|_| {
            Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::SECRET,
                format!(
                    "secret encryption key '{path}' must be {} bytes, not {}",
                    sealed::KEY_LEN,
                    bytes.len()
                ),
            )
        })
    }

    /// Every secret's definition, ephemeral ones first, with whether it is ephemeral; files
    /// that do not parse, or whose UUID is not their name, are skipped.
    pub fn definitions(&self) -> Vec<(Secret, bool)> {
        let mut found = Vec::new();
        for ephemeral in [true, false] {
            let mut names = files::list_dir(self.dir(ephemeral)).unwrap_or_default();
            names.sort();
            for name in names {
                let Some(uuid) = name.strip_suffix(".xml") else {
                    continue;
                };
                if let Some(def) = self.definition(ephemeral, uuid) {
                    found.push((def, ephemeral));
                }
            }
        }
        found
    }

    /// The definition in `UUID.xml`, if it is there and names itself.
    pub fn definition(&self, ephemeral: bool, uuid: &str) -> Option<Secret> {
        let bytes = files::read(&self.xml_file(ephemeral, uuid)).ok()?;
        Secret::parse(&String::from_utf8_lossy(&bytes))
            .ok()
            .filter(|def| def.uuid.map(|u| u.to_string()).as_deref() == Some(uuid))
    }

    /// The value of the secret with `uuid`: `None` when there is no such secret or it has no
    /// value.
    pub fn value_by_uuid(&self, uuid: &str) -> Result<Option<Vec<u8>>, Error> {
        for ephemeral in [true, false] {
            if self.definition(ephemeral, uuid).is_some() {
                return self.value(ephemeral, uuid);
            }
        }
        Ok(None)
    }

    /// The value of the secret used for `usage_type` `id` (a volume path, a Ceph or TLS
    /// name, an iSCSI target).
    pub fn value_by_usage(
        &self,
        usage_type: SecretUsageType,
        id: &str,
    ) -> Result<Option<Vec<u8>>, Error> {
        let found = self.definitions().into_iter().find(|(def, _)| {
            def.usage.as_ref().is_some_and(|usage| {
                usage.usage_type == Some(usage_type) && usage.usage_id() == Some(id)
            })
        });
        match found {
            Some((def, ephemeral)) => {
                let uuid = def.uuid.map(|u| u.to_string()).unwrap_or_default();
                self.value(ephemeral, &uuid)
            }
            None => Ok(None),
        }
    }

    /// libvirt's `virSecretGetSecretString`: the value of the secret a `<secret uuid=...>` or
    /// `<secret usage=...>` names, which must be a secret of `usage_type` and have a value;
    /// `domain` is the error domain of the driver that asks.
    pub fn value_for(
        &self,
        usage_type: SecretUsageType,
        uuid: Option<&str>,
        usage_id: Option<&str>,
        domain: ErrorDomain,
    ) -> Result<Vec<u8>, Error> {
        let no_secret = |what: String| Error::new(ErrorNumber::NO_SECRET, domain, what);
        let all = self.definitions();
        let found = match (uuid, usage_id) {
            (Some(uuid), _) => all
                .into_iter()
                .find(|(def, _)| def.uuid.map(|u| u.to_string()).as_deref() == Some(uuid))
                .ok_or_else(|| no_secret(format!("no secret with matching uuid '{uuid}'")))?,
            (None, Some(id)) => all
                .into_iter()
                .find(|(def, _)| {
                    def.usage.as_ref().is_some_and(|usage| {
                        usage.usage_type == Some(usage_type) && usage.usage_id() == Some(id)
                    })
                })
                .ok_or_else(|| no_secret(format!("no secret with matching usage '{id}'")))?,
            (None, None) => {
                return Err(Error::new(
                    ErrorNumber::XML_ERROR,
                    domain,
                    "missing secret uuid or usage attribute",
                ))
            }
        };
        let (def, ephemeral) = found;
        let uuid = def.uuid.map(|u| u.to_string()).unwrap_or_default();
        let actual = def
            .usage
            .as_ref()
            .and_then(|usage| usage.usage_type)
            .unwrap_or(SecretUsageType::None);
        if actual != SecretUsageType::None && actual != usage_type {
            return Err(Error::new(
                ErrorNumber::INVALID_ARG,
                domain,
                format!(
                    "secret with uuid {uuid} is of type '{}' not expected '{}' type",
                    actual.as_str(),
                    usage_type.as_str()
                ),
            ));
        }
        self.value(ephemeral, &uuid)?
            .ok_or_else(|| no_secret(format!("secret '{uuid}' does not have a value")))
    }

    /// The opened value of a secret, `None` when it has none.
    pub fn value(&self, ephemeral: bool, uuid: &str) -> Result<Option<Vec<u8>>, Error> {
        let Ok(text) = files::read(&self.value_file(ephemeral, uuid)) else {
            return Ok(None);
        };
        let Some(key) = self.read_key()? else {
            return Err(Error::new(
                ErrorNumber::INTERNAL_ERROR,
                ErrorDomain::SECRET,
                format!("secret '{uuid}' has a value but the secret encryption key is missing"),
            ));
        };
        sealed::open(&key, uuid, &String::from_utf8_lossy(&text)).map(Some)
    }
}
