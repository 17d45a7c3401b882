//! The capabilities cache: per instance in memory, per driver on disk, keyed by binary path and
//! mtime. A binary that changed on disk (an upgrade) is probed again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use virt_core::ErrorNumber;
use virt_plugin_sdk::host::files;
use virt_plugin_sdk::types::Error;

use super::{probe, QemuCaps};
use crate::error::qemu_error;
use crate::space::SpaceLayout;

type MemoryCache = Mutex<HashMap<String, Arc<QemuCaps>>>;

fn memory() -> &'static MemoryCache {
    static CACHE: std::sync::OnceLock<MemoryCache> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The file a binary's capabilities are cached in.
pub fn cache_file(layout: &SpaceLayout, binary: &str) -> String {
    let flat: String = binary
        .trim_start_matches('/')
        .chars()
        .map(|c| if c == '/' { '_' } else { c })
        .collect();
    format!("{}/capabilities/{flat}.json", layout.cache_dir)
}

/// The capabilities of `binary`, probing it only when it is new or changed.
pub fn capabilities_for(layout: &SpaceLayout, binary: &str) -> Result<Arc<QemuCaps>, Error> {
    let stat = files::stat(binary)?.ok_or_else(|| {
        qemu_error(
            ErrorNumber::INVALID_ARG,
            format!("Cannot check QEMU binary {binary}: No such file or directory"),
        )
    })?;
    if stat.is_dir {
        return Err(qemu_error(
            ErrorNumber::INVALID_ARG,
            format!("Cannot check QEMU binary {binary}: Is a directory"),
        ));
    }
    let fresh = |caps: &QemuCaps| caps.binary == binary && caps.binary_mtime_ns == stat.mtime_ns;
    if let Ok(cache) = memory().lock() {
        if let Some(caps) = cache.get(binary).filter(|caps| fresh(caps)) {
            return Ok(Arc::clone(caps));
        }
    }
    let path = cache_file(layout, binary);
    let from_disk = files::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<QemuCaps>(&bytes).ok());
    let caps = match from_disk.filter(fresh) {
        Some(caps) => caps,
        None => {
            let caps = probe::probe(binary, stat.mtime_ns, &layout.run_dir)?;
            if let Ok(bytes) = serde_json::to_vec(&caps) {
                // A cache that cannot be written only costs a probe next time.
                if let Err(error) = files::write(&path, &bytes) {
                    virt_plugin_sdk::warn!(
                        "cannot cache capabilities of {binary}: {}",
                        error.message
                    );
                }
            }
            caps
        }
    };
    let caps = Arc::new(caps);
    if let Ok(mut cache) = memory().lock() {
        cache.insert(binary.to_string(), Arc::clone(&caps));
    }
    Ok(caps)
}

/// The QEMU binaries this host has, by architecture (`qemu-system-<arch>` in /usr/bin).
pub fn installed_binaries() -> Vec<String> {
    let Ok(names) = files::list_dir("/usr/bin") else {
        return Vec::new();
    };
    names
        .into_iter()
        .filter(|name| name.starts_with("qemu-system-") && !name.ends_with(".real"))
        .map(|name| format!("/usr/bin/{name}"))
        .collect()
}

/// The binary libvirt would use for `arch` (`x86_64` → `/usr/bin/qemu-system-x86_64`).
pub fn binary_for_arch(arch: &str) -> Result<String, Error> {
    let qemu_arch = match arch {
        "i686" => "i386",
        "armv7l" | "armv6l" => "arm",
        other => other,
    };
    let wanted = format!("/usr/bin/qemu-system-{qemu_arch}");
    if installed_binaries().contains(&wanted) {
        return Ok(wanted);
    }
    // An x86_64 binary also runs i686 guests.
    if arch == "i686"
        && installed_binaries()
            .iter()
            .any(|binary| binary == "/usr/bin/qemu-system-x86_64")
    {
        return Ok("/usr/bin/qemu-system-x86_64".into());
    }
    Err(qemu_error(
        ErrorNumber::INTERNAL_ERROR,
        format!("no emulator for domain type 'qemu' and architecture '{arch}'"),
    ))
}
