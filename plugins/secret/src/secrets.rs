//! The secrets, as libvirt's secret driver keeps them: a persistent secret is `UUID.xml`
//! (its definition) and `UUID.base64` (its sealed value) in the driver's configuration
//! directory; an ephemeral one the same two files in its run directory (memory-backed `/run`
//! on a host, gone at reboot as libvirt's in-memory ephemeral secrets are gone at a restart).
//! Both directories are made 0700, and values are sealed (`virt_secret_store::sealed`) under the key
//! file `secrets-encryption-key` in the configuration directory, made on first use.
//!
//! Every call reads the files it needs; one call changes them at a time (the `secrets` job).
//! A change writes the new files before it removes the old ones, so a failed step leaves the
//! secret as it was.

use virt_core::consts::{
    connect_list_all_secrets_flags as list_flags, secret_define_flags,
    secret_event_lifecycle_type as lifecycle,
};
use virt_core::{Error, ErrorDomain, ErrorNumber, Uuid};
use virt_plugin_sdk::host::object_events::{self, ObjectEvent};
use virt_plugin_sdk::host::{command, files, jobs};
use virt_plugin_sdk::types::SecretRef;
use virt_secret_store::sealed::{self, KEY_LEN, NONCE_LEN};
use virt_secret_store::SecretDirs;
use virt_xml::secret::{Secret, SecretUsageType};
use virt_xml::xml::YesNo;

const JOB: &str = "secrets";
const CHMOD: &str = "/usr/bin/chmod";

fn secret_error(code: ErrorNumber, detail: impl AsRef<str>) -> Error {
    Error::new(code, ErrorDomain::SECRET, detail)
}

fn from_host(error: virt_plugin_sdk::types::Error) -> Error {
    Error::from(error).with_domain(ErrorDomain::SECRET)
}

fn internal(detail: impl AsRef<str>) -> Error {
    secret_error(ErrorNumber::INTERNAL_ERROR, detail)
}

/// Where a secret's two files are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Config,
    Run,
}

impl Place {
    fn ephemeral(self) -> bool {
        self == Place::Run
    }
}

fn dirs() -> SecretDirs {
    let host = files::dirs();
    SecretDirs {
        config: host.config,
        run: host.run,
    }
}

