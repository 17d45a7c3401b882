//! A secret's value at rest: sealed with AES-256-GCM under the host's key (libvirt's
//! `secrets-encryption-key`), bound to the secret's UUID, and written as base64 text (the
//! `UUID.base64` file libvirt keeps beside `UUID.xml`).
//!
//! The text is `rvirt-aes256gcm:` then the base64 of a fresh 12-byte nonce followed by the
//! ciphertext and its tag. The UUID is the associated data: a value file copied onto another
//! secret does not open. Pure: tested natively.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use virt_core::{Error, ErrorDomain, ErrorNumber};

/// The key's length: AES-256.
pub const KEY_LEN: usize = 32;
/// GCM's nonce length.
pub const NONCE_LEN: usize = 12;
/// Names the format, so that a later one can be told apart.
const PREFIX: &str = "rvirt-aes256gcm:";

fn corrupt(uuid: &str, why: &str) -> Error {
    Error::new(
        ErrorNumber::INTERNAL_ERROR,
        ErrorDomain::SECRET,
        format!("cannot decrypt the value of secret '{uuid}': {why}"),
    )
}

/// `value` sealed for secret `uuid` under `key`, with `nonce` (fresh for every seal).
pub fn seal(key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN], uuid: &str, value: &[u8]) -> String {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let payload = Payload {
        msg: value,
        aad: uuid.as_bytes(),
    };
    // Encryption fails only for a message longer than GCM's 64 GiB limit, which the wire's
    // 65,536-byte secret value limit rules out.
    let sealed = cipher
        .encrypt(Nonce::from_slice(nonce), payload)
        .unwrap_or_default();
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    format!("{PREFIX}{}", STANDARD.encode(bytes))
}

/// The value `text` holds for secret `uuid`; an error if it was not sealed under `key` for
/// that secret, or was changed since.
pub fn open(key: &[u8; KEY_LEN], uuid: &str, text: &str) -> Result<Vec<u8>, Error> {
    let encoded = text
        .trim()
        .strip_prefix(PREFIX)
        .ok_or_else(|| corrupt(uuid, "unknown format"))?;
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| corrupt(uuid, "invalid base64"))?;
    if bytes.len() < NONCE_LEN {
        return Err(corrupt(uuid, "too short"));
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: uuid.as_bytes(),
            },
        )
        .map_err(|_| corrupt(uuid, "wrong key or tampered file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; KEY_LEN] = [7; KEY_LEN];
    const NONCE: [u8; NONCE_LEN] = [1; NONCE_LEN];
    const UUID: &str = "c3b0b0e2-5f6a-4b8e-9c1d-2e3f4a5b6c7d";

    #[test]
    fn a_sealed_value_opens_and_does_not_show_its_plaintext() {
        let text = seal(&KEY, &NONCE, UUID, b"hunter2 hunter2");
        assert!(text.starts_with(PREFIX));
        assert!(!text.contains("hunter2"));
        assert!(!STANDARD
            .decode(&text[PREFIX.len()..])
            .expect("base64")
            .windows(7)
            .any(|window| window == b"hunter2"));
        assert_eq!(open(&KEY, UUID, &text).expect("opens"), b"hunter2 hunter2");
    }

    #[test]
    fn another_key_another_secret_or_a_changed_byte_do_not_open() {
        let text = seal(&KEY, &NONCE, UUID, b"value");
        let message = |result: Result<Vec<u8>, Error>| result.expect_err("refused").to_string();
        assert!(message(open(&[8; KEY_LEN], UUID, &text)).contains("wrong key"));
        let other = "00000000-0000-0000-0000-000000000001";
        assert!(message(open(&KEY, other, &text)).contains("wrong key"));
        let mut bytes = STANDARD.decode(&text[PREFIX.len()..]).expect("base64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let changed = format!("{PREFIX}{}", STANDARD.encode(bytes));
        assert!(message(open(&KEY, UUID, &changed)).contains("tampered"));
        assert!(message(open(&KEY, UUID, "aGVsbG8=")).contains("unknown format"));
    }

    #[test]
    fn an_empty_value_is_a_value() {
        let text = seal(&KEY, &NONCE, UUID, b"");
        assert_eq!(open(&KEY, UUID, &text).expect("opens"), b"");
    }
}
