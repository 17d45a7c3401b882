//! QEMU's asynchronous events mapped onto libvirt's domain states and events.
//!
//! [`map_event`] is pure: given what the driver knows about a running domain and one QMP
//! event, it says what the domain's state becomes, which libvirt events to emit and what
//! the driver must do next (stop QEMU, reset and resume it for a fake reboot, forget an
//! unplugged device). `crate::lifecycle` carries the outcome out with host calls, both for
//! events a handler receives and for events an API call reads while waiting for a reply.

use serde_json::Value;
use virt_core::consts::{
    domain_crashed_reason as crashed_reason, domain_event_crashed_detail_type as crashed_detail,
    domain_event_id as event_id, domain_event_resumed_detail_type as resumed_detail,
    domain_event_shutdown_detail_type as shutdown_detail,
    domain_event_suspended_detail_type as suspended_detail, domain_event_type as event_type,
    domain_paused_reason as paused_reason, domain_running_reason as running_reason,
    domain_shutdown_reason as shutdown_reason, domain_state as state,
};
use virt_core::{TypedParam, TypedValue};

use crate::qmp::Event;

/// What `<on_poweroff>`, `<on_reboot>` and `<on_crash>` say, reduced to what events need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LifecycleActions {
    /// `on_poweroff` is `restart`: a guest power-off becomes a reset.
    pub restart_on_poweroff: bool,
    /// `on_crash`: what to do after a guest panic.
    pub on_crash: CrashAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CrashAction {
    #[default]
    Destroy,
    Restart,
    Preserve,
}

/// What the caller knows about why QEMU stops or resumes right now (libvirt's
/// `priv->pausedReason`/`runningReason`): an API call that sends `stop` expects a STOP event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expectation {
    pub paused_reason: Option<i32>,
    pub running_reason: Option<i32>,
}

/// The current state of the domain the event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainStatus {
    pub state: i32,
    pub reason: i32,
    /// A reboot was asked for (virDomainReboot in ACPI mode): the next power-off resets.
    pub fake_reboot: bool,
    /// The guest powered off on its way to a reset: the STOP that follows is not a pause
    /// (libvirt's `pausedShutdown`).
    pub paused_shutdown: bool,
    /// The driver is already making QEMU exit (destroy, crash, save): the SHUTDOWN QEMU
    /// reports for the signal says nothing new.
    pub stopping: bool,
}

/// Something the driver must do because of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUp {
    /// The guest is down for good: make QEMU exit (it was started with `-no-shutdown`).
    StopQemu { reason: StopReason },
    /// Reset the machine and resume the CPUs (a fake reboot or `on_poweroff=restart`).
    ResetAndResume,
    /// QEMU confirmed an unplug: drop the device from the live definition.
    DeviceRemoved { alias: String },
}

/// Why QEMU is made to exit after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Shutdown,
    Crashed,
}

/// A libvirt event to emit, in `virt-core` terms.
#[derive(Debug, Clone, PartialEq)]
pub enum DomainEvent {
    Lifecycle {
        event: i32,
        detail: i32,
    },
    Reboot,
    Other {
        event_id: i32,
        params: Vec<TypedParam>,
    },
}

/// Everything an event causes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// The new `(state, reason)`, if it changes.
    pub new_state: Option<(i32, i32)>,
    /// The fake-reboot flag after the event.
    pub fake_reboot: Option<bool>,
    /// The paused-shutdown flag after the event.
    pub paused_shutdown: Option<bool>,
    pub events: Vec<DomainEvent>,
    pub follow_ups: Vec<FollowUp>,
}

