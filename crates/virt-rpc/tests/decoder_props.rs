//! Properties of the packet decoder over generated input (the same entry point the
//! `rpc_packet` cargo-fuzz target drives): no input makes it panic, frames survive any way
//! the byte stream is cut, and values survive an encode/decode round trip.

use proptest::prelude::*;
use virt_core::{DomainRef, TypedParam, TypedValue, Uuid};
use virt_rpc::frame::{
    encode_frame, FrameBuffer, Header, MessageType, Status, KEEPALIVE_PROGRAM, QEMU_PROGRAM,
    REMOTE_PROGRAM,
};
use virt_rpc::xdr::{from_bytes, to_bytes};

fn header() -> impl Strategy<Value = Header> {
    (
        prop_oneof![
            Just(REMOTE_PROGRAM),
            Just(QEMU_PROGRAM),
            Just(KEEPALIVE_PROGRAM),
            any::<u32>()
        ],
        prop_oneof![Just(1u32), any::<u32>()],
        prop_oneof![0..450i32, any::<i32>()],
        0..8i32,
        any::<u32>(),
        0..3i32,
    )
        .prop_map(|(prog, vers, procedure, kind, serial, status)| Header {
            prog,
            vers,
            procedure,
            kind: MessageType(kind),
            serial,
            status: Status(status),
        })
}

fn typed_value() -> impl Strategy<Value = TypedValue> {
    prop_oneof![
        any::<i32>().prop_map(TypedValue::Int),
        any::<u32>().prop_map(TypedValue::UInt),
        any::<i64>().prop_map(TypedValue::LLong),
        any::<u64>().prop_map(TypedValue::ULLong),
        any::<f64>()
            .prop_filter("NaN is never equal to itself", |v| !v.is_nan())
            .prop_map(TypedValue::Double),
        any::<bool>().prop_map(TypedValue::Boolean),
        ".{0,40}".prop_map(TypedValue::String),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        virt_rpc::decode_untrusted(&bytes);
    }

    /// Well-framed messages with arbitrary payloads exercise every typed decoder.
    #[test]
    fn arbitrary_payloads_of_real_procedures_never_panic(
        frames in proptest::collection::vec((header(), proptest::collection::vec(any::<u8>(), 0..512)), 1..8)
    ) {
        let mut stream = Vec::new();
        for (header, payload) in &frames {
            // A descriptor-carrying frame needs its count word.
            let mut header = *header;
            if header.kind.carries_fds() {
                header.kind = MessageType::CALL;
            }
            stream.extend(encode_frame(&header, |out| out.extend_from_slice(payload)));
        }
        prop_assert_eq!(virt_rpc::decode_untrusted(&stream), frames.len());
    }

    #[test]
    fn frames_survive_any_cut_of_the_stream(
        frames in proptest::collection::vec((header(), proptest::collection::vec(any::<u8>(), 0..300)), 1..6),
        cuts in proptest::collection::vec(1usize..200, 1..40),
    ) {
        let mut stream = Vec::new();
        let mut want = Vec::new();
        for (header, payload) in frames {
            let mut header = header;
            if header.kind.carries_fds() {
                header.kind = MessageType::MESSAGE;
            }
            stream.extend(encode_frame(&header, |out| out.extend_from_slice(&payload)));
            want.push((header, payload));
        }
        let mut buffer = FrameBuffer::new();
        let mut got = Vec::new();
        let mut at = 0;
        let mut cut = cuts.iter().cycle();
        while at < stream.len() {
            let end = (at + cut.next().copied().unwrap_or(1)).min(stream.len());
            buffer.extend(&stream[at..end]);
            at = end;
            while let Some(frame) = buffer.next_frame().expect("valid stream") {
                got.push((frame.header, frame.payload));
            }
        }
        prop_assert_eq!(got, want);
        prop_assert!(!buffer.has_partial_frame());
    }

    #[test]
    fn domain_references_round_trip(name in ".{0,64}", uuid in any::<u128>(), id in any::<i32>()) {
        let dom = DomainRef { name, uuid: Uuid::from_u128(uuid), id };
        prop_assert_eq!(from_bytes::<DomainRef>(&to_bytes(&dom)), Ok(dom));
    }

    #[test]
    fn typed_parameters_round_trip(params in proptest::collection::vec((".{0,20}", typed_value()), 0..10)) {
        let params: Vec<TypedParam> = params.into_iter().map(|(field, value)| TypedParam::new(field, value)).collect();
        prop_assert_eq!(from_bytes::<Vec<TypedParam>>(&to_bytes(&params)), Ok(params));
    }

    #[test]
    fn optional_strings_round_trip(values in proptest::collection::vec(proptest::option::of(".{0,30}"), 0..10)) {
        prop_assert_eq!(from_bytes::<Vec<Option<String>>>(&to_bytes(&values)), Ok(values));
    }
}
