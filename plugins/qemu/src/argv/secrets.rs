//! Secret values on QEMU's command line, as libvirt passes them: each one an
//! `-object secret` whose data is the value encrypted with AES-256-CBC under the domain's
//! master key (`masterKey0`, a file QEMU reads at start) and a random IV, both base64, so
//! the value itself never appears in the process list.
//!
//! Which secret a disk layer uses is said by its `<auth>` (iSCSI and RBD credentials) and its
//! `<encryption>` (LUKS passphrases); the values are looked up before the build (the QEMU
//! plugin reads the secret driver's files, the conformance harness uses libvirt's test
//! value) and handed over in [`BuildContext::secret_values`](super::BuildContext).

use aes::cipher::{block_padding::Pkcs7, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use virt_core::{ErrorDomain, ErrorNumber};
use virt_plugin_sdk::types::Error;
use virt_xml::domain::disk::{Encryption, SecretRef, StorageAuth};
use virt_xml::domain::enums::NetProtocol;
use virt_xml::domain::Domain;

use super::props::Props;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;

/// The master key and the IV that wrap secret values for QEMU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretWrap {
    /// The 32 bytes of `master-key.aes`.
    pub master_key: Vec<u8>,
    /// The IV of every secret object of one command line (libvirt draws one per object;
    /// one fresh IV per start wraps values that never repeat under one key).
    pub iv: [u8; 16],
}

/// How a definition names one secret (by UUID, or by usage id) and the usage type the secret
/// must have there: libvirt looks a usage id up among the secrets of that type, and refuses a
/// secret found by UUID whose usage is another (an iSCSI secret as a LUKS passphrase).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretLookup {
    pub by: SecretKey,
    /// `volume` for an encryption passphrase, `ceph` for RBD credentials, `iscsi` for the
    /// credentials of other protocols, `tls` for a TLS key's passphrase.
    pub usage_type: String,
}

/// The key a [`SecretLookup`] finds its secret by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretKey {
    Uuid(String),
    Usage(String),
}

impl SecretLookup {
    /// The lookup a `<secret>` reference asks for, of a secret of `usage_type`.
    pub fn of(secret: &SecretRef, usage_type: &str) -> Option<SecretLookup> {
        let by = match (&secret.uuid, &secret.usage) {
            (Some(uuid), _) => SecretKey::Uuid(uuid.clone()),
            (None, Some(id)) => SecretKey::Usage(id.clone()),
            (None, None) => return None,
        };
        Some(SecretLookup {
            by,
            usage_type: usage_type.to_string(),
        })
    }

    /// The secret of `uuid`, of `usage_type`.
    pub fn uuid(uuid: &str, usage_type: &str) -> SecretLookup {
        SecretLookup {
            by: SecretKey::Uuid(uuid.to_string()),
            usage_type: usage_type.to_string(),
        }
    }

    /// The UUID or the usage id, whichever the lookup has.
    pub fn uuid_and_usage_id(&self) -> (Option<&str>, Option<&str>) {
        match &self.by {
            SecretKey::Uuid(uuid) => (Some(uuid), None),
            SecretKey::Usage(id) => (None, Some(id)),
        }
    }

    /// libvirt's error for a secret that is not there.
    pub fn not_found(&self) -> Error {
        let detail = match &self.by {
            SecretKey::Uuid(uuid) => format!("no secret with matching uuid '{uuid}'"),
            SecretKey::Usage(id) => format!("no secret with matching usage '{id}'"),
        };
        virt_plugin_sdk::error(ErrorNumber::NO_SECRET, ErrorDomain::SECRET, detail)
    }
}

/// The lookup of the credentials of a source of `protocol`: libvirt wants a `ceph` secret
/// for RBD and an `iscsi` one for every other protocol, whatever `<secret type>` says.
pub fn auth_lookup(auth: &StorageAuth, protocol: Option<NetProtocol>) -> Option<SecretLookup> {
    let usage_type = match protocol {
        Some(NetProtocol::Rbd) => "ceph",
        _ => "iscsi",
    };
    SecretLookup::of(auth.secret.as_ref()?, usage_type)
}

/// The lookup of an encryption's passphrase.
pub fn encryption_lookup(encryption: &Encryption) -> Option<SecretLookup> {
    SecretLookup::of(encryption.secrets.first()?, "volume")
}

