//! Starting one QEMU process: the per-domain files it needs (log, master key, run directory),
//! the host spawn, and the wait for its QMP monitor, which tells a QEMU that started from one
//! that failed. A failure returns QEMU's own words from its log and leaves nothing behind.

use virt_core::ErrorNumber;
use virt_plugin_sdk::host::{files, process, stream};
use virt_plugin_sdk::types::Error;

use crate::argv::CommandLine;
use crate::error::qemu_error;
use crate::qmp::{Monitor, QemuVersion, QmpError};
use crate::util::now_ms;

/// How long QEMU may take to open its monitor (libvirt waits 30 s for the socket).
const MONITOR_TIMEOUT_MS: u64 = 30_000;

/// A QEMU that started and answered on its monitor.
#[derive(Debug)]
pub struct Launched {
    pub process: process::ProcessHandle,
    pub pid: i32,
    pub start_time: u64,
    pub monitor: Monitor,
    pub version: QemuVersion,
}

/// What a launch needs besides the command line.
#[derive(Debug, Clone)]
pub struct LaunchPlan {
    pub log_path: String,
    pub monitor_path: String,
    /// Host handles (taps) QEMU inherits as fd 3, 4, ...
    pub pass_fds: Vec<u64>,
}

/// A fresh IV for the secret objects of one start.
pub fn random_iv() -> Result<[u8; 16], Error> {
    let mut iv = [0u8; 16];
    fill_random(&mut iv)?;
    Ok(iv)
}

/// 32 random bytes for the master key QEMU decrypts secrets with.
pub fn random_key() -> Result<Vec<u8>, Error> {
    let mut key = vec![0u8; 32];
    fill_random(&mut key)?;
    Ok(key)
}

/// Fills `buf` from the system's random source (WASI's `random`, which the host serves
/// from the kernel's): without one a master key would be guessable, so nothing starts.
fn fill_random(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::fill(buf).map_err(|error| {
        qemu_error(
            ErrorNumber::INTERNAL_ERROR,
            format!("no random source for the master key: {error}"),
        )
    })
}

/// `2024-01-31 12:34:56.789+0000` for the log's start line.
pub fn log_timestamp() -> String {
    let millis = now_ms();
    let seconds = (millis / 1000) as i64;
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}+0000",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        millis % 1000
    )
}

/// Appends libvirt's start line and the command line to the domain log; returns the log's
/// length before QEMU writes to it, so a failure can quote what QEMU said.
fn write_log_header(log_path: &str, cmd: &CommandLine, qemu_version: &str) -> Result<u64, Error> {
    const KEEP_BYTES: usize = 1 << 20;
    let mut log = files::read(log_path).unwrap_or_default();
    if log.len() > KEEP_BYTES {
        log.drain(..log.len() - KEEP_BYTES);
    }
    let header = format!(
        "{}: starting up libvirt version: 9.0.0, package: rvirt {}, qemu version: {qemu_version}\n{}\n",
        log_timestamp(),
        env!("CARGO_PKG_VERSION"),
        cmd.to_shell_line()
    );
    log.extend_from_slice(header.as_bytes());
    files::write(log_path, &log)?;
    Ok(log.len() as u64)
}

/// What QEMU wrote to its log after `offset`, trimmed to its own lines.
pub fn log_since(log_path: &str, offset: u64) -> String {
    let log = files::read(log_path).unwrap_or_default();
    let tail = log.get(offset as usize..).unwrap_or_default();
    let text = String::from_utf8_lossy(tail);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .collect();
    lines.join("\n")
}

/// Spawns QEMU and waits for its monitor. On failure nothing is left running.
pub fn launch(cmd: &CommandLine, plan: &LaunchPlan, qemu_version: &str) -> Result<Launched, Error> {
    let _ = files::remove(&plan.monitor_path);
    let log_offset = write_log_header(&plan.log_path, cmd, qemu_version)?;
    let request = process::SpawnRequest {
        program: cmd.program.clone(),
        args: cmd.args.clone(),
        env: cmd.env.clone(),
        cwd: Some("/".into()),
        stdout: process::Output::AppendFile(plan.log_path.clone()),
        stderr: process::Output::AppendFile(plan.log_path.clone()),
        pass_fds: plan.pass_fds.clone(),
    };
    let handle = process::spawn(&request)?;
    match wait_for_monitor(handle, &plan.monitor_path) {
        Ok((monitor, version)) => {
            let status = process::status(handle)?;
            let start_time = process::start_time(handle)?;
            Ok(Launched {
                process: handle,
                pid: status.pid,
                start_time,
                monitor,
                version,
            })
        }
        Err(error) => {
            let still_running = process::status(handle)
                .map(|status| status.running)
                .unwrap_or(false);
            if still_running {
                let _ = process::kill(handle, SIGKILL);
            }
            let status = process::wait(handle, 5_000).ok();
            process::release(handle);
            let _ = files::remove(&plan.monitor_path);
            let said = log_since(&plan.log_path, log_offset);
            Err(start_error(error, still_running, status, &said))
        }
    }
}

