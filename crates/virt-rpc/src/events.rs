//! Event messages: [`virt_core::Event`] to and from the REMOTE program's MESSAGE frames.
//!
//! Domain events have two forms on the wire: the callback form (procedures 318 and up) that
//! starts with the server-chosen `callbackID`, used by every client since libvirt 1.2.1, and
//! the legacy form (107, 169, …) without it. Events other than lifecycle and reboot travel in
//! `virt-core` as [`Event::DomainOther`] with typed parameters named after the message's
//! fields (`offset`, `action`, `devAlias`, …); the table below is the one place that knows
//! each message's layout.

use virt_core::{DomainRef, Event, NetworkRef, SecretRef, StoragePoolRef, TypedParam, TypedValue};

use crate::protocol::remote_proc as p;
use crate::xdr::{Decoder, Xdr, XdrError};

/// `virDomainEventID` values (`VIR_DOMAIN_EVENT_ID_*`); libvirt 9.0 defines 0..=26.
pub const DOMAIN_EVENT_ID_LAST: i32 = 26;

/// The type of one field of an event message after the domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Str,
    OptStr,
    Int,
    UInt,
    LLong,
    ULLong,
    Params,
}

/// How one domain event id travels.
struct DomainEventShape {
    event_id: i32,
    callback_proc: u32,
    legacy_proc: Option<u32>,
    /// The PM events put a `reason` between callbackID and the domain in the callback form
    /// (and have no reason at all in the legacy form).
    reason_first: bool,
    fields: &'static [(&'static str, Field)],
}

use Field::*;