/// Makes both directories, readable by their owner only.
pub fn prepare_dirs() -> Result<(), Error> {
    let dirs = dirs();
    for dir in [&dirs.config, &dirs.run] {
        files::create_dir_all(dir).map_err(from_host)?;
        let output = command::run(&command::RunRequest {
            program: CHMOD.into(),
            args: vec!["0700".into(), dir.clone()],
            env: vec![],
            cwd: None,
            stdin: vec![],
            timeout_ms: 10_000,
        })
        .map_err(from_host)?;
        if output.exit_code != Some(0) {
            return Err(secret_error(
                ErrorNumber::SYSTEM_ERROR,
                format!(
                    "cannot restrict access to '{dir}': {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            ));
        }
    }
    Ok(())
}

/// One secret as found on disk.
#[derive(Clone, Debug)]
struct Stored {
    def: Secret,
    uuid: String,
    place: Place,
}

impl Stored {
    fn reference(&self) -> SecretRef {
        reference(&self.def)
    }
    fn is_private(&self) -> bool {
        self.def.private == Some(YesNo::Yes)
    }
    fn is_ephemeral(&self) -> bool {
        self.place == Place::Run
    }
}

/// `virSecretUsageType` of a usage element.
fn usage_type(def: &Secret) -> i32 {
    use virt_core::consts::secret_usage_type as usage;
    match def.usage.as_ref().and_then(|usage| usage.usage_type) {
        None | Some(SecretUsageType::None) => usage::NONE,
        Some(SecretUsageType::Volume) => usage::VOLUME,
        Some(SecretUsageType::Ceph) => usage::CEPH,
        Some(SecretUsageType::Iscsi) => usage::ISCSI,
        Some(SecretUsageType::Tls) => usage::TLS,
        Some(SecretUsageType::Vtpm) => usage::VTPM,
    }
}

/// Whether `def` is the secret for usage `kind` `id` (a secret without a usage is found by
/// UUID only).
fn used_for(def: &Secret, kind: i32, id: &str) -> bool {
    kind != 0 && usage_type(def) == kind && usage_id(def) == id
}

fn usage_id(def: &Secret) -> String {
    def.usage
        .as_ref()
        .and_then(|usage| usage.usage_id())
        .unwrap_or_default()
        .to_string()
}

fn reference(def: &Secret) -> SecretRef {
    SecretRef {
        uuid: def.uuid.unwrap_or_default().into(),
        usage_type: usage_type(def),
        usage_id: usage_id(def),
    }
}

/// Every secret, ephemeral ones first, each ordered by UUID (a file that does not parse is
/// skipped, as libvirt skips it at load).
fn all() -> Result<Vec<Stored>, Error> {
    Ok(dirs()
        .definitions()
        .into_iter()
        .map(|(def, ephemeral)| Stored {
            uuid: def.uuid.map(|u| u.to_string()).unwrap_or_default(),
            def,
            place: if ephemeral { Place::Run } else { Place::Config },
        })
        .collect())
}

fn load(place: Place, uuid: &str) -> Option<Stored> {
    dirs()
        .definition(place.ephemeral(), uuid)
        .map(|def| Stored {
            def,
            uuid: uuid.to_string(),
            place,
        })
}

fn find(uuid: &Uuid) -> Result<Stored, Error> {
    let text = uuid.to_string();
    load(Place::Run, &text)
        .or_else(|| load(Place::Config, &text))
        .ok_or_else(|| {
            secret_error(
                ErrorNumber::NO_SECRET,
                format!("no secret with matching uuid '{text}'"),
            )
        })
}

fn resolve(secret: &SecretRef) -> Result<Stored, Error> {
    find(&Uuid::from(secret.uuid))
}

// ---- the API ----

pub fn list_all(flags: u32) -> Result<Vec<SecretRef>, Error> {
    let all_flags = list_flags::EPHEMERAL
        | list_flags::NO_EPHEMERAL
        | list_flags::PRIVATE
        | list_flags::NO_PRIVATE;
    Error::check_flags(
        ErrorDomain::SECRET,
        flags,
        all_flags,
        "virConnectListAllSecrets",
    )?;
    let wanted = |set: bool, yes: u32, no: u32| {
        let (want_yes, want_no) = (flags & yes != 0, flags & no != 0);
        want_yes == want_no || (set && want_yes) || (!set && want_no)
    };
    Ok(all()?
        .into_iter()
        .filter(|s| {
            wanted(
                s.is_ephemeral(),
                list_flags::EPHEMERAL,
                list_flags::NO_EPHEMERAL,
            )
        })
        .filter(|s| wanted(s.is_private(), list_flags::PRIVATE, list_flags::NO_PRIVATE))
        .map(|s| s.reference())
        .collect())
}

pub fn lookup_by_uuid(uuid: Uuid) -> Result<SecretRef, Error> {
    find(&uuid).map(|stored| stored.reference())
}

pub fn lookup_by_usage(kind: i32, id: &str) -> Result<SecretRef, Error> {
    all()?
        .into_iter()
        .find(|s| used_for(&s.def, kind, id))
        .map(|s| s.reference())
        .ok_or_else(|| {
            secret_error(
                ErrorNumber::NO_SECRET,
                format!("no secret with matching usage '{id}'"),
            )
        })
}

pub fn define_xml(xml: &str, flags: u32) -> Result<SecretRef, Error> {
    Error::check_flags(
        ErrorDomain::SECRET,
        flags,
        secret_define_flags::VALIDATE,
        "virSecretDefineXML",
    )?;
    let mut def = Secret::parse(xml)?;
    def.post_parse();
    jobs::begin(JOB).map_err(from_host)?;
    let uuid = def.uuid.unwrap_or_default().to_string();
    let existing = all()?;
    let old = existing.iter().find(|s| s.uuid == uuid);
    match old {
        Some(old) => {
            if usage_id(&old.def) != usage_id(&def) {
                return Err(internal(format!(
                    "a secret with UUID {uuid} is already defined for use with {}",
                    usage_id(&old.def)
                )));
            }
            if old.is_private() && def.private != Some(YesNo::Yes) {
                return Err(internal("cannot change private flag on existing secret"));
            }
        }
        None => {
            let kind = usage_type(&def);
            let id = usage_id(&def);
            if let Some(other) = existing.iter().find(|s| used_for(&s.def, kind, &id)) {
                return Err(internal(format!(
                    "a secret with UUID {} already defined for use with {id}",
                    other.uuid
                )));
            }
        }
    }
    let place = if def.ephemeral == Some(YesNo::Yes) {
        Place::Run
    } else {
        Place::Config
    };
    let dirs = dirs();
    // A secret that changes place takes its value with it: written there first, then the
    // old files go.
    if let Some(old) = old.filter(|old| old.place != place) {
        if let Ok(value) = files::read(&dirs.value_file(old.place.ephemeral(), &uuid)) {
            files::write(&dirs.value_file(place.ephemeral(), &uuid), &value).map_err(from_host)?;
        }
    }
    let moved = old.is_some_and(|old| old.place != place);
    let written = files::write(
        &dirs.xml_file(place.ephemeral(), &uuid),
        def.to_xml().as_bytes(),
    );
    if let Err(error) = written {
        if moved {
            let _ = files::remove(&dirs.value_file(place.ephemeral(), &uuid));
        }
        return Err(from_host(error));
    }
    if let Some(old) = old.filter(|old| old.place != place) {
        let _ = files::remove(&dirs.xml_file(old.place.ephemeral(), &uuid));
        let _ = files::remove(&dirs.value_file(old.place.ephemeral(), &uuid));
    }
    // libvirt says DEFINED for a new secret and a redefinition alike.
    let defined = reference(&def);
    object_events::emit(&ObjectEvent::SecretLifecycle((
        defined.clone(),
        lifecycle::DEFINED,
        0,
    )));
    Ok(defined)
}

pub fn get_xml(secret: &SecretRef, flags: u32) -> Result<String, Error> {
    Error::check_flags(ErrorDomain::SECRET, flags, 0, "virSecretGetXMLDesc")?;
    Ok(resolve(secret)?.def.to_xml())
}

pub fn set_value(secret: &SecretRef, value: &[u8], flags: u32) -> Result<(), Error> {
    Error::check_flags(ErrorDomain::SECRET, flags, 0, "virSecretSetValue")?;
    jobs::begin(JOB).map_err(from_host)?;
    let stored = resolve(secret)?;
    let key = host_key()?;
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| internal(format!("no random nonce: {e}")))?;
    let text = sealed::seal(&key, &nonce, &stored.uuid, value);
    files::write(
        &dirs().value_file(stored.is_ephemeral(), &stored.uuid),
        text.as_bytes(),
    )
    .map_err(from_host)?;
    object_events::emit(&ObjectEvent::SecretValueChanged(stored.reference()));
    Ok(())
}

pub fn get_value(secret: &SecretRef, flags: u32) -> Result<Vec<u8>, Error> {
    Error::check_flags(ErrorDomain::SECRET, flags, 0, "virSecretGetValue")?;
    let stored = resolve(secret)?;
    // libvirt gives a private secret's value to its own drivers only; every caller of this
    // API is a client.
    if stored.is_private() {
        return Err(secret_error(
            ErrorNumber::INVALID_SECRET,
            "secret is private",
        ));
    }
    let Ok(text) = files::read(&dirs().value_file(stored.is_ephemeral(), &stored.uuid)) else {
        return Err(secret_error(
            ErrorNumber::NO_SECRET,
            format!("secret '{}' does not have a value", stored.uuid),
        ));
    };
    sealed::open(&host_key()?, &stored.uuid, &String::from_utf8_lossy(&text))
}

pub fn undefine(secret: &SecretRef) -> Result<(), Error> {
    jobs::begin(JOB).map_err(from_host)?;
    let stored = resolve(secret)?;
    let dirs = dirs();
    files::remove(&dirs.xml_file(stored.is_ephemeral(), &stored.uuid)).map_err(from_host)?;
    let _ = files::remove(&dirs.value_file(stored.is_ephemeral(), &stored.uuid));
    object_events::emit(&ObjectEvent::SecretLifecycle((
        stored.reference(),
        lifecycle::UNDEFINED,
        0,
    )));
    Ok(())
}

/// The host's key, made (32 random bytes) the first time a value is sealed.
fn host_key() -> Result<[u8; KEY_LEN], Error> {
    let dirs = dirs();
    if let Some(key) = dirs.read_key()? {
        return Ok(key);
    }
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(|e| internal(format!("no random key: {e}")))?;
    files::write(&dirs.key_file(), &key).map_err(from_host)?;
    Ok(key)
}
