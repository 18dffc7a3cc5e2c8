//! The request body a [`Server`](super::Server) hands its service: hyper's
//! [`Incoming`] under the server's body-size limit.
//!
//! Invariant: the body never yields more than its limit in data bytes. The
//! frame that would cross the limit is not yielded; the body fails with
//! [`BodyTooLarge`] instead and records that it did in a flag it shares with
//! the connection's service wrapper, which then answers `413` in place of
//! whatever the service returned (HTTP/1: with `connection: close`). The
//! flag is an `Arc<AtomicBool>` (none for a body that is empty from the
//! start), not an `Rc`, although a body normally stays on its worker:
//! frameworks such as axum box request bodies as `Send`, so [`Body`] must
//! be `Send`. It is read and written with relaxed loads and stores; the
//! ordering that matters comes from the service's future completing on the
//! same worker after the body failed.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use ::hyper::body::{Bytes, Frame, Incoming, SizeHint};

/// A request body under the server's size limit
/// ([`Builder::max_body_size`](super::Builder::max_body_size)).
///
/// It yields what hyper's [`Incoming`] yields, until the data would pass
/// the limit: then it fails with an [`io::Error`] of kind `InvalidData`
/// whose inner error is [`BodyTooLarge`], and the server answers
/// `413 Payload Too Large` whatever the service does with that error.
/// Other errors (the peer reset the connection, a malformed chunk) are
/// hyper's, as `io::Error`s of kind `Other` wrapping a `hyper::Error`.
///
/// # Examples
///
/// Collect a body with `http_body_util`, as with `Incoming`:
///
/// ```no_run
/// use http_body_util::BodyExt;
/// use roost_net::http::Body;
///
/// async fn length(body: Body) -> std::io::Result<usize> {
///     Ok(body.collect().await?.to_bytes().len())
/// }
/// ```
pub struct Body {
    inner: Incoming,
    /// Data bytes still allowed.
    remaining: u64,
    limit: u64,
    /// Shared with the request's service future; `None` for a body that was
    /// empty from the start (nothing to limit).
    exceeded: Option<Arc<AtomicBool>>,
}

impl Body {
    pub(crate) fn new(inner: Incoming, limit: u64, exceeded: Option<Arc<AtomicBool>>) -> Self {
        Self {
            inner,
            remaining: limit,
            limit,
            exceeded,
        }
    }

    /// The limit this body was read under, in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("remaining", &self.remaining)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl ::hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.exceeded.as_ref().is_some_and(|flag| flag.load(Ordering::Relaxed)) {
            return Poll::Ready(Some(Err(BodyTooLarge::error(self.limit))));
        }
        let frame = match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
            None => return Poll::Ready(None),
            Some(Err(e)) => return Poll::Ready(Some(Err(io::Error::other(e)))),
            Some(Ok(frame)) => frame,
        };
        if let Some(data) = frame.data_ref() {
            let len = data.len() as u64;
            if len > self.remaining {
                if let Some(flag) = &self.exceeded {
                    flag.store(true, Ordering::Relaxed);
                }
                return Poll::Ready(Some(Err(BodyTooLarge::error(self.limit))));
            }
            self.remaining -= len;
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut hint = self.inner.size_hint();
        // Never promise more than the limit lets through.
        if hint.lower() > self.remaining {
            return SizeHint::with_exact(0);
        }
        if hint.upper().is_none_or(|upper| upper > self.remaining) {
            hint.set_upper(self.remaining);
        }
        hint
    }
}

/// The inner error of a [`Body`] that would have passed its limit.
///
/// # Examples
///
/// ```
/// use roost_net::http::BodyTooLarge;
///
/// fn is_too_large(err: &std::io::Error) -> bool {
///     err.get_ref().is_some_and(|inner| inner.is::<BodyTooLarge>())
/// }
/// # let _ = is_too_large;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTooLarge {
    /// The limit, in bytes.
    pub limit: u64,
}

impl BodyTooLarge {
    fn error(limit: u64) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, BodyTooLarge { limit })
    }
}

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request body larger than the limit of {} bytes", self.limit)
    }
}

impl std::error::Error for BodyTooLarge {}

/// `Body` is `Send` (axum and other frameworks require it) and `Unpin`.
const _: () = {
    const fn send_and_unpin<T: Send + Unpin>() {}
    send_and_unpin::<Body>();
};