const DOMAIN_EVENTS: &[DomainEventShape] = &[
    DomainEventShape {
        event_id: 2,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_RTC_CHANGE,
        legacy_proc: Some(p::DOMAIN_EVENT_RTC_CHANGE),
        reason_first: false,
        fields: &[("offset", LLong)],
    },
    DomainEventShape {
        event_id: 3,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_WATCHDOG,
        legacy_proc: Some(p::DOMAIN_EVENT_WATCHDOG),
        reason_first: false,
        fields: &[("action", Int)],
    },
    DomainEventShape {
        event_id: 4,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_IO_ERROR,
        legacy_proc: Some(p::DOMAIN_EVENT_IO_ERROR),
        reason_first: false,
        fields: &[("srcPath", Str), ("devAlias", Str), ("action", Int)],
    },
    DomainEventShape {
        event_id: 6,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_IO_ERROR_REASON,
        legacy_proc: Some(p::DOMAIN_EVENT_IO_ERROR_REASON),
        reason_first: false,
        fields: &[
            ("srcPath", Str),
            ("devAlias", Str),
            ("action", Int),
            ("reason", Str),
        ],
    },
    DomainEventShape {
        event_id: 7,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_CONTROL_ERROR,
        legacy_proc: Some(p::DOMAIN_EVENT_CONTROL_ERROR),
        reason_first: false,
        fields: &[],
    },
    DomainEventShape {
        event_id: 8,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_BLOCK_JOB,
        legacy_proc: Some(p::DOMAIN_EVENT_BLOCK_JOB),
        reason_first: false,
        fields: &[("path", Str), ("type", Int), ("status", Int)],
    },
    DomainEventShape {
        event_id: 9,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_DISK_CHANGE,
        legacy_proc: Some(p::DOMAIN_EVENT_DISK_CHANGE),
        reason_first: false,
        fields: &[
            ("oldSrcPath", OptStr),
            ("newSrcPath", OptStr),
            ("devAlias", Str),
            ("reason", Int),
        ],
    },
    DomainEventShape {
        event_id: 10,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_TRAY_CHANGE,
        legacy_proc: Some(p::DOMAIN_EVENT_TRAY_CHANGE),
        reason_first: false,
        fields: &[("devAlias", Str), ("reason", Int)],
    },
    DomainEventShape {
        event_id: 11,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_PMWAKEUP,
        legacy_proc: Some(p::DOMAIN_EVENT_PMWAKEUP),
        reason_first: true,
        fields: &[],
    },
    DomainEventShape {
        event_id: 12,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_PMSUSPEND,
        legacy_proc: Some(p::DOMAIN_EVENT_PMSUSPEND),
        reason_first: true,
        fields: &[],
    },
    DomainEventShape {
        event_id: 13,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_BALLOON_CHANGE,
        legacy_proc: Some(p::DOMAIN_EVENT_BALLOON_CHANGE),
        reason_first: false,
        fields: &[("actual", ULLong)],
    },
    DomainEventShape {
        event_id: 14,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_PMSUSPEND_DISK,
        legacy_proc: Some(p::DOMAIN_EVENT_PMSUSPEND_DISK),
        reason_first: true,
        fields: &[],
    },
    DomainEventShape {
        event_id: 15,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_DEVICE_REMOVED,
        legacy_proc: Some(p::DOMAIN_EVENT_DEVICE_REMOVED),
        reason_first: false,
        fields: &[("devAlias", Str)],
    },
    DomainEventShape {
        event_id: 16,
        callback_proc: p::DOMAIN_EVENT_BLOCK_JOB_2,
        legacy_proc: None,
        reason_first: false,
        fields: &[("dst", Str), ("type", Int), ("status", Int)],
    },
    DomainEventShape {
        event_id: 17,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_TUNABLE,
        legacy_proc: None,
        reason_first: false,
        fields: &[("params", Params)],
    },
    DomainEventShape {
        event_id: 18,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_AGENT_LIFECYCLE,
        legacy_proc: None,
        reason_first: false,
        fields: &[("state", Int), ("reason", Int)],
    },
    DomainEventShape {
        event_id: 19,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_DEVICE_ADDED,
        legacy_proc: None,
        reason_first: false,
        fields: &[("devAlias", Str)],
    },
    DomainEventShape {
        event_id: 20,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_MIGRATION_ITERATION,
        legacy_proc: None,
        reason_first: false,
        fields: &[("iteration", Int)],
    },
    DomainEventShape {
        event_id: 21,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_JOB_COMPLETED,
        legacy_proc: None,
        reason_first: false,
        fields: &[("params", Params)],
    },
    DomainEventShape {
        event_id: 22,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_DEVICE_REMOVAL_FAILED,
        legacy_proc: None,
        reason_first: false,
        fields: &[("devAlias", Str)],
    },
    DomainEventShape {
        event_id: 23,
        callback_proc: p::DOMAIN_EVENT_CALLBACK_METADATA_CHANGE,
        legacy_proc: None,
        reason_first: false,
        fields: &[("type", Int), ("nsuri", OptStr)],
    },
    DomainEventShape {
        event_id: 24,
        callback_proc: p::DOMAIN_EVENT_BLOCK_THRESHOLD,
        legacy_proc: None,
        reason_first: false,
        fields: &[
            ("dev", Str),
            ("path", OptStr),
            ("threshold", ULLong),
            ("excess", ULLong),
        ],
    },
    DomainEventShape {
        event_id: 25,
        callback_proc: p::DOMAIN_EVENT_MEMORY_FAILURE,
        legacy_proc: None,
        reason_first: false,
        fields: &[("recipient", Int), ("action", Int), ("flags", UInt)],
    },
    DomainEventShape {
        event_id: 26,
        callback_proc: p::DOMAIN_EVENT_MEMORY_DEVICE_SIZE_CHANGE,
        legacy_proc: None,
        reason_first: false,
        fields: &[("alias", Str), ("size", ULLong)],
    },
];

fn shape_for_id(event_id: i32) -> Option<&'static DomainEventShape> {
    DOMAIN_EVENTS.iter().find(|s| s.event_id == event_id)
}

/// The `virDomainEventID` an event belongs to, for matching registrations.
pub fn domain_event_id(event: &Event) -> Option<i32> {
    match event {
        Event::DomainLifecycle { .. } => Some(0),
        Event::DomainReboot { .. } => Some(1),
        Event::DomainOther { event_id, .. } => Some(*event_id),
        _ => None,
    }
}

