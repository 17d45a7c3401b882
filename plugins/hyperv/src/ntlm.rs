//! What a WinRM server's 401 offers, and NTLMv2's messages as HTTP carries them (pure).
//!
//! WinRM has Basic off by default and offers `Negotiate` (SPNEGO), which takes raw NTLM
//! messages as well as Kerberos tokens, and sometimes `NTLM` itself: the client sends a
//! Negotiate message, the server's 401 carries its Challenge, the client answers with an
//! Authenticate message, all on one connection (see `transport`). The messages and the
//! NTLMv2 response are `ntlmclient`'s (RustCrypto's MD4, MD5 and HMAC underneath); this
//! module picks the flags, the user's domain and the timestamp.

use base64::Engine;
use ntlmclient::{
    AuthenticateMessage, ChallengeMessage, Credentials as NtlmCredentials, Flags, Message,
    NegotiateMessage, TargetInfoType,
};
use serde::{Deserialize, Serialize};
use virt_core::{Error, ErrorDomain, ErrorNumber};

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The schemes a 401's `WWW-Authenticate` headers offer that the driver speaks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Offer {
    pub basic: bool,
    pub negotiate: bool,
    pub ntlm: bool,
}

impl Offer {
    /// Reads every `WWW-Authenticate` header (a header may list several challenges).
    pub fn read(headers: &[(String, String)]) -> Offer {
        let mut offer = Offer::default();
        let values = headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("www-authenticate"));
        for (_, value) in values {
            for challenge in value.split(',') {
                let scheme = challenge.split_whitespace().next().unwrap_or_default();
                match scheme.to_ascii_lowercase().as_str() {
                    "basic" => offer.basic = true,
                    "negotiate" => offer.negotiate = true,
                    "ntlm" => offer.ntlm = true,
                    _ => {}
                }
            }
        }
        offer
    }

    /// The HTTP scheme NTLM's messages travel in: `Negotiate` where offered, as WinRM does,
    /// else `NTLM`.
    pub fn ntlm_scheme(&self) -> Option<&'static str> {
        if self.negotiate {
            Some("Negotiate")
        } else if self.ntlm {
            Some("NTLM")
        } else {
            None
        }
    }
}

/// An NTLM login: the scheme it travels in and the user's credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    pub scheme: String,
    pub domain: String,
    pub user: String,
    pub password: String,
}

impl Login {
    /// `DOMAIN\user` names its domain; a bare name (or `user@domain`, which Windows
    /// resolves itself) has none.
    pub fn new(scheme: &str, user: &str, password: &str) -> Login {
        let (domain, user) = match user.split_once('\\') {
            Some((domain, user)) => (domain, user),
            None => ("", user),
        };
        Login {
            scheme: scheme.to_string(),
            domain: domain.to_string(),
            user: user.to_string(),
            password: password.to_string(),
        }
    }

    /// The user as Windows writes it, for messages.
    pub fn who(&self) -> String {
        if self.domain.is_empty() {
            self.user.clone()
        } else {
            format!("{}\\{}", self.domain, self.user)
        }
    }

    /// The first `Authorization` header: a Negotiate message.
    pub fn negotiate(&self) -> String {
        let message = Message::Negotiate(NegotiateMessage {
            flags: requested_flags(),
            supplied_domain: String::new(),
            supplied_workstation: String::new(),
            os_version: Default::default(),
        });
        // Storing fails only for OEM strings, and these are empty and Unicode.
        let bytes = message.to_bytes().unwrap_or_default();
        format!("{} {}", self.scheme, BASE64.encode(bytes))
    }