/// Every secret the disks, the NVRAM and the iSCSI host devices of `def` use, each once.
pub fn referenced(def: &Domain) -> Vec<SecretLookup> {
    let no_disk = virt_xml::domain::Disk::default();
    // The directory an NVRAM file goes to does not change a network NVRAM's credentials.
    let nvram = super::disk::nvram_layer(def, "").map(|layer| (&no_disk, layer));
    let layers = def
        .devices
        .disks
        .iter()
        .flat_map(|disk| {
            super::disk::disk_layers(disk)
                .into_iter()
                .map(move |layer| (disk, layer))
        })
        .chain(nvram);
    let mut found = Vec::new();
    for (disk, layer) in layers {
        let protocol = layer.source.protocol;
        found.extend(super::disk::layer_auth(disk, &layer).and_then(|a| auth_lookup(a, protocol)));
        found.extend(super::disk::layer_encryption(disk, &layer).and_then(encryption_lookup));
    }
    // iSCSI host devices' credentials.
    let scsi_hostdevs = def
        .devices
        .hostdevs
        .iter()
        .filter(|hostdev| hostdev.hostdev_type.as_deref() == Some("scsi"));
    for hostdev in scsi_hostdevs {
        let source = hostdev.source.as_ref();
        let secret = source
            .and_then(|source| source.auth.as_ref())
            .and_then(|auth| auth.secret.as_ref());
        found.extend(secret.and_then(|secret| SecretLookup::of(secret, "iscsi")));
    }
    found.sort();
    found.dedup();
    found
}

/// `-object secret` `id` for the value of the secret `lookup` names, which must be among
/// the context's values.
pub fn add_object(
    cmd: &mut super::CommandLine,
    ctx: &super::BuildContext,
    lookup: &SecretLookup,
    id: &str,
) -> Result<(), Error> {
    let value = ctx
        .secret_values
        .get(lookup)
        .ok_or_else(|| lookup.not_found())?;
    cmd.opt("-object", object(id, value, &ctx.secret_wrap)?.to_json());
    Ok(())
}

/// `-object secret` for `value`, wrapped under `wrap`.
pub fn object(id: &str, value: &[u8], wrap: &SecretWrap) -> Result<Props, Error> {
    let encryptor = Aes256CbcEnc::new_from_slices(&wrap.master_key, &wrap.iv).map_err(|_| {
        virt_plugin_sdk::error(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::QEMU,
            "the domain's master key is not 32 bytes",
        )
    })?;
    let data = encryptor.encrypt_padded_vec_mut::<Pkcs7>(value);
    Ok(Props::new()
        .str("qom-type", "secret")
        .str("id", id)
        .str("data", STANDARD.encode(data))
        .str("keyid", "masterKey0")
        .str("iv", STANDARD.encode(wrap.iv))
        .str("format", "base64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_definition_names_its_secrets_by_uuid_and_by_usage() {
        let def = Domain::parse(
            "<domain type='qemu'><name>d</name><memory>1024</memory><os><type>hvm</type></os>\
             <devices>\
             <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>\
             <source file='/a.qcow2'><encryption format='luks'>\
             <secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/>\
             </encryption></source><target dev='vda' bus='virtio'/></disk>\
             <disk type='network' device='disk'><driver name='qemu' type='raw'/>\
             <source protocol='iscsi' name='iqn.2013-07.com.example:t/1'>\
             <host name='example.org' port='3260'/><auth username='me'>\
             <secret type='iscsi' usage='cluster_me'/></auth></source>\
             <target dev='vdb' bus='virtio'/></disk>\
             <disk type='file' device='disk'><source file='/plain.img'/>\
             <target dev='vdc' bus='virtio'/></disk>\
             </devices></domain>",
        )
        .expect("domain");
        assert_eq!(
            referenced(&def),
            [
                SecretLookup::uuid("0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f", "volume"),
                SecretLookup {
                    by: SecretKey::Usage("cluster_me".into()),
                    usage_type: "iscsi".into(),
                },
            ]
        );
        let uses: Vec<bool> = def
            .devices
            .disks
            .iter()
            .map(super::super::disk::uses_secrets)
            .collect();
        assert_eq!(uses, [true, true, false]);
    }

    /// libvirt's tests: the master key and IV are the mocked random bytes 0, 1, 2, ... and
    /// the value is the fake secret driver's; the golden files hold this data.
    #[test]
    fn wraps_as_libvirts_golden_files_show() {
        let wrap = SecretWrap {
            master_key: (0..32).collect(),
            iv: core::array::from_fn(|i| i as u8),
        };
        let object =
            object("sec0", b"AQCVn5hO6HzFAhAAq0NCv8jtJcIcE+HOBlMQ1A", &wrap).expect("object");
        assert_eq!(
            object.to_json(),
            "{\"qom-type\":\"secret\",\"id\":\"sec0\",\
             \"data\":\"9eao5F8qtkGt+seB1HYivWIxbtwUu6MQtg1zpj/oDtUsPr1q8wBYM91uEHCn6j/1\",\
             \"keyid\":\"masterKey0\",\"iv\":\"AAECAwQFBgcICQoLDA0ODw==\",\"format\":\"base64\"}"
        );
    }
}