fn param<'a>(params: &'a [TypedParam], name: &str) -> Option<&'a TypedValue> {
    params.iter().find(|p| p.field == name).map(|p| &p.value)
}

fn encode_fields(fields: &[(&str, Field)], params: &[TypedParam], out: &mut Vec<u8>) {
    for (name, kind) in fields {
        let value = param(params, name);
        match kind {
            Str => match value {
                Some(TypedValue::String(s)) => s.encode(out),
                _ => String::new().encode(out),
            },
            OptStr => match value {
                Some(TypedValue::String(s)) => Some(s.clone()).encode(out),
                _ => None::<String>.encode(out),
            },
            Int => (as_i64(value).unwrap_or(0) as i32).encode(out),
            UInt => (as_i64(value).unwrap_or(0) as u32).encode(out),
            LLong => as_i64(value).unwrap_or(0).encode(out),
            ULLong => match value {
                Some(TypedValue::ULLong(v)) => v.encode(out),
                other => (as_i64(other).unwrap_or(0) as u64).encode(out),
            },
            // The tunable and job-completed events carry the parameters themselves.
            Params => params.to_vec().encode(out),
        }
    }
}

fn as_i64(value: Option<&TypedValue>) -> Option<i64> {
    Some(match value? {
        TypedValue::Int(v) => *v as i64,
        TypedValue::UInt(v) => *v as i64,
        TypedValue::LLong(v) => *v,
        TypedValue::ULLong(v) => *v as i64,
        TypedValue::Boolean(v) => *v as i64,
        TypedValue::Double(v) => *v as i64,
        TypedValue::String(_) => return None,
    })
}

fn decode_fields(
    fields: &[(&str, Field)],
    input: &mut Decoder<'_>,
) -> Result<Vec<TypedParam>, XdrError> {
    let mut params = Vec::new();
    for (name, kind) in fields {
        let value = match kind {
            Str => TypedValue::String(String::decode(input)?),
            OptStr => match Option::<String>::decode(input)? {
                Some(s) => TypedValue::String(s),
                None => continue,
            },
            Int => TypedValue::Int(i32::decode(input)?),
            UInt => TypedValue::UInt(u32::decode(input)?),
            LLong => TypedValue::LLong(i64::decode(input)?),
            ULLong => TypedValue::ULLong(u64::decode(input)?),
            Params => {
                params.extend(Vec::<TypedParam>::decode(input)?);
                continue;
            }
        };
        params.push(TypedParam::new(*name, value));
    }
    Ok(params)
}

/// An event encoded as a MESSAGE payload: the procedure and the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedEvent {
    pub procedure: u32,
    pub payload: Vec<u8>,
}

/// Encodes a domain event for a callback registration (`callback_id`) or, with `None`, in the
/// legacy form. `None` when the event has no encoding in that form.
pub fn encode_domain_event(event: &Event, callback_id: Option<i32>) -> Option<EncodedEvent> {
    let mut out = Vec::with_capacity(64);
    let procedure = match event {
        Event::DomainLifecycle { dom, event, detail } => {
            if let Some(id) = callback_id {
                id.encode(&mut out);
            }
            dom.encode(&mut out);
            event.encode(&mut out);
            detail.encode(&mut out);
            if callback_id.is_some() {
                p::DOMAIN_EVENT_CALLBACK_LIFECYCLE
            } else {
                p::DOMAIN_EVENT_LIFECYCLE
            }
        }
        Event::DomainReboot { dom } => {
            if let Some(id) = callback_id {
                id.encode(&mut out);
            }
            dom.encode(&mut out);
            if callback_id.is_some() {
                p::DOMAIN_EVENT_CALLBACK_REBOOT
            } else {
                p::DOMAIN_EVENT_REBOOT
            }
        }
        Event::DomainOther {
            dom,
            event_id,
            params,
        } => {
            let shape = shape_for_id(*event_id)?;
            match callback_id {
                Some(id) => {
                    id.encode(&mut out);
                    if shape.reason_first {
                        (as_i64(param(params, "reason")).unwrap_or(0) as i32).encode(&mut out);
                    }
                    dom.encode(&mut out);
                    encode_fields(shape.fields, params, &mut out);
                    shape.callback_proc
                }
                None => {
                    let legacy = shape.legacy_proc?;
                    dom.encode(&mut out);
                    encode_fields(shape.fields, params, &mut out);
                    legacy
                }
            }
        }
        _ => return None,
    };
    Some(EncodedEvent {
        procedure,
        payload: out,
    })
}