/// Maps one QMP event (see the module docs).
pub fn map_event(
    status: DomainStatus,
    actions: LifecycleActions,
    expect: Expectation,
    event: &Event,
) -> Outcome {
    let mut outcome = Outcome::default();
    let is_active = status.state != state::SHUTOFF;
    if !is_active
        || (status.stopping && matches!(event.name.as_str(), "SHUTDOWN" | "STOP" | "RESUME"))
    {
        return outcome;
    }
    match event.name.as_str() {
        "SHUTDOWN" => {
            if status.state == state::SHUTDOWN {
                return outcome;
            }
            let restarting = status.fake_reboot || actions.restart_on_poweroff;
            if !restarting {
                outcome.new_state = Some((state::SHUTDOWN, shutdown_reason::UNKNOWN));
                let detail = match event.data.get("guest").and_then(Value::as_bool) {
                    Some(true) => shutdown_detail::GUEST,
                    Some(false) => shutdown_detail::HOST,
                    None => shutdown_detail::FINISHED,
                };
                outcome.events.push(DomainEvent::Lifecycle {
                    event: event_type::SHUTDOWN,
                    detail,
                });
                outcome.follow_ups.push(FollowUp::StopQemu {
                    reason: StopReason::Shutdown,
                });
            } else {
                outcome.paused_shutdown = Some(true);
                outcome.follow_ups.push(FollowUp::ResetAndResume);
            }
        }
        "RESET" => {
            outcome.events.push(DomainEvent::Reboot);
            if status.fake_reboot {
                outcome.fake_reboot = Some(false);
            }
        }
        "STOP" => {
            // A power-off with -no-shutdown stops the CPUs too; that is not a user pause.
            if status.paused_shutdown {
                outcome.paused_shutdown = Some(false);
            } else if status.state == state::RUNNING {
                let reason = expect.paused_reason.unwrap_or(paused_reason::UNKNOWN);
                outcome.new_state = Some((state::PAUSED, reason));
                outcome.events.push(DomainEvent::Lifecycle {
                    event: event_type::SUSPENDED,
                    detail: suspended_detail_for(reason),
                });
            }
        }
        "RESUME" if status.state != state::RUNNING => {
            let reason = expect.running_reason.unwrap_or(running_reason::UNPAUSED);
            outcome.new_state = Some((state::RUNNING, reason));
            outcome.events.push(DomainEvent::Lifecycle {
                event: event_type::RESUMED,
                detail: resumed_detail_for(reason),
            });
        }
        "GUEST_PANICKED" => {
            outcome.new_state = Some((state::CRASHED, crashed_reason::PANICKED));
            outcome.events.push(DomainEvent::Lifecycle {
                event: event_type::CRASHED,
                detail: crashed_detail::PANICKED,
            });
            match actions.on_crash {
                CrashAction::Destroy => outcome.follow_ups.push(FollowUp::StopQemu {
                    reason: StopReason::Crashed,
                }),
                CrashAction::Restart => {
                    outcome.fake_reboot = Some(true);
                    outcome.follow_ups.push(FollowUp::ResetAndResume);
                }
                CrashAction::Preserve => {}
            }
        }
        "DEVICE_DELETED" => {
            // Only the device itself carries `device`; its backend's event has a path only.
            if let Some(alias) = event.data.get("device").and_then(Value::as_str) {
                outcome.follow_ups.push(FollowUp::DeviceRemoved {
                    alias: alias.to_string(),
                });
                outcome.events.push(DomainEvent::Other {
                    event_id: event_id::DEVICE_REMOVED,
                    params: vec![TypedParam::new(
                        "devAlias",
                        TypedValue::String(alias.to_string()),
                    )],
                });
            }
        }
        "BALLOON_CHANGE" => {
            if let Some(actual) = event.data.get("actual").and_then(Value::as_u64) {
                outcome.events.push(DomainEvent::Other {
                    event_id: event_id::BALLOON_CHANGE,
                    params: vec![TypedParam::new("actual", TypedValue::ULLong(actual / 1024))],
                });
            }
        }
        "BLOCK_JOB_COMPLETED" | "BLOCK_JOB_CANCELLED" | "BLOCK_JOB_ERROR" | "BLOCK_JOB_READY" => {
            outcome.events.extend(block_job_events(event));
        }
        "WATCHDOG" => {
            let action = match event.data.get("action").and_then(Value::as_str) {
                Some("pause") => 1,
                Some("reset") => 2,
                Some("poweroff") => 3,
                Some("shutdown") => 4,
                Some("debug") => 5,
                Some("inject-nmi") => 6,
                _ => 0,
            };
            outcome.events.push(DomainEvent::Other {
                event_id: event_id::WATCHDOG,
                params: vec![TypedParam::new("action", TypedValue::Int(action))],
            });
        }
        "RTC_CHANGE" => {
            let offset = event
                .data
                .get("offset")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            outcome.events.push(DomainEvent::Other {
                event_id: event_id::RTC_CHANGE,
                params: vec![TypedParam::new("offset", TypedValue::LLong(offset))],
            });
        }
        _ => {}
    }
    outcome
}

