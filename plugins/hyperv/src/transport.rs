//! How a SOAP request reaches the server, by the login its 401 asked for: Basic rides the
//! host's `http.send` (pooled connections, the header on every request, as libvirt does);
//! NTLM authenticates a connection, so it rides `http.send-on` over a session of this
//! instance that its handshake logged in (see [`crate::ntlm`]).
//!
//! A session belongs to the plugin instance that opened it, and an instance may serve later
//! calls: the logged-in sessions are kept here as a cache (by endpoint and credentials, so a
//! connection never rides another's login), and a call on a new instance logs in again.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use virt_core::{Error, ErrorDomain, ErrorNumber};
use virt_plugin_sdk::host::http::{self, Request, SessionOptions, SessionRequest, TlsOptions};

use crate::ntlm;
use crate::uri::Target;

const REQUEST_TIMEOUT_MS: u32 = 60_000;
const CONNECT_TIMEOUT_MS: u32 = 30_000;
/// Logged-in sessions an instance keeps (the host allows 16): one per server it talks to is
/// the need, a few cover a daemon serving several.
const CACHED_SESSIONS: usize = 4;

/// The login a connection's server asked for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Auth {
    /// The server asked for none.
    None,
    /// The `Authorization` header for every request.
    Basic(String),
    Ntlm(ntlm::Login),
}

/// The server's answer.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn error(code: ErrorNumber, message: String) -> Error {
    Error::new(code, ErrorDomain::HYPERV, message)
}

fn soap_headers(authorization: Option<String>) -> Vec<(String, String)> {
    let mut headers = vec![(
        "Content-Type".to_string(),
        "application/soap+xml;charset=UTF-8".to_string(),
    )];
    if let Some(authorization) = authorization {
        headers.push(("Authorization".to_string(), authorization));
    }
    headers
}

fn tls(target: &Target) -> TlsOptions {
    TlsOptions {
        no_verify: target.no_verify,
        ca_pem: None,
    }
}

/// One request through `http.send`.
fn send_pooled(
    target: &Target,
    envelope: &str,
    authorization: Option<String>,
) -> Result<Answer, Error> {
    let response = http::send(&Request {
        method: "POST".to_string(),
        url: target.url(),
        headers: soap_headers(authorization),
        body: envelope.as_bytes().to_vec(),
        tls: tls(target),
        timeout_ms: REQUEST_TIMEOUT_MS,
    })?;
    Ok(Answer {
        status: response.status,
        headers: response.headers,
        body: response.body,
    })
}

/// The request without credentials that tells which login the server wants (its 401's
/// `WWW-Authenticate`): no password leaves before the server says how it takes one.
pub fn probe(target: &Target, envelope: &str) -> Result<Answer, Error> {
    send_pooled(target, envelope, None)
}

/// Sends `envelope` with the connection's login.
pub fn send(target: &Target, auth: &Auth, envelope: &str) -> Result<Answer, Error> {
    match auth {
        Auth::None => send_pooled(target, envelope, None),
        Auth::Basic(authorization) => send_pooled(target, envelope, Some(authorization.clone())),
        Auth::Ntlm(login) => send_ntlm(target, login, envelope),
    }
}

/// `connect.close`: this instance's session for the connection goes (other instances'
/// go with them, or when the server ends their keep-alive).
pub fn forget(target: &Target, auth: &Auth) {
    if let Auth::Ntlm(login) = auth {
        if let Some(session) = take_cached(&cache_key(target, login)) {
            http::close_session(session);
        }
    }
}

thread_local! {
    /// This instance's logged-in sessions, newest last.
    static SESSIONS: RefCell<Vec<(String, u64)>> = const { RefCell::new(Vec::new()) };
}

fn cache_key(target: &Target, login: &ntlm::Login) -> String {
    // The password is part of it: a login made with one password is no proof of another.
    format!(
        "{}\n{}\n{}\n{}\n{}",
        target.url(),
        login.scheme,
        login.domain,
        login.user,
        login.password
    )
}

