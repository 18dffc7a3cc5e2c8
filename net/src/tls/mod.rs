//! TLS on roost (feature `tls`): rustls (with ring, which builds wherever
//! roost does) through tokio-rustls on roost's streams, for the HTTP and
//! gRPC servers and for clients.
//!
//! - **Servers.** [`http::Builder::tls`](crate::http::Builder::tls) (and
//!   the gRPC builder's) takes a `rustls::ServerConfig`: every worker then
//!   serves HTTPS on its own listener, with ALPN choosing `h2` or
//!   `http/1.1` per connection, a handshake timeout, failed handshakes
//!   counted, and `close_notify` at graceful shutdown.
//! - **Certificates** load from PEM files ([`load_certs`], [`load_key`]);
//!   [`server_config`] makes a server configuration from them.
//!   [`CertResolver`] is a certificate that can be replaced while serving:
//!   new connections get the new one, open ones keep theirs. SNI with
//!   several certificates is rustls' `ResolvesServerCertUsingSni`.
//! - **Clients.** [`connect`] wraps a [`TcpStream`] in TLS, checking the
//!   server's name against its certificate; hyper's client and roost's gRPC
//!   channel run on the result.
//!
//! # What a received byte costs
//!
//! From the kernel to hyper, a byte received over TLS is copied twice: the
//! kernel copies the record into rustls' receive buffer (one `read` per
//! buffer-full, up to a record or more at a time), rustls decrypts it there
//! in place, and hands the plaintext to hyper's read buffer (the second
//! copy). A plain connection has one copy (the kernel writes into hyper's
//! buffer directly). No allocation is made per request: rustls' buffers
//! are per connection and reused. rustls' own connection API
//! (`read_tls`/`reader`) moves the bytes the same way; tokio-rustls is
//! that API behind tokio's I/O traits, so it costs nothing more.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use rustls;
pub use tokio_rustls::{client::TlsStream as ClientTlsStream, server::TlsStream as ServerTlsStream};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ServerConfig};

use crate::TcpStream;

/// The default TLS handshake timeout of the servers: 10 s.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The ALPN protocols an HTTP server offers when its configuration names
/// none: HTTP/2 first, then HTTP/1.1.
pub const ALPN_HTTP: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// The crypto provider roost's helpers use: rustls' ring provider.
///
/// ring builds wherever roost does with nothing but a C compiler (macOS
/// included); rustls prefers aws-lc-rs now, for its post-quantum key
/// exchange, which ring lacks. A server or client that wants it builds its
/// own `ServerConfig`/`ClientConfig` with aws-lc-rs and hands that over:
/// roost takes any rustls configuration.
///
/// Its key exchange prefers X25519, then P-256, then P-384. rustls' ring
/// provider puts P-384 first, which ring computes with generic bignum code:
/// measured with the http bench's handshake case (`ROOST_HTTP_CASES=handshake
/// cargo bench --bench http -- --quick`, a new TLS 1.3 connection per
/// request, client and server both ring, 2 vCPUs), a handshake cost the
/// server 1.47 ms of CPU with P-384 and 0.31 ms with X25519: 592 against
/// 2,714 handshakes a second. A client that offers only P-384 still gets
/// it.
#[allow(deprecated)]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::ring::{default_provider, kx_group};
    Arc::new(rustls::crypto::CryptoProvider {
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        ..default_provider()
    })
}

fn pem_error(path: &Path, e: impl fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
}

/// The certificates of a PEM file (a chain: the server's first).
///
/// # Errors
///
/// The file cannot be read (its `io::Error`), or has no certificate or a
/// malformed one (`InvalidData`).
pub fn load_certs(path: impl AsRef<Path>) -> io::Result<Vec<CertificateDer<'static>>> {
    let path = path.as_ref();
    let pem = std::fs::read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(pem_error(path, "no certificate in the file"));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
///
/// # Errors
///
/// The file cannot be read, or holds no key (`InvalidData`).
pub fn load_key(path: impl AsRef<Path>) -> io::Result<PrivateKeyDer<'static>> {
    let path = path.as_ref();
    let pem = std::fs::read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| pem_error(path, e))
}

