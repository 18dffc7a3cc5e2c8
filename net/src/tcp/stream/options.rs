//! Socket options of a stream (`TCP_NODELAY`, keepalive, `SO_LINGER`,
//! buffer sizes, `SO_INCOMING_CPU`).

use std::io;
use std::time::Duration;

use socket2::TcpKeepalive;

use super::TcpStream;

impl TcpStream {
    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.io().set_nodelay(nodelay)
    }

    /// Reads `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.io().nodelay()
    }

    /// Turns TCP keepalive on with the given idle time, or off with `None`.
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_keepalive(&self, idle: Option<Duration>) -> io::Result<()> {
        match idle {
            Some(time) => self.sock().set_tcp_keepalive(&TcpKeepalive::new().with_time(time)),
            None => self.sock().set_keepalive(false),
        }
    }

    /// Whether keepalive is on.
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.sock().keepalive()
    }

    /// Sets `SO_LINGER`. `Some(Duration::ZERO)` makes close send a reset
    /// (see [`set_zero_linger`](Self::set_zero_linger)).
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.sock().set_linger(linger)
    }

    /// Makes dropping the stream reset the connection instead of closing it.
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_zero_linger(&self) -> io::Result<()> {
        self.set_linger(Some(Duration::ZERO))
    }

    /// Reads `SO_LINGER`.
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.sock().linger()
    }

    /// Sets `SO_SNDBUF`.
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_send_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.sock().set_send_buffer_size(bytes)
    }

    /// Reads `SO_SNDBUF`.
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        self.sock().send_buffer_size()
    }

    /// Sets `SO_RCVBUF`.
    ///
    /// # Errors
    ///
    /// As `setsockopt`.
    pub fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.sock().set_recv_buffer_size(bytes)
    }

    /// Reads `SO_RCVBUF`.
    ///
    /// # Errors
    ///
    /// As `getsockopt`.
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        self.sock().recv_buffer_size()
    }

    /// The CPU whose network stack handled this connection's packets
    /// (`SO_INCOMING_CPU`).
    ///
    /// # Errors
    ///
    /// As `getsockopt`; `Unsupported` off Linux.
    pub fn incoming_cpu(&self) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        {
            self.sock().cpu_affinity()
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "SO_INCOMING_CPU needs Linux",
            ))
        }
    }
}