    /// The second `Authorization` header: the Authenticate message answering the Challenge
    /// in the 401's `headers`; `now` is the NTLM time (100 ns since 1601) used when the
    /// server sent none.
    pub fn authenticate(&self, headers: &[(String, String)], now: i64) -> Result<String, Error> {
        let challenge = self.challenge(headers)?;
        let target_info: Vec<u8> = challenge
            .target_information
            .iter()
            .flat_map(|entry| entry.to_bytes())
            .collect();
        // The server's clock, when it says it, as MS-NLMP asks: no skew to reject.
        let time = challenge
            .target_information
            .iter()
            .find(|entry| entry.entry_type == TargetInfoType::Timestamp)
            .and_then(|entry| <[u8; 8]>::try_from(entry.data.as_slice()).ok())
            .map(i64::from_le_bytes)
            .unwrap_or(now);
        let credentials = NtlmCredentials {
            username: self.user.clone(),
            password: self.password.clone(),
            domain: self.domain.clone(),
        };
        let response = ntlmclient::respond_challenge_ntlm_v2(
            challenge.challenge,
            &target_info,
            time,
            &credentials,
        );
        // No session key: nothing is signed or sealed (WinRM over https, or with
        // AllowUnencrypted over http), so none is exchanged.
        let flags = challenge.flags & requested_flags();
        let message = Message::Authenticate(AuthenticateMessage {
            lm_response: response.lm_response,
            ntlm_response: response.ntlm_response,
            domain_name: self.domain.clone(),
            user_name: self.user.clone(),
            workstation_name: String::new(),
            session_key: Vec::new(),
            flags: flags | Flags::NEGOTIATE_UNICODE,
            os_version: Default::default(),
        });
        let bytes = message
            .to_bytes()
            .map_err(|e| unsupported(format!("cannot write the NTLM Authenticate message: {e}")))?;
        Ok(format!("{} {}", self.scheme, BASE64.encode(bytes)))
    }

    fn challenge(&self, headers: &[(String, String)]) -> Result<ChallengeMessage, Error> {
        let token = headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("www-authenticate"))
            .flat_map(|(_, value)| value.split(','))
            .find_map(|challenge| {
                let (scheme, token) = challenge.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case(&self.scheme)
                    .then(|| token.trim())
            })
            .ok_or_else(|| {
                unsupported(format!(
                    "the server's 401 carries no {} challenge",
                    self.scheme
                ))
            })?;
        let bytes = BASE64
            .decode(token)
            .map_err(|e| unsupported(format!("the server's NTLM challenge is not base64: {e}")))?;
        match Message::try_from(bytes.as_slice()) {
            Ok(Message::Challenge(challenge)) => Ok(challenge),
            Ok(_) => Err(unsupported(
                "the server answered with an NTLM message that is not a Challenge".to_string(),
            )),
            // A Kerberos-only SPNEGO answer lands here too.
            Err(e) => Err(unsupported(format!(
                "the server's challenge is not an NTLM message: {e}"
            ))),
        }
    }
}

fn unsupported(message: String) -> Error {
    Error::new(ErrorNumber::AUTH_FAILED, ErrorDomain::HYPERV, message)
}

/// What the client asks for: Unicode, NTLM with extended session security and the target
/// information NTLMv2 needs. No signing or sealing (see [`Login::authenticate`]).
fn requested_flags() -> Flags {
    Flags::NEGOTIATE_UNICODE
        | Flags::REQUEST_TARGET
        | Flags::NEGOTIATE_NTLM
        | Flags::NEGOTIATE_ALWAYS_SIGN
        | Flags::NEGOTIATE_NTLM2_KEY
        | Flags::NEGOTIATE_TARGET_INFO
        | Flags::NEGOTIATE_128BIT
}