/// A server configuration for one certificate chain and its key, offering
/// [`ALPN_HTTP`], TLS 1.3 and 1.2.
///
/// # Errors
///
/// `InvalidInput` if the key does not suit the certificate, or rustls
/// refuses it.
pub fn server_config(certs: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> io::Result<ServerConfig> {
    let mut config = server_builder()?
        .with_single_cert(certs, key)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    config.alpn_protocols = alpn(&ALPN_HTTP);
    Ok(config)
}

/// A server configuration whose certificate is `resolver`'s (replaceable
/// while serving), offering [`ALPN_HTTP`].
///
/// # Errors
///
/// `InvalidInput` if rustls refuses the protocol versions.
pub fn server_config_with_resolver(resolver: Arc<dyn ResolvesServerCert>) -> io::Result<ServerConfig> {
    let mut config = server_builder()?.with_cert_resolver(resolver);
    config.alpn_protocols = alpn(&ALPN_HTTP);
    Ok(config)
}

/// A server configuration up to its certificate: ring, TLS 1.3 and 1.2, no
/// client authentication.
fn server_builder() -> io::Result<rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>> {
    Ok(ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
        .with_no_client_auth())
}

/// ALPN protocol names as rustls holds them.
fn alpn(protocols: &[&[u8]]) -> Vec<Vec<u8>> {
    protocols.iter().map(|p| p.to_vec()).collect()
}

/// `config`, offering `protocols` by ALPN if it names none itself (a
/// server's builder, or a client's channel, fills in what it speaks).
pub(crate) fn server_alpn_or(mut config: Arc<ServerConfig>, protocols: &[&[u8]]) -> Arc<ServerConfig> {
    if config.alpn_protocols.is_empty() {
        Arc::make_mut(&mut config).alpn_protocols = alpn(protocols);
    }
    config
}

/// As [`server_alpn_or`], for a client's configuration.
#[cfg(feature = "grpc")]
pub(crate) fn client_alpn_or(mut config: Arc<ClientConfig>, protocols: &[&[u8]]) -> Arc<ClientConfig> {
    if config.alpn_protocols.is_empty() {
        Arc::make_mut(&mut config).alpn_protocols = alpn(protocols);
    }
    config
}

/// A certificate chain and key as rustls signs with them.
///
/// # Errors
///
/// `InvalidInput` if the key is not one ring can sign with, or does not
/// match the certificate.
pub fn certified_key(certs: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> io::Result<CertifiedKey> {
    CertifiedKey::from_der(certs, key, &provider()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// A server certificate that can be replaced while serving: each new
/// handshake takes the current one (a read lock, uncontended but for a
/// replacement), a connection keeps the certificate it was made with.
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use roost_net::tls::{self, CertResolver};
///
/// # fn main() -> std::io::Result<()> {
/// let key = tls::certified_key(tls::load_certs("cert.pem")?, tls::load_key("key.pem")?)?;
/// let resolver = Arc::new(CertResolver::new(key));
/// let config = tls::server_config_with_resolver(resolver.clone())?;
/// // ... serve with `config`; later, when the files are renewed:
/// resolver.replace(tls::certified_key(tls::load_certs("cert.pem")?, tls::load_key("key.pem")?)?);
/// # let _ = config;
/// # Ok(())
/// # }
/// ```
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    /// A resolver that serves `key` until replaced.
    pub fn new(key: CertifiedKey) -> Self {
        Self {
            current: RwLock::new(Arc::new(key)),
        }
    }

    /// Serves `key` to every handshake from now on.
    pub fn replace(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
    }
}

impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertResolver").finish_non_exhaustive()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// A client configuration that trusts `roots` and offers `alpn` (for
/// HTTP: `ALPN_HTTP`, or `[b"h2"]` for gRPC).
pub fn client_config(roots: rustls::RootCertStore, alpn: &[&[u8]]) -> ClientConfig {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = self::alpn(alpn);
    config
}

/// TLS over `stream` as a client of `server_name` (a DNS name or an IP
/// address, checked against the server's certificate).
///
/// # Errors
///
/// `InvalidInput` for a name that is neither; the handshake's error
/// (`InvalidData` for a certificate that does not check, for example).
pub async fn connect(
    config: Arc<ClientConfig>,
    server_name: &str,
    stream: TcpStream,
) -> io::Result<ClientTlsStream<TcpStream>> {
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{server_name}: {e}")))?;
    tokio_rustls::TlsConnector::from(config).connect(name, stream).await
}
