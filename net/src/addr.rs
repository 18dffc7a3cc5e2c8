//! `ToSocketAddrs`: what `bind`, `connect` and `send_to` accept, as tokio's.
//!
//! A value is turned into socket addresses in one of two ways:
//!
//! - a literal (`SocketAddr`, `(IpAddr, u16)`, `"127.0.0.1:80"`,
//!   `("::1", 80)`, a slice of addresses) is converted inline, on the
//!   worker, without a system call;
//! - a host name (`"localhost:80"`, `("example.com", 443)`) is resolved by
//!   the system resolver (`getaddrinfo`, which blocks) on the runtime's
//!   blocking pool, never on the worker, so a slow DNS server stalls only
//!   the task that asked.
//!
//! # Invariants
//!
//! - The worker thread never calls the system resolver.
//! - Resolution errors keep the resolver's `io::ErrorKind`; their message
//!   names the host. A host that resolves to nothing is not an error here:
//!   [`lookup_host`] yields an empty iterator, and `bind`/`connect` report
//!   `InvalidInput` "could not resolve to any address" (see [`each_addr`]).
//!
//! The trait is sealed: its one method is private, so that how a value is
//! resolved can change without breaking callers (tokio seals its trait for
//! the same reason).

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Values that can be resolved to one or more socket addresses: tokio's
/// `ToSocketAddrs`, accepted by [`TcpListener::bind`](crate::TcpListener::bind),
/// [`TcpStream::connect`](crate::TcpStream::connect),
/// [`UdpSocket::bind`](crate::UdpSocket::bind) and friends.
///
/// Implemented for [`SocketAddr`], [`SocketAddrV4`], [`SocketAddrV6`],
/// `(IpAddr, u16)`, `(Ipv4Addr, u16)`, `(Ipv6Addr, u16)`, `(&str, u16)`,
/// `(String, u16)`, `str` and `String` (`"host:port"`), `[SocketAddr]`, and
/// references to any of them (`&str`, `&[SocketAddr]`, `&SocketAddr`, ...).
/// Literal addresses are converted inline; host names are resolved on the
/// runtime's blocking pool, off the worker. The trait is sealed.
///
/// # Examples
///
/// ```
/// use roost_net::{lookup_host, ToSocketAddrs};
///
/// async fn first(addr: impl ToSocketAddrs) -> Option<std::net::SocketAddr> {
///     lookup_host(addr).await.ok()?.next()
/// }
///
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on_local(|| async {
///     assert_eq!(first("127.0.0.1:80").await, Some("127.0.0.1:80".parse().unwrap()));
///     assert_eq!(first(("::1", 443)).await, Some("[::1]:443".parse().unwrap()));
/// });
/// ```
pub trait ToSocketAddrs: sealed::ToSocketAddrsPriv {}

pub(crate) mod sealed {
    use super::Resolve;

    /// The private half of [`ToSocketAddrs`](super::ToSocketAddrs).
    pub trait ToSocketAddrsPriv {
        /// The addresses, or the host name still to resolve.
        fn to_resolve(&self) -> std::io::Result<Resolve>;
    }
}

/// What a [`ToSocketAddrs`] value turns into before any system call.
#[derive(Debug)]
pub enum Resolve {
    /// Literal addresses, converted inline.
    Ready(Addrs),
    /// A host name for the system resolver, and the port.
    Lookup(String, u16),
}

/// The addresses a [`ToSocketAddrs`] value resolved to, in the resolver's
/// order (what [`lookup_host`] iterates over).
#[derive(Debug, Clone)]
pub struct Addrs {
    inner: AddrsInner,
}

#[derive(Debug, Clone)]
enum AddrsInner {
    // One literal address: no allocation.
    One(Option<SocketAddr>),
    Many(std::vec::IntoIter<SocketAddr>),
}

impl Addrs {
    fn one(addr: SocketAddr) -> Self {
        Self {
            inner: AddrsInner::One(Some(addr)),
        }
    }

    fn many(addrs: Vec<SocketAddr>) -> Self {
        Self {
            inner: AddrsInner::Many(addrs.into_iter()),
        }
    }
}

impl Iterator for Addrs {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        match &mut self.inner {
            AddrsInner::One(addr) => addr.take(),
            AddrsInner::Many(addrs) => addrs.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            AddrsInner::One(addr) => {
                let n = usize::from(addr.is_some());
                (n, Some(n))
            }
            AddrsInner::Many(addrs) => addrs.size_hint(),
        }
    }
}

impl ExactSizeIterator for Addrs {}

/// Resolves `host` to its socket addresses, as tokio's `lookup_host`:
/// literal addresses inline, host names on the runtime's blocking pool.
///
/// # Errors
///
/// The resolver's error for a name it cannot resolve (its kind kept, the
/// host named in the message); `InvalidInput` for a string that is not
/// `host:port` or whose port is not a number; `Other` if a host name must be
/// resolved outside a roost runtime, or the runtime shuts down meanwhile.
///
/// # Examples
///
/// ```
/// let rt = roost_runtime::Runtime::builder().worker_threads(1).pin_workers(false).build().unwrap();
/// rt.block_on_local(|| async {
///     let addrs: Vec<_> = roost_net::lookup_host("localhost:8080").await.unwrap().collect();
///     assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
/// });
/// ```
pub async fn lookup_host<T>(host: T) -> io::Result<impl Iterator<Item = SocketAddr>>
where
    T: ToSocketAddrs,
{
    resolve(&host).await
}

/// Resolves `addr` (see the module docs).
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Addrs> {
    match addr.to_resolve()? {
        Resolve::Ready(addrs) => Ok(addrs),
        Resolve::Lookup(host, port) => lookup_blocking(host, port).await.map(Addrs::many),
    }
}

/// Tries `op` on each address `addr` resolves to, in order, and returns the
/// first success or the last error, as tokio's `bind` and `connect` do.
///
/// # Errors
///
/// The resolution error; the last address's error; `InvalidInput` "could
/// not resolve to any address" when there was no address to try.
pub(crate) async fn each_addr<A, T, F, Fut>(addr: A, mut op: F) -> io::Result<T>
where
    A: ToSocketAddrs,
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last_err = None;
    for addr in resolve(&addr).await? {
        match op(addr).await {
            Ok(value) => return Ok(value),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(no_address))
}

/// The first address `addr` resolves to (what `send_to` uses, as tokio's).
///
/// # Errors
///
/// As [`resolve`]; `InvalidInput` when there is no address.
pub(crate) async fn first_addr<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<SocketAddr> {
    resolve(addr).await?.next().ok_or_else(no_address)
}

fn no_address() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "could not resolve to any address")
}

