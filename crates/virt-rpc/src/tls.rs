//! TLS with libvirt's x509 file layout, on rustls (ring provider).
//!
//! The files and their default places are libvirt's, so certificates made for libvirtd
//! work unchanged:
//!
//! | file | system (root) | per user | `pkipath=DIR` |
//! |---|---|---|---|
//! | CA certificate | `/etc/pki/CA/cacert.pem` | `~/.pki/libvirt/cacert.pem` | `DIR/cacert.pem` |
//! | CA revocation list (optional) | `/etc/pki/CA/cacrl.pem` | `~/.pki/libvirt/cacrl.pem` | `DIR/cacrl.pem` |
//! | client certificate | `/etc/pki/libvirt/clientcert.pem` | `~/.pki/libvirt/clientcert.pem` | `DIR/clientcert.pem` |
//! | client key | `/etc/pki/libvirt/private/clientkey.pem` | `~/.pki/libvirt/clientkey.pem` | `DIR/clientkey.pem` |
//! | server certificate | `/etc/pki/libvirt/servercert.pem` | | `DIR/servercert.pem` |
//! | server key | `/etc/pki/libvirt/private/serverkey.pem` | | `DIR/serverkey.pem` |
//!
//! As with libvirtd, the daemon requires a client certificate signed by the CA unless
//! verification is switched off, and the client checks the daemon's certificate against the
//! CA and the host name in the URI unless `no_verify=1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName, UnixTime,
};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use virt_core::{Error, ErrorDomain, ErrorNumber};

/// Where the x509 files are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkiFiles {
    pub ca_cert: PathBuf,
    pub ca_crl: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl PkiFiles {
    /// The client's files: `pkipath` if given, else the per-user directory when it has a CA
    /// certificate (or when not root), else the system places.
    pub fn client(pkipath: Option<&Path>) -> PkiFiles {
        if let Some(dir) = pkipath {
            return PkiFiles::in_dir(dir, "client");
        }
        let user_dir =
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".pki/libvirt"));
        if let Some(dir) = user_dir {
            if !nix::unistd::geteuid().is_root() || dir.join("cacert.pem").exists() {
                return PkiFiles::in_dir(&dir, "client");
            }
        }
        PkiFiles {
            ca_cert: "/etc/pki/CA/cacert.pem".into(),
            ca_crl: "/etc/pki/CA/cacrl.pem".into(),
            cert: "/etc/pki/libvirt/clientcert.pem".into(),
            key: "/etc/pki/libvirt/private/clientkey.pem".into(),
        }
    }

    /// The daemon's files: `dir` if given, else the system places.
    pub fn server(dir: Option<&Path>) -> PkiFiles {
        match dir {
            Some(dir) => PkiFiles::in_dir(dir, "server"),
            None => PkiFiles {
                ca_cert: "/etc/pki/CA/cacert.pem".into(),
                ca_crl: "/etc/pki/CA/cacrl.pem".into(),
                cert: "/etc/pki/libvirt/servercert.pem".into(),
                key: "/etc/pki/libvirt/private/serverkey.pem".into(),
            },
        }
    }

    fn in_dir(dir: &Path, role: &str) -> PkiFiles {
        PkiFiles {
            ca_cert: dir.join("cacert.pem"),
            ca_crl: dir.join("cacrl.pem"),
            cert: dir.join(format!("{role}cert.pem")),
            key: dir.join(format!("{role}key.pem")),
        }
    }
}

fn tls_error(message: String) -> Error {
    Error::from_parts(ErrorNumber::AUTH_FAILED, ErrorDomain::RPC, message)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|error| {
            tls_error(format!(
                "Cannot read certificate file '{}': {error}",
                path.display()
            ))
        })?
        .collect();
    let certs = certs.map_err(|error| {
        tls_error(format!(
            "Cannot parse certificate file '{}': {error}",
            path.display()
        ))
    })?;
    if certs.is_empty() {
        return Err(tls_error(format!(
            "No certificate found in '{}'",
            path.display()
        )));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_file(path).map_err(|error| {
        tls_error(format!(
            "Cannot read private key file '{}': {error}",
            path.display()
        ))
    })
}

fn read_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, Error> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let crls: Result<Vec<_>, _> = CertificateRevocationListDer::pem_file_iter(path)
        .map_err(|error| {
            tls_error(format!(
                "Cannot read CRL file '{}': {error}",
                path.display()
            ))
        })?
        .collect();
    crls.map_err(|error| {
        tls_error(format!(
            "Cannot parse CRL file '{}': {error}",
            path.display()
        ))
    })
}

fn roots(path: &Path) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path)? {
        roots.add(cert).map_err(|error| {
            tls_error(format!(
                "Unusable CA certificate in '{}': {error}",
                path.display()
            ))
        })?;
    }
    Ok(roots)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The daemon's TLS configuration.
pub fn server_config(files: &PkiFiles, verify_clients: bool) -> Result<Arc<ServerConfig>, Error> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| tls_error(format!("TLS setup failed: {error}")))?;
    let builder = if verify_clients {
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots(&files.ca_cert)?),
            provider(),
        )
        .with_crls(read_crls(&files.ca_crl)?)
        .build()
        .map_err(|error| tls_error(format!("TLS client verification setup failed: {error}")))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder
        .with_single_cert(read_certs(&files.cert)?, read_key(&files.key)?)
        .map_err(|error| tls_error(format!("Server certificate and key do not fit: {error}")))?;
    // libvirt's clients read exactly one application byte right after the handshake (the
    // daemon's confirmation); a TLS 1.3 session ticket arriving first makes that read come
    // back empty and the client gives up. Sessions are never resumed anyway.
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// The client's TLS configuration; `verify` false accepts any server certificate
/// (libvirt's `no_verify=1`).
pub fn client_config(files: &PkiFiles, verify: bool) -> Result<Arc<ClientConfig>, Error> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| tls_error(format!("TLS setup failed: {error}")))?;
    let builder = if verify {
        builder.with_root_certificates(roots(&files.ca_cert)?)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider())))
    };
    let config = if files.cert.exists() && files.key.exists() {
        builder
            .with_client_auth_cert(read_certs(&files.cert)?, read_key(&files.key)?)
            .map_err(|error| tls_error(format!("Client certificate and key do not fit: {error}")))?
    } else {
        builder.with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The server name to check the daemon's certificate against.
pub fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_string()).map_err(|_| {
        Error::new(
            ErrorNumber::INVALID_ARG,
            ErrorDomain::RPC,
            format!("invalid host name '{host}'"),
        )
    })
}

/// `no_verify=1`: signatures are still checked, the certificate itself is not.
#[derive(Debug)]
struct AcceptAnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