/// How long a helper QEMU connects to (swtpm, virtiofsd, vhost-user-gpu) may take to
/// listen, looked for every HELPER_POLL_MS.
const HELPER_TIMEOUT_MS: u64 = 10_000;
const HELPER_POLL_MS: u32 = 10;

/// Waits until the helper `handle` listens on `socket` (the file exists). `Err` with what the
/// helper wrote to `log` when it ended first or took too long; the caller stops it.
pub fn wait_for_helper_socket(
    handle: process::ProcessHandle,
    socket: &str,
    log: &str,
) -> Result<(), String> {
    let deadline = crate::util::now_ms() + HELPER_TIMEOUT_MS;
    loop {
        if matches!(files::stat(socket), Ok(Some(_))) {
            return Ok(());
        }
        // The wait is the pause between looks (a host call, not charged to the plugin).
        let running = process::wait(handle, HELPER_POLL_MS).is_ok_and(|status| status.running);
        if !running || crate::util::now_ms() > deadline {
            return Err(files::read(log)
                .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
                .unwrap_or_default());
        }
    }
}

pub const SIGTERM: i32 = 15;
pub const SIGKILL: i32 = 9;

fn wait_for_monitor(
    handle: process::ProcessHandle,
    path: &str,
) -> Result<(Monitor, QemuVersion), QmpError> {
    let deadline = now_ms() + MONITOR_TIMEOUT_MS;
    loop {
        match Monitor::connect(path, 20, MONITOR_TIMEOUT_MS as u32) {
            Ok(connected) => return Ok(connected),
            Err(QmpError::Host(_)) => {
                let alive = process::status(handle)
                    .map(|status| status.running)
                    .unwrap_or(false);
                if !alive {
                    return Err(QmpError::Closed);
                }
                if now_ms() > deadline {
                    return Err(QmpError::Timeout);
                }
            }
            Err(other) => return Err(other),
        }
    }
}

/// The error of a failed start, in libvirt's words, with QEMU's own message. `killed`: QEMU
/// was still running and the driver killed it (it never answered on its monitor).
fn start_error(
    error: QmpError,
    killed: bool,
    status: Option<process::ProcessStatus>,
    said: &str,
) -> Error {
    match error {
        QmpError::Timeout if killed => qemu_error(
            ErrorNumber::INTERNAL_ERROR,
            "QEMU did not open its monitor in time",
        ),
        other if killed => qemu_error(
            ErrorNumber::INTERNAL_ERROR,
            format!("QEMU's monitor failed before it greeted ({other:?}); QEMU was killed. QEMU said: {said}"),
        ),
        _ if !said.is_empty() => qemu_error(
            ErrorNumber::INTERNAL_ERROR,
            format!("qemu unexpectedly closed the monitor: {said}"),
        ),
        _ => {
            let how = match status {
                Some(process::ProcessStatus {
                    exit_code: Some(code),
                    ..
                }) => format!("exited with status {code}"),
                Some(process::ProcessStatus {
                    signal: Some(signal),
                    ..
                }) => format!("was killed by signal {signal}"),
                _ => "exited".into(),
            };
            qemu_error(
                ErrorNumber::INTERNAL_ERROR,
                format!("QEMU {how} while connecting to monitor"),
            )
        }
    }
}

/// Closes a monitor stream, ignoring a stream already gone.
pub fn close_monitor(handle: u64) {
    stream::close(handle);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_look_like_libvirts() {
        let stamp = log_timestamp();
        assert_eq!(stamp.len(), "2024-01-31 12:34:56.789+0000".len());
        assert!(stamp.ends_with("+0000"));
    }
}
