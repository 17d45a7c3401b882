//! The kernel's device changes (uevents) for the spaces that asked through `device-watch`:
//! one netlink socket and one thread for the whole process, started by the first `watch`,
//! handing each batch of changes to every watching space through its plugin's dispatcher,
//! like a child's exit.
//!
//! It knows nothing of node device names or libvirt's events: the node device plugin makes
//! those from the changes (and sysfs). A space that ends stops being served; nothing else
//! has to unregister.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    bind, recvfrom, setsockopt, socket, sockopt, AddressFamily, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};
use virt_core::{Error, ErrorDomain, ErrorNumber};

use crate::resources::{Dispatch, HandlerEvent};
use crate::space::Space;

/// One uevent, as the `device-changes` export receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceChange {
    pub action: String,
    pub devpath: String,
    pub subsystem: String,
}

/// How long after a change the thread waits for the ones that belong with it (a network
/// device comes with its queues, a PCI device with its functions): one delivery for them.
const BATCH_WINDOW: Duration = Duration::from_millis(50);

/// The kernel's uevent multicast group (udevd re-broadcasts on group 2, which is not ours).
const KERNEL_GROUP: u32 = 1;

/// Changes waiting for a watcher's handler: `Some` while a delivery is queued, so that a
/// burst becomes one call (one rescan of sysfs) however many batches it spans.
pub type PendingChanges = Arc<Mutex<Option<Vec<DeviceChange>>>>;

struct Watcher {
    space: Weak<Space>,
    dispatch: Dispatch,
    pending: PendingChanges,
}

static WATCHERS: Mutex<Vec<Watcher>> = Mutex::new(Vec::new());
/// The listening thread, started once; the reason it could not start otherwise.
static LISTENER: OnceLock<Result<(), String>> = OnceLock::new();

/// From now on, `space` receives the kernel's device changes through `dispatch`.
pub fn watch(space: Weak<Space>, dispatch: Dispatch) -> Result<(), Error> {
    if let Err(reason) = LISTENER.get_or_init(start_listener) {
        return Err(Error::new(
            ErrorNumber::INTERNAL_ERROR,
            ErrorDomain::NONE,
            format!("cannot listen to the kernel's device events: {reason}"),
        ));
    }
    let mut watchers = WATCHERS.lock().unwrap_or_else(|p| p.into_inner());
    watchers.retain(|watcher| watcher.space.strong_count() > 0);
    if !watchers
        .iter()
        .any(|watcher| Weak::ptr_eq(&watcher.space, &space))
    {
        watchers.push(Watcher {
            space,
            dispatch,
            pending: Arc::default(),
        });
    }
    Ok(())
}

fn start_listener() -> Result<(), String> {
    let socket = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkKObjectUEvent,
    )
    .map_err(|e| format!("netlink socket: {e}"))?;
    // A burst (a bridge with many ports going away) must not overflow the default buffer;
    // the kernel caps this at rmem_max.
    let _ = setsockopt(&socket, sockopt::RcvBuf, &(1 << 20));
    bind(socket.as_raw_fd(), &NetlinkAddr::new(0, KERNEL_GROUP))
        .map_err(|e| format!("bind to the kernel's uevent group: {e}"))?;
    std::thread::Builder::new()
        .name("device-watch".into())
        .spawn(move || listen(socket))
        .map_err(|e| format!("thread: {e}"))?;
    Ok(())
}

fn listen(socket: OwnedFd) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let mut batch = Vec::new();
        if !wait_readable(&socket, PollTimeout::NONE) {
            continue;
        }
        receive(&socket, &mut buffer, &mut batch);
        let deadline = Instant::now() + BATCH_WINDOW;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let millis = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
            if !wait_readable(&socket, PollTimeout::from(millis)) {
                break;
            }
            receive(&socket, &mut buffer, &mut batch);
        }
        if !batch.is_empty() {
            deliver(batch);
        }
    }
}

fn wait_readable(socket: &OwnedFd, timeout: PollTimeout) -> bool {
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
    matches!(nix::poll::poll(&mut fds, timeout), Ok(n) if n > 0)
}

fn receive(socket: &OwnedFd, buffer: &mut [u8], batch: &mut Vec<DeviceChange>) {
    match recvfrom::<NetlinkAddr>(socket.as_raw_fd(), buffer) {
        // Only the kernel (port 0) speaks for the devices.
        Ok((length, Some(sender))) if sender.pid() == 0 => {
            if let Some(change) = parse_uevent(&buffer[..length]) {
                batch.push(change);
            }
        }
        Ok(_) => {}
        Err(nix::errno::Errno::ENOBUFS) => {
            tracing::warn!("device events were lost (the uevent socket overflowed)")
        }
        Err(error) => {
            tracing::warn!(%error, "reading the kernel's device events");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A kernel uevent: `ACTION@DEVPATH`, then `KEY=VALUE` fields, each ending in a NUL.
fn parse_uevent(message: &[u8]) -> Option<DeviceChange> {
    let mut fields = message.split(|byte| *byte == 0);
    let header = std::str::from_utf8(fields.next()?).ok()?;
    header.split_once('@')?;
    let mut change = DeviceChange {
        action: String::new(),
        devpath: String::new(),
        subsystem: String::new(),
    };
    for field in fields {
        let Some((key, value)) = std::str::from_utf8(field)
            .ok()
            .and_then(|text| text.split_once('='))
        else {
            continue;
        };
        match key {
            "ACTION" => change.action = value.to_string(),
            "DEVPATH" => change.devpath = value.to_string(),
            "SUBSYSTEM" => change.subsystem = value.to_string(),
            _ => {}
        }
    }
    (!change.action.is_empty() && !change.devpath.is_empty()).then_some(change)
}

fn deliver(batch: Vec<DeviceChange>) {
    let mut watchers = WATCHERS.lock().unwrap_or_else(|p| p.into_inner());
    watchers.retain(|watcher| {
        if watcher.space.strong_count() == 0 {
            return false;
        }
        let mut pending = watcher.pending.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(queued) = pending.as_mut() {
            // A delivery is on its way: it takes these too.
            queued.extend(batch.iter().cloned());
            return true;
        }
        *pending = Some(batch.clone());
        drop(pending);
        watcher
            .dispatch
            .send((
                watcher.space.clone(),
                HandlerEvent::DevicesChanged {
                    pending: Arc::clone(&watcher.pending),
                },
            ))
            .is_ok()
    });
}

/// What a queued delivery hands the plugin: every change since it was queued.
pub fn take_pending(pending: &PendingChanges) -> Vec<DeviceChange> {
    pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kernel_uevent_is_parsed() {
        let message = b"add@/devices/virtual/net/veth0\0ACTION=add\0DEVPATH=/devices/virtual/net/veth0\0SUBSYSTEM=net\0INTERFACE=veth0\0IFINDEX=7\0SEQNUM=3021\0";
        assert_eq!(
            parse_uevent(message),
            Some(DeviceChange {
                action: "add".into(),
                devpath: "/devices/virtual/net/veth0".into(),
                subsystem: "net".into(),
            })
        );
    }

    #[test]
    fn a_message_without_action_or_path_is_dropped() {
        assert_eq!(parse_uevent(b"libudev\0\xfe\xed\xca\xfe"), None);
        assert_eq!(parse_uevent(b"add@/x\0SUBSYSTEM=net\0"), None);
    }
}
