//! The swtpm behind an emulated TPM (`<tpm><backend type='emulator'>`), as libvirt's
//! `qemu_tpm` runs it: one `swtpm socket` per domain, its state in
//! `<lib dir>/swtpm/<uuid>/tpm2` (or `tpm1.2`), its control socket where the command line's
//! `-chardev socket,id=chrtpm` points, `--terminate` so it ends when QEMU lets go of it, and
//! its state encrypted when the backend names a `vtpm` secret.
//!
//! The driver starts it before QEMU and forgets it once QEMU runs; undefine removes the state.

use virt_core::{ErrorDomain, ErrorNumber};
use virt_plugin_sdk::host::{files, process};
use virt_plugin_sdk::types::Error;
use virt_xml::domain::enums::{TpmBackend, TpmModel};
use virt_xml::domain::Domain;
use virt_xml::secret::SecretUsageType;

use crate::space::SpaceLayout;

pub const SWTPM: &str = "/usr/bin/swtpm";

/// The TPM version an emulator runs: the definition's, else libvirt's default for the model
/// (2.0 for CRB, 1.2 for TIS).
fn version_of(tpm: &virt_xml::domain::Tpm) -> &str {
    let backend = tpm.backend.as_ref();
    match backend.and_then(|backend| backend.version.as_deref()) {
        Some(version) => version,
        None if tpm.model == Some(TpmModel::TpmCrb) => "2.0",
        None => "1.2",
    }
}

/// Where a domain's TPM state lives (libvirt's `<swtpm storage dir>/<uuid>`).
pub fn state_root(layout: &SpaceLayout, uuid: &str) -> String {
    format!("{}/swtpm/{uuid}", layout.lib_dir)
}

/// The emulated TPM of a definition, if it has one.
fn emulated(def: &Domain) -> Option<&virt_xml::domain::Tpm> {
    def.devices.tpms.iter().find(|tpm| {
        matches!(
            tpm.backend
                .as_ref()
                .and_then(|backend| backend.backend_type),
            Some(TpmBackend::Emulator) | None
        )
    })
}

fn tpm_error(detail: String) -> Error {
    virt_plugin_sdk::error(ErrorNumber::OPERATION_FAILED, ErrorDomain::QEMU, detail)
}

/// The running swtpm and the file its key was handed over in (removed once it runs).
pub struct Started {
    pub process: process::ProcessHandle,
    key_file: Option<String>,
}

impl Started {
    /// Forgets the process (it ends with QEMU) and removes the key file.
    pub fn release(self) {
        if let Some(key) = &self.key_file {
            let _ = files::remove(key);
        }
        process::release(self.process);
    }

    /// Stops it: QEMU did not start.
    pub fn stop(self) {
        let _ = process::kill(self.process, crate::launch::SIGKILL);
        let _ = process::wait(self.process, 5_000);
        self.release();
    }
}

/// Starts the swtpm for `def`'s emulated TPM listening on `socket`, and waits until it does;
/// `None` when the domain has none.
pub fn start(
    def: &Domain,
    layout: &SpaceLayout,
    uuid: &str,
    socket: &str,
) -> Result<Option<Started>, Error> {
    let Some(tpm) = emulated(def) else {
        return Ok(None);
    };
    let version = version_of(tpm);
    let state_dir = format!(
        "{}/{}",
        state_root(layout, uuid),
        if version == "2.0" { "tpm2" } else { "tpm1.2" }
    );
    files::create_dir_all(&state_dir)?;
    let log = format!("{}/{}-swtpm.log", layout.log_dir, def.name());
    let mut args = vec![
        "socket".to_string(),
        "--ctrl".to_string(),
        format!("type=unixio,path={socket},mode=0600"),
        "--tpmstate".to_string(),
        format!("dir={state_dir},mode=0600"),
        "--log".to_string(),
        format!("file={log}"),
        "--terminate".to_string(),
    ];
    if version == "2.0" {
        args.push("--tpm2".to_string());
    }
    let key_file =
        match tpm
            .backend
            .as_ref()
            .and_then(|backend| backend.encryption.as_ref())
            .and_then(|encryption| encryption.secret.as_deref())
        {
            Some(secret) => {
                let dirs = files::dirs();
                let value = virt_secret_store::SecretDirs::beside(&dirs.config, &dirs.run)
                    .value_for(SecretUsageType::Vtpm, Some(secret), None, ErrorDomain::QEMU)?;
                let path = format!("{socket}.key");
                files::write(&path, &value)?;
                args.push("--key".to_string());
                args.push(format!("pwdfile={path},mode=aes-256-cbc"));
                Some(path)
            }
            None => None,
        };
    let _ = files::remove(socket);
    let spawned = process::spawn(&process::SpawnRequest {
        program: SWTPM.into(),
        args,
        env: vec![],
        cwd: Some("/".into()),
        stdout: process::Output::AppendFile(log.clone()),
        stderr: process::Output::AppendFile(log.clone()),
        pass_fds: vec![],
    });
    let handle = match spawned {
        Ok(handle) => handle,
        Err(error) => {
            if let Some(key) = &key_file {
                let _ = files::remove(key);
            }
            return Err(tpm_error(format!(
                "could not start swtpm ({SWTPM}): {}",
                error.message
            )));
        }
    };
    let started = Started {
        process: handle,
        key_file,
    };
    match crate::launch::wait_for_helper_socket(handle, socket, &log) {
        Ok(()) => Ok(Some(started)),
        Err(said) => {
            started.stop();
            Err(tpm_error(format!(
                "swtpm did not open its socket '{socket}': {said}"
            )))
        }
    }
}