/// Runs the system resolver for `(host, port)` on the runtime's blocking
/// pool (the awaiting task stays on this worker).
async fn lookup_blocking(host: String, port: u16) -> io::Result<Vec<SocketAddr>> {
    if roost_runtime::Handle::try_current().is_none() {
        return Err(io::Error::other(format!(
            "resolving {host}:{port} needs the blocking pool of a roost runtime; called outside one"
        )));
    }
    roost_runtime::task::spawn_blocking(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
            .map(|it| it.collect::<Vec<_>>())
            .map_err(|e| io::Error::new(e.kind(), format!("could not resolve {host}:{port}: {e}")))
    })
    .await
    .map_err(|e| io::Error::other(format!("host name resolution did not complete: {e}")))?
}

/// Splits `"host:port"` as std's `impl ToSocketAddrs for str` does.
fn split_host_port(s: &str) -> io::Result<(&str, u16)> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("invalid socket address {s:?}")))?;
    let port = port
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("invalid port value in {s:?}")))?;
    Ok((host, port))
}

/// A host and a port: an IP literal inline, anything else for the resolver.
fn host_port(host: &str, port: u16) -> Resolve {
    match host.parse::<IpAddr>() {
        Ok(ip) => Resolve::Ready(Addrs::one(SocketAddr::new(ip, port))),
        Err(_) => Resolve::Lookup(host.to_owned(), port),
    }
}

