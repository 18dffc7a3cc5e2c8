//! The service wrapper every connection runs: the request-body limit in
//! front of the user's service.
//!
//! - A request whose `Content-Length` is over the limit is answered `413`
//!   at once; the user's service is not called and the body is never read.
//! - Otherwise the service gets the request with its body wrapped in a
//!   [`Body`] under the limit. If that body fails with
//!   [`BodyTooLarge`](super::BodyTooLarge) (a chunked or HTTP/2 body that
//!   turned out too long), the service's answer, `Ok` or `Err`, is replaced
//!   by `413`.
//! - Every `413` on HTTP/1 carries `connection: close`: the rest of the
//!   body is not read, so the connection cannot be reused and hyper closes
//!   it once the response is written. On HTTP/2 only the stream ends.
//!
//! The wrapper holds the worker's service in an `Rc` (built once per worker
//! by the server's factory), so neither needs to be `Send` or `Clone`.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use ::hyper::body::{Body as HttpBody, Incoming};
use ::hyper::header::{HeaderValue, CONNECTION, CONTENT_LENGTH};
use ::hyper::service::Service;
use ::hyper::{Request, Response, StatusCode, Version};
use http_body_util::{Either, Empty};

use super::conn::ConnService;
use super::Body;
use crate::TcpStream;

/// The response body of a wrapped service: the service's own, or the empty
/// body of a `413`.
pub(crate) type LimitedResponse<B> = Response<Either<B, Empty<<B as HttpBody>::Data>>>;

/// A worker's [`ConnService`] for HTTP: its service (built once per
/// worker) behind the body limit on every connection.
pub(crate) struct HttpConns<S> {
    pub(crate) service: Rc<S>,
    pub(crate) max_body: u64,
}

impl<S, B> ConnService for HttpConns<S>
where
    S: Service<Request<Body>, Response = Response<B>> + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: HttpBody + 'static,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    type Service = Limit<S>;
    type Body = Either<B, Empty<B::Data>>;

    fn connection(&self, _stream: &TcpStream) -> Limit<S> {
        Limit {
            inner: self.service.clone(),
            max_body: self.max_body,
        }
    }
}

/// The user's service behind the body limit.
pub(crate) struct Limit<S> {
    pub(crate) inner: Rc<S>,
    pub(crate) max_body: u64,
}

impl<S, B> Service<Request<Incoming>> for Limit<S>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: HttpBody,
{
    type Response = LimitedResponse<B>;
    type Error = Box<dyn StdError + Send + Sync>;
    type Future = LimitFuture<S::Future>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let version = req.version();
        if declared_length(&req).is_some_and(|len| len > self.max_body) {
            return LimitFuture::TooLarge { version };
        }
        // A request without a body (most GETs) needs no flag: nothing can
        // pass the limit, and no allocation is made for it.
        let exceeded = (!req.body().is_end_stream()).then(|| Arc::new(AtomicBool::new(false)));
        let req = req.map(|body| Body::new(body, self.max_body, exceeded.clone()));
        LimitFuture::Called {
            inner: self.inner.call(req),
            exceeded,
            version,
        }
    }
}

/// The request's `Content-Length`, when it has one that parses.
fn declared_length<T>(req: &Request<T>) -> Option<u64> {
    req.headers().get(CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// An empty `413 Payload Too Large` (with `connection: close` on HTTP/1).
fn payload_too_large<B: HttpBody>(version: Version) -> LimitedResponse<B> {
    let mut res = Response::new(Either::Right(Empty::new()));
    *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    if version < Version::HTTP_2 {
        res.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// The future of [`Limit::call`].
pub(crate) enum LimitFuture<F> {
    /// Refused before the service was called.
    TooLarge { version: Version },
    /// The service's future, pinned in place (structurally: see `poll`).
    Called {
        inner: F,
        exceeded: Option<Arc<AtomicBool>>,
        version: Version,
    },
}

impl<F, B, E> Future for LimitFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<Box<dyn StdError + Send + Sync>>,
    B: HttpBody,
{
    type Output = Result<LimitedResponse<B>, Box<dyn StdError + Send + Sync>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is pinned structurally: it is never moved out of
        // `self` (only polled through `Pin::new_unchecked` below, and
        // dropped in place with the enum, which has no `Drop` impl of its
        // own); the other fields are not pinned.
        match unsafe { self.get_unchecked_mut() } {
            LimitFuture::TooLarge { version } => Poll::Ready(Ok(payload_too_large(*version))),
            LimitFuture::Called {
                inner,
                exceeded,
                version,
            } => {
                // SAFETY: see above; `inner` stays where it is.
                let inner = unsafe { Pin::new_unchecked(inner) };
                let out = ready!(inner.poll(cx));
                if exceeded.as_ref().is_some_and(|flag| flag.load(Ordering::Relaxed)) {
                    return Poll::Ready(Ok(payload_too_large(*version)));
                }
                Poll::Ready(out.map(|res| res.map(Either::Left)).map_err(Into::into))
            }
        }
    }
}
