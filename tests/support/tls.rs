//! A test CA and the certificates it signs, made fresh for each test (with
//! rcgen), written to a temporary folder for the command-line clients
//! (`curl --cacert`, `openssl s_client -CAfile`, Python's `ssl`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use roost::net::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use roost::net::tls::rustls::{self, RootCertStore};
use roost::net::tls::{self as tls};

/// A CA, and a folder holding its certificate as `ca.pem`.
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    pub dir: PathBuf,
}

/// A server certificate chain and its key.
pub struct ServerCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// Its serial number, to tell two certificates apart.
    pub serial: Vec<u8>,
    /// The certificate and key in PEM, for files.
    pub cert_pem: String,
    pub key_pem: String,
}

impl Pki {
    /// A fresh CA named `name`; its certificate in `<dir>/ca.pem`.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("roost test CA {name}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = std::env::temp_dir().join(format!("roost-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Self { ca, dir }
    }

    /// The CA certificate's path.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A server certificate for `names` (DNS names or IP addresses), signed
    /// by this CA, with a serial number of `serial`.
    pub fn server(&self, names: &[&str], serial: u64) -> ServerCert {
        let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.serial_number = Some(serial.into());
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        ServerCert {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            serial: serial.to_be_bytes().to_vec(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Writes `cert` as `<name>.pem` and `<name>.key` in the folder; their
    /// paths.
    pub fn write(&self, name: &str, cert: &ServerCert) -> (PathBuf, PathBuf) {
        let cert_path = self.dir.join(format!("{name}.pem"));
        let key_path = self.dir.join(format!("{name}.key"));
        std::fs::write(&cert_path, &cert.cert_pem).unwrap();
        std::fs::write(&key_path, &cert.key_pem).unwrap();
        (cert_path, key_path)
    }

    /// A client configuration that trusts this CA only, offering `alpn`.
    pub fn client(&self, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        Arc::new(tls::client_config(roots, alpn))
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl ServerCert {
    /// A server configuration for this certificate (ALPN h2, http/1.1).
    pub fn config(&self) -> rustls::ServerConfig {
        tls::server_config(self.chain.clone(), self.key.clone_key()).unwrap()
    }
}