fn cached(key: &str) -> Option<u64> {
    SESSIONS.with(|sessions| {
        sessions
            .borrow()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, session)| *session)
    })
}

fn take_cached(key: &str) -> Option<u64> {
    SESSIONS.with(|sessions| {
        let mut sessions = sessions.borrow_mut();
        let at = sessions.iter().position(|(k, _)| k == key)?;
        Some(sessions.remove(at).1)
    })
}

fn remember(key: String, session: u64) {
    let evicted = SESSIONS.with(|sessions| {
        let mut sessions = sessions.borrow_mut();
        sessions.push((key, session));
        let excess = sessions.len().saturating_sub(CACHED_SESSIONS);
        sessions.drain(..excess).collect::<Vec<_>>()
    });
    for (_, session) in evicted {
        http::close_session(session);
    }
}

fn on_session(
    session: u64,
    envelope: &str,
    authorization: Option<String>,
) -> Result<http::SessionResponse, Error> {
    Ok(http::send_on(
        session,
        &SessionRequest {
            method: "POST".to_string(),
            path: "/wsman".to_string(),
            headers: soap_headers(authorization),
            body: envelope.as_bytes().to_vec(),
            timeout_ms: REQUEST_TIMEOUT_MS,
        },
    )?)
}

fn answer(response: http::SessionResponse) -> Answer {
    Answer {
        status: response.status,
        headers: response.headers,
        body: response.body,
    }
}

fn send_ntlm(target: &Target, login: &ntlm::Login, envelope: &str) -> Result<Answer, Error> {
    let key = cache_key(target, login);
    if let Some(session) = cached(&key) {
        let response = on_session(session, envelope, None)?;
        if response.status != 401 {
            return Ok(answer(response));
        }
        // A new connection (the old one's keep-alive ended), or a login the server dropped:
        // the request was refused unread, so log in again with it.
        virt_plugin_sdk::debug!(
            "NTLM login again on '{}' (new connection: {})",
            target.url(),
            response.reconnected
        );
        return handshake(target, session, login, envelope).inspect_err(|_| {
            if let Some(session) = take_cached(&key) {
                http::close_session(session);
            }
        });
    }
    let session = http::open_session(&SessionOptions {
        url: target.url(),
        tls: tls(target),
        timeout_ms: CONNECT_TIMEOUT_MS,
    })?;
    match handshake(target, session, login, envelope) {
        Ok(answer) => {
            remember(key, session);
            Ok(answer)
        }
        Err(failure) => {
            http::close_session(session);
            Err(failure)
        }
    }
}

/// NTLM's three legs on one connection: Negotiate (an empty request), the server's 401
/// with its Challenge, then `envelope` with the Authenticate message, whose answer is the
/// request's.
fn handshake(
    target: &Target,
    session: u64,
    login: &ntlm::Login,
    envelope: &str,
) -> Result<Answer, Error> {
    let challenged = on_session(session, "", Some(login.negotiate()))?;
    if challenged.status != 401 {
        return Err(error(
            ErrorNumber::AUTH_FAILED,
            format!(
                "Authentication failed for '{}': the server answered NTLM's first message \
                 with HTTP status {} instead of a challenge",
                target.url(),
                challenged.status
            ),
        ));
    }
    let authorization = login.authenticate(&challenged.headers, ntlm::now())?;
    let response = on_session(session, envelope, Some(authorization))?;
    if response.reconnected {
        return Err(error(
            ErrorNumber::AUTH_FAILED,
            format!(
                "Authentication failed for '{}': the server closed the connection in the \
                 middle of the NTLM login",
                target.url()
            ),
        ));
    }
    if response.status == 401 {
        return Err(error(
            ErrorNumber::AUTH_FAILED,
            format!(
                "Authentication failed for '{}': the server refused the NTLM login of '{}' \
                 (wrong user name or password)",
                target.url(),
                login.who()
            ),
        ));
    }
    Ok(answer(response))
}