/// Encodes a network, storage pool, node device or secret event for callback registration
/// `callback_id`.
pub fn encode_object_event(event: &Event, callback_id: i32) -> Option<EncodedEvent> {
    let mut out = Vec::with_capacity(64);
    callback_id.encode(&mut out);
    let procedure = match event {
        Event::NetworkLifecycle { net, event, detail } => {
            net.encode(&mut out);
            event.encode(&mut out);
            detail.encode(&mut out);
            p::NETWORK_EVENT_LIFECYCLE
        }
        Event::PoolLifecycle {
            pool,
            event,
            detail,
        } => {
            pool.encode(&mut out);
            event.encode(&mut out);
            detail.encode(&mut out);
            p::STORAGE_POOL_EVENT_LIFECYCLE
        }
        Event::PoolRefresh { pool } => {
            pool.encode(&mut out);
            p::STORAGE_POOL_EVENT_REFRESH
        }
        // `remote_nonnull_node_device` is the device's name.
        Event::NodeDeviceLifecycle { dev, event, detail } => {
            dev.encode(&mut out);
            event.encode(&mut out);
            detail.encode(&mut out);
            p::NODE_DEVICE_EVENT_LIFECYCLE
        }
        Event::NodeDeviceUpdate { dev } => {
            dev.encode(&mut out);
            p::NODE_DEVICE_EVENT_UPDATE
        }
        Event::SecretLifecycle {
            secret,
            event,
            detail,
        } => {
            secret.encode(&mut out);
            event.encode(&mut out);
            detail.encode(&mut out);
            p::SECRET_EVENT_LIFECYCLE
        }
        Event::SecretValueChanged { secret } => {
            secret.encode(&mut out);
            p::SECRET_EVENT_VALUE_CHANGED
        }
        _ => return None,
    };
    Some(EncodedEvent {
        procedure,
        payload: out,
    })
}

/// A decoded event message: the callbackID it names (absent in legacy messages) and the event.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedEvent {
    pub callback_id: Option<i32>,
    pub event: Event,
}

