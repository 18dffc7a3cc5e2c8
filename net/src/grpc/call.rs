//! One gRPC call as the server runs it: what the server does around the
//! user's service for every request of a connection.
//!
//! - The request gets the connection's addresses in its extensions
//!   (tonic's [`TcpConnectInfo`], so `Request::remote_addr()` works) and its
//!   body the message size limit ([`RequestBody`]).
//! - The call's deadline is the sooner of the client's `grpc-timeout` and
//!   the server's own [`timeout`](super::Builder::timeout). It covers the
//!   whole call: until the response head, the service's future is dropped
//!   at the deadline and the answer is a trailers-only `DEADLINE_EXCEEDED`;
//!   once the response streams, its body is dropped at the deadline (the
//!   handler's stream with it) and the trailers say `DEADLINE_EXCEEDED`.
//!   A call without a deadline makes no timer.
//! - A service error (a tower layer's, as tonic's services never fail) is
//!   answered with the status tonic makes of it, as tonic's own server does.
//!
//! Cancellation by the client needs nothing here: hyper drops the stream's
//! task, so the service's future and response body, when the client resets
//! the stream or the connection closes.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use ::hyper::body::{Body as HttpBody, Bytes, Frame, Incoming, SizeHint};
use ::hyper::header::HeaderMap;
use ::hyper::{Request, Response};
use roost_runtime::time::Sleep;
use tonic::transport::server::TcpConnectInfo;
use tonic::Status;
use tower::util::Oneshot;
use tower::{Service, ServiceExt};

use super::body::RequestBody;
use super::timeout;
use crate::http::conn::ConnService;
use crate::TcpStream;

type BoxError = Box<dyn StdError + Send + Sync>;

/// One worker's [`ConnService`] for gRPC: the user's service (built once
/// per worker) and the server's settings.
pub(crate) struct GrpcConns<S> {
    pub(crate) service: Rc<S>,
    pub(crate) max_message: usize,
    pub(crate) timeout: Option<Duration>,
}

impl<S, B> ConnService for GrpcConns<S>
where
    S: Service<Request<RequestBody>, Response = Response<B>> + Clone + 'static,
    S::Error: Into<BoxError>,
    B: HttpBody<Data = Bytes> + 'static,
    B::Error: Into<BoxError>,
{
    type Service = Calls<S>;
    type Body = CallBody<B>;

    fn connection(&self, stream: &TcpStream) -> Calls<S> {
        Calls {
            service: self.service.clone(),
            info: TcpConnectInfo {
                local_addr: stream.local_addr().ok(),
                remote_addr: stream.peer_addr().ok(),
            },
            max_message: self.max_message,
            timeout: self.timeout,
        }
    }
}

/// The calls of one connection.
pub(crate) struct Calls<S> {
    service: Rc<S>,
    info: TcpConnectInfo,
    max_message: usize,
    timeout: Option<Duration>,
}

impl<S, B> ::hyper::service::Service<Request<Incoming>> for Calls<S>
where
    S: Service<Request<RequestBody>, Response = Response<B>> + Clone,
    S::Error: Into<BoxError>,
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Response = Response<CallBody<B>>;
    type Error = BoxError;
    type Future = CallFuture<S>;

    fn call(&self, req: Request<Incoming>) -> CallFuture<S> {
        let deadline = timeout::sooner(timeout::from_headers(req.headers()), self.timeout);
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(self.info.clone());
        let req = Request::from_parts(parts, RequestBody::new(body, self.max_message));
        CallFuture {
            call: S::clone(&self.service).oneshot(req),
            deadline: deadline.map(roost_runtime::time::sleep),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of one call: the service's, raced with its deadline.
    pub(crate) struct CallFuture<S: Service<Request<RequestBody>>> {
        #[pin]
        call: Oneshot<S, Request<RequestBody>>,
        deadline: Option<Sleep>,
    }
}

impl<S, B> Future for CallFuture<S>
where
    S: Service<Request<RequestBody>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    B: HttpBody<Data = Bytes>,
{
    type Output = Result<Response<CallBody<B>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = match this.call.poll(cx) {
            Poll::Ready(out) => out,
            Poll::Pending => {
                if let Some(deadline) = this.deadline {
                    ready!(Pin::new(deadline).poll(cx));
                    return Poll::Ready(Ok(status_response(deadline_exceeded())));
                }
                return Poll::Pending;
            }
        };
        Poll::Ready(Ok(match out {
            Ok(res) => res.map(|body| CallBody::Streaming {
                body,
                deadline: this.deadline.take(),
            }),
            Err(e) => status_response(Status::from_error(e.into())),
        }))
    }
}

fn deadline_exceeded() -> Status {
    Status::deadline_exceeded("the call's deadline passed before it finished")
}

/// A trailers-only answer: `status` in the response head, no body.
fn status_response<B>(status: Status) -> Response<CallBody<B>> {
    status.into_http::<()>().map(|()| CallBody::Done)
}

pin_project_lite::pin_project! {
    /// The response body of a call: the service's, cut at the deadline.
    #[project = CallBodyProj]
    pub(crate) enum CallBody<B> {
        /// The service's body, under the call's deadline (if it has one).
        Streaming { #[pin] body: B, deadline: Option<Sleep> },
        /// The deadline passed while the body streamed: its trailers.
        Expired { trailers: Option<HeaderMap> },
        /// Nothing more (a trailers-only answer, or after the trailers).
        Done,
    }
}

impl<B> HttpBody for CallBody<B>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.as_mut().project() {
            CallBodyProj::Streaming { body, deadline } => {
                if let Poll::Ready(frame) = body.poll_frame(cx) {
                    return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
                }
                let expired = deadline.as_mut().is_some_and(|d| Pin::new(d).poll(cx).is_ready());
                if !expired {
                    return Poll::Pending;
                }
                // Dropping the service's body here cancels what produces it.
                let mut trailers = HeaderMap::new();
                // `add_header` fails only on a message that cannot be a
                // header value; this one can.
                let _ = deadline_exceeded().add_header(&mut trailers);
                self.set(CallBody::Expired {
                    trailers: Some(trailers),
                });
                self.poll_frame(cx)
            }
            CallBodyProj::Expired { trailers } => {
                let trailers = trailers.take();
                self.set(CallBody::Done);
                Poll::Ready(trailers.map(|t| Ok(Frame::trailers(t))))
            }
            CallBodyProj::Done => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            CallBody::Streaming { body, .. } => body.is_end_stream(),
            CallBody::Expired { .. } => false,
            CallBody::Done => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            CallBody::Streaming { body, .. } => body.size_hint(),
            CallBody::Expired { .. } => SizeHint::default(),
            CallBody::Done => SizeHint::with_exact(0),
        }
    }
}