/// libvirt's block job type and status for a QMP BLOCK_JOB_* event: the legacy event (by
/// path) and BLOCK_JOB_2 (by disk target), both keyed here by the QMP device name, which this
/// driver sets to the disk's alias. The caller translates the alias to path/target.
fn block_job_events(event: &Event) -> Vec<DomainEvent> {
    let job_type = match event.data.get("type").and_then(Value::as_str) {
        Some("stream") => 1,
        Some("mirror") => 2,
        Some("commit") => 3,
        Some("backup") => 5,
        _ => 0,
    };
    let status = match event.name.as_str() {
        "BLOCK_JOB_COMPLETED" if event.data.get("error").is_some() => 1,
        "BLOCK_JOB_COMPLETED" => 0,
        "BLOCK_JOB_CANCELLED" => 2,
        "BLOCK_JOB_READY" => 3,
        _ => return Vec::new(),
    };
    let device = event
        .data
        .get("device")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    vec![DomainEvent::Other {
        event_id: event_id::BLOCK_JOB_2,
        params: vec![
            TypedParam::new("dst", TypedValue::String(device)),
            TypedParam::new("type", TypedValue::Int(job_type)),
            TypedParam::new("status", TypedValue::Int(status)),
        ],
    }]
}

/// libvirt's qemuDomainPausedReasonToSuspendedEvent.
pub fn suspended_detail_for(reason: i32) -> i32 {
    match reason {
        paused_reason::MIGRATION => suspended_detail::MIGRATED,
        paused_reason::IOERROR => suspended_detail::IOERROR,
        paused_reason::WATCHDOG => suspended_detail::WATCHDOG,
        paused_reason::FROM_SNAPSHOT => suspended_detail::FROM_SNAPSHOT,
        paused_reason::POSTCOPY => suspended_detail::POSTCOPY,
        paused_reason::POSTCOPY_FAILED => suspended_detail::POSTCOPY_FAILED,
        _ => suspended_detail::PAUSED,
    }
}