/// Decodes the MESSAGE payload of REMOTE procedure `procedure`; `Ok(None)` for events rvirt
/// does not model.
pub fn decode_event(procedure: u32, payload: &[u8]) -> Result<Option<DecodedEvent>, XdrError> {
    let mut input = Decoder::new(payload);
    let input = &mut input;
    let decoded = match procedure {
        p::DOMAIN_EVENT_CALLBACK_LIFECYCLE | p::DOMAIN_EVENT_LIFECYCLE => {
            let callback_id = if procedure == p::DOMAIN_EVENT_LIFECYCLE {
                None
            } else {
                Some(i32::decode(input)?)
            };
            let dom = DomainRef::decode(input)?;
            let event = i32::decode(input)?;
            let detail = i32::decode(input)?;
            DecodedEvent {
                callback_id,
                event: Event::DomainLifecycle { dom, event, detail },
            }
        }
        p::DOMAIN_EVENT_CALLBACK_REBOOT | p::DOMAIN_EVENT_REBOOT => {
            let callback_id = if procedure == p::DOMAIN_EVENT_REBOOT {
                None
            } else {
                Some(i32::decode(input)?)
            };
            DecodedEvent {
                callback_id,
                event: Event::DomainReboot {
                    dom: DomainRef::decode(input)?,
                },
            }
        }
        p::NETWORK_EVENT_LIFECYCLE => {
            let callback_id = Some(i32::decode(input)?);
            let net = NetworkRef::decode(input)?;
            let event = i32::decode(input)?;
            let detail = i32::decode(input)?;
            DecodedEvent {
                callback_id,
                event: Event::NetworkLifecycle { net, event, detail },
            }
        }
        p::STORAGE_POOL_EVENT_LIFECYCLE => {
            let callback_id = Some(i32::decode(input)?);
            let pool = StoragePoolRef::decode(input)?;
            let event = i32::decode(input)?;
            let detail = i32::decode(input)?;
            DecodedEvent {
                callback_id,
                event: Event::PoolLifecycle {
                    pool,
                    event,
                    detail,
                },
            }
        }
        p::STORAGE_POOL_EVENT_REFRESH => {
            let callback_id = Some(i32::decode(input)?);
            DecodedEvent {
                callback_id,
                event: Event::PoolRefresh {
                    pool: StoragePoolRef::decode(input)?,
                },
            }
        }
        p::NODE_DEVICE_EVENT_LIFECYCLE => {
            let callback_id = Some(i32::decode(input)?);
            let dev = String::decode(input)?;
            let event = i32::decode(input)?;
            let detail = i32::decode(input)?;
            DecodedEvent {
                callback_id,
                event: Event::NodeDeviceLifecycle { dev, event, detail },
            }
        }
        p::NODE_DEVICE_EVENT_UPDATE => {
            let callback_id = Some(i32::decode(input)?);
            DecodedEvent {
                callback_id,
                event: Event::NodeDeviceUpdate {
                    dev: String::decode(input)?,
                },
            }
        }
        p::SECRET_EVENT_LIFECYCLE => {
            let callback_id = Some(i32::decode(input)?);
            let secret = SecretRef::decode(input)?;
            let event = i32::decode(input)?;
            let detail = i32::decode(input)?;
            DecodedEvent {
                callback_id,
                event: Event::SecretLifecycle {
                    secret,
                    event,
                    detail,
                },
            }
        }
        p::SECRET_EVENT_VALUE_CHANGED => {
            let callback_id = Some(i32::decode(input)?);
            DecodedEvent {
                callback_id,
                event: Event::SecretValueChanged {
                    secret: SecretRef::decode(input)?,
                },
            }
        }
        other => {
            let (shape, callback) = match DOMAIN_EVENTS.iter().find(|s| s.callback_proc == other) {
                Some(shape) => (shape, true),
                None => match DOMAIN_EVENTS.iter().find(|s| s.legacy_proc == Some(other)) {
                    Some(shape) => (shape, false),
                    None => return Ok(None),
                },
            };
            let callback_id = if callback {
                Some(i32::decode(input)?)
            } else {
                None
            };
            let reason = if callback && shape.reason_first {
                Some(i32::decode(input)?)
            } else {
                None
            };
            let dom = DomainRef::decode(input)?;
            let mut params = decode_fields(shape.fields, input)?;
            if let Some(reason) = reason {
                params.push(TypedParam::new("reason", TypedValue::Int(reason)));
            }
            DecodedEvent {
                callback_id,
                event: Event::DomainOther {
                    dom,
                    event_id: shape.event_id,
                    params,
                },
            }
        }
    };
    Ok(Some(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use virt_core::Uuid;

    fn dom() -> DomainRef {
        DomainRef {
            name: "probe1".into(),
            uuid: virt_core::parse_uuid("11111111-2222-3333-4444-555555555555").expect("uuid"),
            id: -1,
        }
    }

    #[test]
    fn lifecycle_matches_the_captured_frame() {
        let event = Event::DomainLifecycle {
            dom: dom(),
            event: 0,
            detail: 0,
        };
        let encoded = encode_domain_event(&event, Some(0)).expect("encodes");
        assert_eq!(encoded.procedure, 318);
        let mut want = vec![0, 0, 0, 0, 0, 0, 0, 6];
        want.extend_from_slice(b"probe1\0\0");
        want.extend_from_slice(&[
            0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x44, 0x44, 0x55, 0x55, 0x55, 0x55,
            0x55, 0x55,
        ]);
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(encoded.payload, want);
        let decoded = decode_event(318, &encoded.payload)
            .expect("decodes")
            .expect("known");
        assert_eq!(
            decoded,
            DecodedEvent {
                callback_id: Some(0),
                event
            }
        );
    }

    #[test]
    fn other_domain_events_round_trip() {
        let cases = [
            (2, vec![TypedParam::new("offset", TypedValue::LLong(-5))]),
            (12, vec![TypedParam::new("reason", TypedValue::Int(0))]),
            (
                19,
                vec![TypedParam::new(
                    "devAlias",
                    TypedValue::String("net0".into()),
                )],
            ),
            (
                23,
                vec![
                    TypedParam::new("type", TypedValue::Int(2)),
                    TypedParam::new("nsuri", TypedValue::String("http://x".into())),
                ],
            ),
            (
                17,
                vec![TypedParam::new(
                    "cputune.vcpu_quota",
                    TypedValue::LLong(100),
                )],
            ),
        ];
        for (event_id, params) in cases {
            let event = Event::DomainOther {
                dom: dom(),
                event_id,
                params,
            };
            for callback in [Some(7), None] {
                let Some(encoded) = encode_domain_event(&event, callback) else {
                    assert!(
                        callback.is_none(),
                        "event {event_id} must have a callback form"
                    );
                    continue;
                };
                let decoded = decode_event(encoded.procedure, &encoded.payload)
                    .expect("decodes")
                    .expect("known");
                assert_eq!(decoded.callback_id, callback);
                if callback.is_some() || event_id != 12 {
                    assert_eq!(
                        decoded.event, event,
                        "event {event_id} via {}",
                        encoded.procedure
                    );
                }
            }
        }
    }

    #[test]
    fn object_events_round_trip() {
        let net = NetworkRef {
            name: "default".into(),
            uuid: Uuid::nil(),
        };
        let event = Event::NetworkLifecycle {
            net,
            event: 2,
            detail: 0,
        };
        let encoded = encode_object_event(&event, 3).expect("encodes");
        assert_eq!(encoded.procedure, 315);
        assert_eq!(
            decode_event(315, &encoded.payload).expect("ok"),
            Some(DecodedEvent {
                callback_id: Some(3),
                event
            })
        );
    }

    #[test]
    fn secret_and_node_device_events_travel_as_libvirts_messages() {
        let secret = SecretRef {
            uuid: Uuid::nil(),
            usage_type: 1,
            usage_id: "/var/lib/libvirt/images/a.luks".into(),
        };
        let cases = [
            (
                Event::SecretLifecycle {
                    secret: secret.clone(),
                    event: 1,
                    detail: 0,
                },
                382,
            ),
            (Event::SecretValueChanged { secret }, 383),
            (
                Event::NodeDeviceLifecycle {
                    dev: "net_eth0_52_54_00_12_34_56".into(),
                    event: 0,
                    detail: 0,
                },
                376,
            ),
            (
                Event::NodeDeviceUpdate {
                    dev: "computer".into(),
                },
                377,
            ),
        ];
        for (event, procedure) in cases {
            let encoded = encode_object_event(&event, 9).expect("encodes");
            assert_eq!(encoded.procedure, procedure);
            // The callback id, then the object as its `remote_nonnull_*` struct.
            assert_eq!(encoded.payload[..4], [0, 0, 0, 9]);
            assert_eq!(
                decode_event(procedure, &encoded.payload).expect("ok"),
                Some(DecodedEvent {
                    callback_id: Some(9),
                    event
                })
            );
        }
    }
}