/// The NTLM time now: 100 ns intervals since 1601-01-01.
pub fn now() -> i64 {
    ntlmclient::get_ntlm_time()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use ntlmclient::TargetInfoEntry;

    /// A Challenge message as MS-NLMP 2.2.1.2 lays it out (ntlmclient writes only the
    /// client's messages correctly), with the target name "DOMAIN".
    fn challenge_message(flags: Flags, challenge: [u8; 8], info: &[TargetInfoEntry]) -> Vec<u8> {
        let name: Vec<u8> = "DOMAIN".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let info: Vec<u8> = info.iter().flat_map(TargetInfoEntry::to_bytes).collect();
        let field = |len: usize, offset: usize| {
            let mut bytes = (len as u16).to_le_bytes().repeat(2);
            bytes.extend_from_slice(&(offset as u32).to_le_bytes());
            bytes
        };
        let mut message = b"NTLMSSP\0".to_vec();
        message.extend_from_slice(&2u32.to_le_bytes());
        message.extend(field(name.len(), 56));
        message.extend_from_slice(&flags.bits().to_le_bytes());
        message.extend_from_slice(&challenge);
        message.extend_from_slice(&[0; 8]);
        message.extend(field(info.len(), 56 + name.len()));
        message.extend_from_slice(&[10, 0, 0x63, 0x45, 0, 0, 0, 15]);
        message.extend(name);
        message.extend(info);
        message
    }

    fn headers(values: &[&str]) -> Vec<(String, String)> {
        values
            .iter()
            .map(|v| ("WWW-Authenticate".to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn offers_are_read_from_every_header_and_list() {
        let winrm = Offer::read(&headers(&["Negotiate", "Kerberos"]));
        assert_eq!(winrm.ntlm_scheme(), Some("Negotiate"));
        assert!(!winrm.basic);
        let listed = Offer::read(&headers(&["NTLM, Basic realm=\"WSMAN\""]));
        assert!(listed.basic && listed.ntlm && !listed.negotiate);
        assert_eq!(listed.ntlm_scheme(), Some("NTLM"));
        assert_eq!(
            Offer::read(&headers(&["Kerberos"])),
            Offer::default(),
            "nothing the driver speaks"
        );
    }

    #[test]
    fn a_domain_comes_from_a_backslash() {
        let login = Login::new("NTLM", "CORP\\alice", "pw");
        assert_eq!(
            (login.domain.as_str(), login.user.as_str()),
            ("CORP", "alice")
        );
        assert_eq!(login.who(), "CORP\\alice");
        let login = Login::new("NTLM", "administrator", "pw");
        assert_eq!(
            (login.domain.as_str(), login.who().as_str()),
            ("", "administrator")
        );
    }

    /// MS-NLMP 4.2.4.1.1: NTOWFv2("Password", "User", "Domain").
    #[test]
    fn the_ntlmv2_key_is_ms_nlmps() {
        let key = ntlmclient::ntlm_v2_password_func(&NtlmCredentials {
            username: "User".to_string(),
            password: "Password".to_string(),
            domain: "Domain".to_string(),
        });
        assert_eq!(
            key,
            [
                0x0c, 0x86, 0x8a, 0x40, 0x3b, 0xfd, 0x7a, 0x93, 0xa3, 0x00, 0x1e, 0xf2, 0x2e, 0xf0,
                0x2e, 0x3f
            ]
        );
    }

    #[test]
    fn the_authenticate_message_proves_the_password_for_the_servers_challenge() {
        let login = Login::new("Negotiate", "Domain\\User", "Password");
        assert!(login.negotiate().starts_with("Negotiate TlRMTVNTUAAB"));
        let server_time: i64 = 0x01d0_0000_0000_0000;
        let flags = requested_flags() | Flags::TARGET_TYPE_DOMAIN | Flags::NEGOTIATE_VERSION;
        let challenge = challenge_message(
            flags,
            *b"\x01\x23\x45\x67\x89\xab\xcd\xef",
            &[
                TargetInfoEntry::from_string(TargetInfoType::NtDomain, "DOMAIN"),
                TargetInfoEntry {
                    entry_type: TargetInfoType::Timestamp,
                    data: server_time.to_le_bytes().to_vec(),
                },
                TargetInfoEntry {
                    entry_type: TargetInfoType::Terminator,
                    data: vec![],
                },
            ],
        );
        let token = BASE64.encode(challenge);
        let header = login
            .authenticate(&headers(&[&format!("Negotiate {token}")]), 0)
            .expect("answered");
        let bytes = BASE64
            .decode(header.strip_prefix("Negotiate ").expect("scheme"))
            .expect("base64");
        let Ok(Message::Authenticate(message)) = Message::try_from(bytes.as_slice()) else {
            panic!("not an Authenticate message");
        };
        assert_eq!(
            (message.domain_name.as_str(), message.user_name.as_str()),
            ("Domain", "User")
        );
        // NTProofStr = HMAC-MD5(NTOWFv2, server challenge + the blob after it), with the
        // server's timestamp in the blob.
        let (proof, blob) = message.ntlm_response.split_at(16);
        assert_eq!(&blob[8..16], &server_time.to_le_bytes());
        let key = ntlmclient::ntlm_v2_password_func(&NtlmCredentials {
            username: "User".to_string(),
            password: "Password".to_string(),
            domain: "Domain".to_string(),
        });
        let mut mac = <Hmac<md5::Md5> as Mac>::new_from_slice(&key).expect("any key length");
        mac.update(b"\x01\x23\x45\x67\x89\xab\xcd\xef");
        mac.update(blob);
        assert_eq!(mac.finalize().into_bytes().as_slice(), proof);
    }

    #[test]
    fn a_401_without_a_challenge_is_an_auth_failure() {
        let login = Login::new("Negotiate", "u", "p");
        let error = login
            .authenticate(&headers(&["Negotiate"]), 0)
            .expect_err("no token");
        assert_eq!(error.code(), ErrorNumber::AUTH_FAILED);
        let error = login
            .authenticate(&headers(&["Negotiate YIIBhwYGKwYBBQUCoIIBezCCAXc="]), 0)
            .expect_err("a Kerberos token");
        assert_eq!(error.code(), ErrorNumber::AUTH_FAILED, "{error}");
    }
}