macro_rules! literal {
    ($($t: ty),* $(,)?) => {$(
        impl ToSocketAddrs for $t {}

        impl sealed::ToSocketAddrsPriv for $t {
            fn to_resolve(&self) -> io::Result<Resolve> {
                Ok(Resolve::Ready(Addrs::one(SocketAddr::from(*self))))
            }
        }
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16),
);

impl ToSocketAddrs for str {}

impl sealed::ToSocketAddrsPriv for str {
    fn to_resolve(&self) -> io::Result<Resolve> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(Resolve::Ready(Addrs::one(addr)));
        }
        let (host, port) = split_host_port(self)?;
        Ok(Resolve::Lookup(host.to_owned(), port))
    }
}

impl ToSocketAddrs for String {}

impl sealed::ToSocketAddrsPriv for String {
    fn to_resolve(&self) -> io::Result<Resolve> {
        self.as_str().to_resolve()
    }
}

impl ToSocketAddrs for (&str, u16) {}

impl sealed::ToSocketAddrsPriv for (&str, u16) {
    fn to_resolve(&self) -> io::Result<Resolve> {
        Ok(host_port(self.0, self.1))
    }
}

impl ToSocketAddrs for (String, u16) {}

impl sealed::ToSocketAddrsPriv for (String, u16) {
    fn to_resolve(&self) -> io::Result<Resolve> {
        Ok(host_port(&self.0, self.1))
    }
}

impl ToSocketAddrs for [SocketAddr] {}

impl sealed::ToSocketAddrsPriv for [SocketAddr] {
    fn to_resolve(&self) -> io::Result<Resolve> {
        Ok(Resolve::Ready(match self {
            [one] => Addrs::one(*one),
            many => Addrs::many(many.to_vec()),
        }))
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}

impl<T: ToSocketAddrs + ?Sized> sealed::ToSocketAddrsPriv for &T {
    fn to_resolve(&self) -> io::Result<Resolve> {
        (**self).to_resolve()
    }
}

#[cfg(test)]
mod tests {
    use super::sealed::ToSocketAddrsPriv;
    use super::*;

    fn ready(addr: &(impl ToSocketAddrs + ?Sized)) -> Vec<SocketAddr> {
        match addr.to_resolve().unwrap() {
            Resolve::Ready(addrs) => addrs.collect(),
            Resolve::Lookup(host, port) => panic!("{host}:{port} went to the resolver"),
        }
    }

    #[test]
    fn literals_resolve_inline() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(ready(&v4), [v4]);
        assert_eq!(ready(&"127.0.0.1:80"), [v4]);
        assert_eq!(ready("[::1]:443"), [v6]);
        assert_eq!(ready(&String::from("[::1]:443")), [v6]);
        assert_eq!(ready(&("127.0.0.1", 80)), [v4]);
        assert_eq!(ready(&("::1".to_string(), 443)), [v6]);
        assert_eq!(ready(&(Ipv4Addr::LOCALHOST, 80)), [v4]);
        assert_eq!(ready(&(Ipv6Addr::LOCALHOST, 443)), [v6]);
        assert_eq!(ready(&(IpAddr::V4(Ipv4Addr::LOCALHOST), 80)), [v4]);
        assert_eq!(ready(&SocketAddrV4::new(Ipv4Addr::LOCALHOST, 80)), [v4]);
        assert_eq!(ready(&SocketAddrV6::new(Ipv6Addr::LOCALHOST, 443, 0, 0)), [v6]);
        assert_eq!(ready(&[v4, v6][..]), [v4, v6]);
        assert_eq!(ready(&&&v4), [v4]);
        assert!(ready(&[][..]).is_empty());
    }

    #[test]
    fn names_go_to_the_resolver() {
        for (addr, host, port) in [("localhost:80", "localhost", 80), ("a.example:1", "a.example", 1)] {
            match addr.to_resolve().unwrap() {
                Resolve::Lookup(h, p) => assert_eq!((h.as_str(), p), (host, port)),
                Resolve::Ready(addrs) => panic!("{addr} resolved inline to {addrs:?}"),
            }
        }
        assert!(matches!(("localhost", 80).to_resolve(), Ok(Resolve::Lookup(..))));
    }

    #[test]
    fn malformed_strings_are_invalid_input() {
        for bad in ["localhost", "localhost:http", "localhost:99999", ""] {
            let err = bad.to_resolve().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}: {err}");
        }
    }
}
