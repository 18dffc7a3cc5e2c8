//! TLS for the HTTPS cases of the http bench: one self-signed certificate
//! (rcgen, ECDSA P-256) made per run, a server configuration every server
//! shares, and client configurations, all with resumption off (no session
//! cache, no tickets, no client resumption), so that every new connection
//! pays a full TLS 1.3 handshake.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use roost::net::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use roost::net::tls::rustls::{self, client::Resumption, server::NoServerSessionStorage, RootCertStore};

/// ALPN protocol ids.
pub const H2: &[u8] = b"h2";
/// ALPN protocol ids.
pub const HTTP1: &[u8] = b"http/1.1";

/// A run's certificate, the server configuration made from it, and the
/// roots that trust it.
pub struct BenchTls {
    /// Every HTTPS server of the run uses this one (ALPN `h2`, `http/1.1`).
    pub server: Arc<rustls::ServerConfig>,
    roots: RootCertStore,
}

impl BenchTls {
    /// A fresh certificate for `localhost`.
    ///
    /// # Panics
    ///
    /// If rcgen or rustls refuse what they made themselves.
    pub fn new() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        let cert: CertificateDer<'static> = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
        let mut server = roost::net::tls::server_config(vec![cert.clone()], key).expect("server config");
        server.session_storage = Arc::new(NoServerSessionStorage {});
        server.send_tls13_tickets = 0;
        let mut roots = RootCertStore::empty();
        roots.add(cert).expect("trust the certificate");
        Self {
            server: Arc::new(server),
            roots,
        }
    }

    /// A client configuration offering `alpn`, without resumption.
    pub fn client(&self, alpn: &[u8]) -> Arc<rustls::ClientConfig> {
        let mut config = roost::net::tls::client_config(self.roots.clone(), &[alpn]);
        config.resumption = Resumption::disabled();
        Arc::new(config)
    }
}

impl Default for BenchTls {
    fn default() -> Self {
        Self::new()
    }
}

/// A TCP connection to `addr` (with `TCP_NODELAY`) on the current tokio
/// runtime, and a TLS handshake on it as `localhost`.
///
/// # Errors
///
/// Connection and handshake errors.
pub async fn connect(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
) -> io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from("localhost").expect("a valid name");
    tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
}
