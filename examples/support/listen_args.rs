//! The command line of the serving examples: the listen address, then
//! optionally `--tls-cert FILE --tls-key FILE` to serve over TLS.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// What the command line asked for.
pub struct ListenArgs {
    pub addr: SocketAddr,
    /// The certificate chain and key files, for TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

impl ListenArgs {
    /// Parses `ADDR [--tls-cert FILE --tls-key FILE]` (ADDR defaults to
    /// `127.0.0.1:0`).
    pub fn parse(args: impl IntoIterator<Item = String>) -> io::Result<Self> {
        let mut addr = None;
        let (mut cert, mut key) = (None, None);
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--tls-cert" | "--tls-key" => {
                    let file = args.next().ok_or_else(|| invalid(format!("{arg} needs a file")))?;
                    *(if arg == "--tls-cert" { &mut cert } else { &mut key }) = Some(PathBuf::from(file));
                }
                _ if addr.is_none() && !arg.starts_with("--") => {
                    addr = Some(arg.parse().map_err(|e| invalid(format!("listen address {arg}: {e}")))?);
                }
                _ => return Err(invalid(format!("unexpected argument {arg}"))),
            }
        }
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err(invalid("--tls-cert and --tls-key go together".into())),
        };
        Ok(Self {
            addr: addr.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap()),
            tls,
        })
    }

    /// The rustls server configuration for `--tls-cert`/`--tls-key`, if
    /// given.
    pub fn tls_config(&self) -> io::Result<Option<roost::net::tls::rustls::ServerConfig>> {
        use roost::net::tls;
        let Some((cert, key)) = &self.tls else { return Ok(None) };
        tls::server_config(tls::load_certs(cert)?, tls::load_key(key)?).map(Some)
    }
}