/// libvirt's qemuDomainRunningReasonToResumeEvent.
pub fn resumed_detail_for(reason: i32) -> i32 {
    match reason {
        running_reason::RESTORED | running_reason::FROM_SNAPSHOT => resumed_detail::FROM_SNAPSHOT,
        running_reason::MIGRATED => resumed_detail::MIGRATED,
        running_reason::POSTCOPY => resumed_detail::POSTCOPY,
        running_reason::POSTCOPY_FAILED => resumed_detail::POSTCOPY_FAILED,
        _ => resumed_detail::UNPAUSED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn running() -> DomainStatus {
        DomainStatus {
            state: state::RUNNING,
            reason: running_reason::BOOTED,
            fake_reboot: false,
            paused_shutdown: false,
            stopping: false,
        }
    }

    fn event(name: &str, data: Value) -> Event {
        Event {
            name: name.into(),
            data,
            timestamp_us: 0,
        }
    }

    #[test]
    fn guest_power_off_stops_qemu() {
        let outcome = map_event(
            running(),
            LifecycleActions::default(),
            Expectation::default(),
            &event(
                "SHUTDOWN",
                json!({"guest": true, "reason": "guest-shutdown"}),
            ),
        );
        assert_eq!(
            outcome.new_state,
            Some((state::SHUTDOWN, shutdown_reason::UNKNOWN))
        );
        assert_eq!(
            outcome.events,
            vec![DomainEvent::Lifecycle {
                event: event_type::SHUTDOWN,
                detail: shutdown_detail::GUEST
            }]
        );
        assert_eq!(
            outcome.follow_ups,
            vec![FollowUp::StopQemu {
                reason: StopReason::Shutdown
            }]
        );
    }

    #[test]
    fn fake_reboot_resets_instead() {
        let status = DomainStatus {
            fake_reboot: true,
            ..running()
        };
        let outcome = map_event(
            status,
            LifecycleActions::default(),
            Expectation::default(),
            &event("SHUTDOWN", json!({"guest": true})),
        );
        assert_eq!(outcome.new_state, None);
        assert_eq!(outcome.follow_ups, vec![FollowUp::ResetAndResume]);
        let outcome = map_event(
            status,
            LifecycleActions::default(),
            Expectation::default(),
            &event("RESET", json!({})),
        );
        assert_eq!(outcome.events, vec![DomainEvent::Reboot]);
        assert_eq!(outcome.fake_reboot, Some(false));
        // The STOP that follows the power-off is part of the reboot, not a pause.
        let resetting = DomainStatus {
            paused_shutdown: true,
            ..running()
        };
        let outcome = map_event(
            resetting,
            LifecycleActions::default(),
            Expectation::default(),
            &event("STOP", Value::Null),
        );
        assert_eq!(outcome.new_state, None);
        assert_eq!(outcome.paused_shutdown, Some(false));
    }

    #[test]
    fn user_pause_and_resume() {
        let expect = Expectation {
            paused_reason: Some(paused_reason::USER),
            running_reason: None,
        };
        let outcome = map_event(
            running(),
            LifecycleActions::default(),
            expect,
            &event("STOP", Value::Null),
        );
        assert_eq!(
            outcome.new_state,
            Some((state::PAUSED, paused_reason::USER))
        );
        assert_eq!(
            outcome.events,
            vec![DomainEvent::Lifecycle {
                event: event_type::SUSPENDED,
                detail: suspended_detail::PAUSED
            }]
        );
        let paused = DomainStatus {
            state: state::PAUSED,
            reason: paused_reason::USER,
            fake_reboot: false,
            paused_shutdown: false,
            stopping: false,
        };
        let outcome = map_event(
            paused,
            LifecycleActions::default(),
            Expectation::default(),
            &event("RESUME", Value::Null),
        );
        assert_eq!(
            outcome.new_state,
            Some((state::RUNNING, running_reason::UNPAUSED))
        );
    }

    #[test]
    fn panic_with_destroy_and_device_deleted() {
        let outcome = map_event(
            running(),
            LifecycleActions::default(),
            Expectation::default(),
            &event("GUEST_PANICKED", json!({"action": "pause"})),
        );
        assert_eq!(
            outcome.new_state,
            Some((state::CRASHED, crashed_reason::PANICKED))
        );
        assert_eq!(
            outcome.follow_ups,
            vec![FollowUp::StopQemu {
                reason: StopReason::Crashed
            }]
        );
        let backend = map_event(
            running(),
            LifecycleActions::default(),
            Expectation::default(),
            &event(
                "DEVICE_DELETED",
                json!({"path": "/machine/peripheral/x/virtio-backend"}),
            ),
        );
        assert_eq!(backend, Outcome::default());
        let device = map_event(
            running(),
            LifecycleActions::default(),
            Expectation::default(),
            &event(
                "DEVICE_DELETED",
                json!({"device": "virtio-disk1", "path": "/machine/peripheral/virtio-disk1"}),
            ),
        );
        // QEMU's SHUTDOWN for the SIGTERM that ends a crashed guest changes nothing.
        let crashed = DomainStatus {
            state: state::CRASHED,
            reason: crashed_reason::PANICKED,
            stopping: true,
            ..running()
        };
        let signal = map_event(
            crashed,
            LifecycleActions::default(),
            Expectation::default(),
            &event("SHUTDOWN", json!({"guest": false, "reason": "host-signal"})),
        );
        assert_eq!(signal, Outcome::default());
        assert_eq!(
            device.follow_ups,
            vec![FollowUp::DeviceRemoved {
                alias: "virtio-disk1".into()
            }]
        );
    }

    #[test]
    fn events_for_a_stopped_domain_are_ignored() {
        let off = DomainStatus {
            state: state::SHUTOFF,
            reason: 0,
            fake_reboot: false,
            paused_shutdown: false,
            stopping: false,
        };
        assert_eq!(
            map_event(
                off,
                LifecycleActions::default(),
                Expectation::default(),
                &event("STOP", Value::Null)
            ),
            Outcome::default()
        );
    }
}
