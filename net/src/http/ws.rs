//! WebSockets on [`roost_net::http`](super) (feature `ws`), with the
//! connection kept on the worker that accepted it.
//!
//! [`WebSocketUpgrade`] is an axum extractor with the API of axum's own
//! (`axum::extract::ws::WebSocketUpgrade`): a handler takes it and returns
//! [`on_upgrade`](WebSocketUpgrade::on_upgrade)'s response, and the
//! callback gets a [`WebSocket`] once the handshake is done. A hyper
//! service (no axum) gets one from the request with
//! [`WebSocketUpgrade::from_request`]. Both HTTP/1.1 upgrades (`GET` with
//! `Upgrade: websocket`) and HTTP/2's extended `CONNECT` (RFC 8441) are
//! served, over plain and TLS connections.
//!
//! The difference from axum's is where the socket lives: axum's runs the
//! callback in `tokio::spawn`, which on a roost worker is roost's
//! tokio-compat thread, so every frame would cross threads (it works: see
//! `upgrade.rs` for how). Here the callback runs in a task of the
//! worker that served the request (`roost::task::spawn_local`), reading and
//! writing the worker's own stream; neither the callback nor its future
//! needs to be `Send`, so per-core `Rc` state can be used in it.
//!
//! The protocol itself (framing, masking, fragments, ping, close) is
//! tokio-tungstenite's; [`Message`], [`CloseFrame`], [`WebSocketConfig`] and
//! [`Error`] are its types.
//!
//! # Examples
//!
//! An echo endpoint, as `examples/axum.rs` serves at `/ws`:
//!
//! ```
//! use axum::routing::get;
//! use axum::Router;
//! use roost_net::http::ws::{Message, WebSocket, WebSocketUpgrade};
//!
//! async fn echo(mut socket: WebSocket) {
//!     while let Some(Ok(message)) = socket.recv().await {
//!         let reply = match message {
//!             Message::Text(_) | Message::Binary(_) => message,
//!             Message::Close(_) => break,
//!             _ => continue, // pings are answered by the protocol
//!         };
//!         if socket.send(reply).await.is_err() {
//!             break;
//!         }
//!     }
//! }
//!
//! let app: Router = Router::new().route("/ws", get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(echo) }));
//! # drop(app);
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ::hyper::body::Bytes;
use ::hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use ::hyper::http::request::Parts;
use ::hyper::upgrade::{OnUpgrade, Upgraded};
use ::hyper::{Method, Request, Response, StatusCode, Version};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

pub use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
pub use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
pub use tokio_tungstenite::tungstenite::{Error, Message, Utf8Bytes};

/// A request to open a WebSocket, taken from the request's head; answer it
/// with [`on_upgrade`](Self::on_upgrade) (see the module documentation).
pub struct WebSocketUpgrade {
    on_upgrade: OnUpgrade,
    /// `Sec-WebSocket-Key`, on HTTP/1.1 (HTTP/2 has none).
    key: Option<HeaderValue>,
    /// The subprotocols the client offered, in its order.
    offered: Vec<HeaderValue>,
    /// The one chosen by [`protocols`](Self::protocols).
    protocol: Option<HeaderValue>,
    config: WebSocketConfig,
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("offered", &self.offered)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

/// Why a request could not open a WebSocket; as a response, its
/// [`status`](Self::status) and its message as the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// HTTP/1.1 needs `GET` (`405`).
    MethodNotGet,
    /// HTTP/2 needs `CONNECT` with `:protocol websocket` (`405`).
    MethodNotConnect,
    /// HTTP/1.1: `Connection` does not name `upgrade` (`400`).
    NoConnectionUpgrade,
    /// HTTP/1.1: `Upgrade` is not `websocket`; HTTP/2: `:protocol` is
    /// not `websocket` (`400`).
    NotWebSocket,
    /// `Sec-WebSocket-Version` is not `13` (`426`, with the version this
    /// server speaks in `Sec-WebSocket-Version`).
    UnsupportedVersion,
    /// HTTP/1.1: no `Sec-WebSocket-Key` (`400`).
    NoKey,
    /// The connection cannot be upgraded: HTTP/1.0, or a request that did
    /// not come from a hyper server (`426`).
    NotUpgradable,
}

impl Rejection {
    /// The status it is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MethodNotGet | Self::MethodNotConnect => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedVersion | Self::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
            Self::NoConnectionUpgrade | Self::NotWebSocket | Self::NoKey => StatusCode::BAD_REQUEST,
        }
    }

    /// The rejection as a response: its status, its message as a plain
    /// text body.
    pub fn into_response(self) -> Response<http_body_util::Full<Bytes>> {
        let mut response = Response::new(http_body_util::Full::new(Bytes::from(self.to_string())));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if self == Self::UnsupportedVersion {
            headers.insert(header::SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        }
        response
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MethodNotGet => "a WebSocket over HTTP/1.1 is opened with GET",
            Self::MethodNotConnect => "a WebSocket over HTTP/2 is opened with CONNECT",
            Self::NoConnectionUpgrade => "the Connection header does not name upgrade",
            Self::NotWebSocket => "the request does not ask for the websocket protocol",
            Self::UnsupportedVersion => "Sec-WebSocket-Version is not 13",
            Self::NoKey => "the Sec-WebSocket-Key header is missing",
            Self::NotUpgradable => "this connection cannot be upgraded",
        })
    }
}

impl std::error::Error for Rejection {}

impl axum_core::response::IntoResponse for Rejection {
    fn into_response(self) -> axum_core::response::Response {
        Rejection::into_response(self).map(axum_core::body::Body::new)
    }
}

impl<S: Sync> axum_core::extract::FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Rejection> {
        Self::from_parts(parts)
    }
}

/// Whether a comma-separated header names `token`, in any case.
fn names(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|part| part.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

impl WebSocketUpgrade {
    /// Checks a request's head for a WebSocket handshake and takes its
    /// upgrade from the extensions (the axum extractor calls this).
    ///
    /// # Errors
    ///
    /// A [`Rejection`] that says what is missing or wrong.
    pub fn from_parts(parts: &mut Parts) -> Result<Self, Rejection> {
        let checked = Self::check(&parts.method, parts.version, &parts.headers, parts.extensions.get())?;
        Self::upgrade(checked, parts.extensions.remove())
    }

    /// As [`from_parts`](Self::from_parts), for a hyper service's request.
    ///
    /// # Errors
    ///
    /// As [`from_parts`](Self::from_parts).
    pub fn from_request<B>(request: &mut Request<B>) -> Result<Self, Rejection> {
        let checked = Self::check(
            request.method(),
            request.version(),
            request.headers(),
            request.extensions().get(),
        )?;
        Self::upgrade(checked, request.extensions_mut().remove())
    }

    /// Checks the head for a WebSocket handshake: its key (HTTP/1.1 only)
    /// and the subprotocols offered, or what is wrong.
    fn check(
        method: &Method,
        version: Version,
        headers: &HeaderMap,
        protocol: Option<&::hyper::ext::Protocol>,
    ) -> Result<(Option<HeaderValue>, Vec<HeaderValue>), Rejection> {
        let key = if version <= Version::HTTP_11 {
            if method != Method::GET {
                return Err(Rejection::MethodNotGet);
            }
            if !names(headers, header::CONNECTION, "upgrade") {
                return Err(Rejection::NoConnectionUpgrade);
            }
            if !names(headers, header::UPGRADE, "websocket") {
                return Err(Rejection::NotWebSocket);
            }
            Some(headers.get(header::SEC_WEBSOCKET_KEY).ok_or(Rejection::NoKey)?.clone())
        } else {
            if method != Method::CONNECT {
                return Err(Rejection::MethodNotConnect);
            }
            if protocol.is_none_or(|p| !p.as_str().eq_ignore_ascii_case("websocket")) {
                return Err(Rejection::NotWebSocket);
            }
            None
        };
        if headers.get(header::SEC_WEBSOCKET_VERSION).is_none_or(|v| v != "13") {
            return Err(Rejection::UnsupportedVersion);
        }
        if version < Version::HTTP_11 {
            return Err(Rejection::NotUpgradable);
        }
        let offered = headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .flat_map(|value| value.as_bytes().split(|&b| b == b','))
            .filter_map(|name| HeaderValue::from_bytes(name.trim_ascii()).ok())
            .filter(|name| !name.is_empty())
            .collect();
        Ok((key, offered))
    }

    /// A checked handshake with the request's upgrade (taken from its
    /// extensions only once the head passed).
    fn upgrade(
        (key, offered): (Option<HeaderValue>, Vec<HeaderValue>),
        on_upgrade: Option<OnUpgrade>,
    ) -> Result<Self, Rejection> {
        Ok(Self {
            on_upgrade: on_upgrade.ok_or(Rejection::NotUpgradable)?,
            key,
            offered,
            protocol: None,
            config: WebSocketConfig::default(),
        })
    }

    /// The subprotocols this endpoint speaks, in its order of preference:
    /// the first one the client offered is chosen and sent back in
    /// `Sec-WebSocket-Protocol`. None in common: none is sent, as RFC 6455
    /// asks, and the client decides whether to go on.
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.protocol = protocols.into_iter().find_map(|ours| {
            self.offered
                .iter()
                .find(|theirs| theirs.as_bytes().eq_ignore_ascii_case(ours.as_ref().as_bytes()))
                .cloned()
        });
        self
    }

    /// The subprotocol chosen by [`protocols`](Self::protocols).
    pub fn selected_protocol(&self) -> Option<&HeaderValue> {
        self.protocol.as_ref()
    }

    /// The protocol's limits (tungstenite's defaults: 64 MiB messages,
    /// 16 MiB frames). A peer over them gets a close with code 1009 and
    /// [`WebSocket::recv`] returns the error.
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        self.config = config;
        self
    }

    /// The largest message accepted, in bytes (`None`: no limit).
    pub fn max_message_size(mut self, bytes: impl Into<Option<usize>>) -> Self {
        self.config = self.config.max_message_size(bytes.into());
        self
    }

    /// The largest frame accepted, in bytes (`None`: no limit).
    pub fn max_frame_size(mut self, bytes: impl Into<Option<usize>>) -> Self {
        self.config = self.config.max_frame_size(bytes.into());
        self
    }

    /// The handshake's response, to be returned by the handler; once it is
    /// sent, `callback` runs with the [`WebSocket`] in a task of this
    /// worker (`roost::task::spawn_local`). If the upgrade fails (the client
    /// went away first), the callback is not called.
    ///
    /// Called off a roost worker (a handler run by something other than
    /// roost's server), the answer is `500` and nothing is spawned.
    pub fn on_upgrade<C, Fut>(self, callback: C) -> Response<Empty<Bytes>>
    where
        C: FnOnce(WebSocket) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let Self {
            on_upgrade,
            key,
            protocol,
            config,
            ..
        } = self;
        let chosen = protocol.clone();
        let task = async move {
            let Ok(upgraded) = on_upgrade.await else { return };
            let inner = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
            callback(WebSocket {
                inner,
                protocol,
                peer_close: None,
            })
            .await;
        };
        let mut response = Response::new(Empty::new());
        if roost_runtime::try_spawn_local(task).is_err() {
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return response;
        }
        // HTTP/2: a 200 to the CONNECT opens the stream; HTTP/1.1 switches
        // protocols.
        if key.is_some() {
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        }
        let headers = response.headers_mut();
        if let Some(key) = key {
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            let accept = derive_accept_key(key.as_bytes());
            headers.insert(
                header::SEC_WEBSOCKET_ACCEPT,
                HeaderValue::from_str(&accept).expect("base64 is a valid header value"),
            );
        }
        if let Some(protocol) = chosen {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
        }
        response
    }
}

/// An open WebSocket, on the worker that accepted its connection: a
/// [`Stream`] of received [`Message`]s and a [`Sink`] of sent ones, or
/// [`recv`](Self::recv) and [`send`](Self::send).
///
/// Pings are answered with pongs by the protocol (on the next receive or
/// send). A close from the peer is answered, and the answer is sent before
/// `recv` returns the `Close` message (then `None`), so a handler that
/// returns on it still completes the closing handshake.
pub struct WebSocket {
    inner: WebSocketStream<TokioIo<Upgraded>>,
    protocol: Option<HeaderValue>,
    /// The peer's close, held while the answer is flushed.
    peer_close: Option<Message>,
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// The next message; `None` once the socket is closed.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        self.next().await
    }

    /// Sends one message (and flushes it).
    ///
    /// # Errors
    ///
    /// tungstenite's: the connection closed or broke, or the message is
    /// over the limits.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.inner.send(message).await
    }

    /// Starts the closing handshake with `frame` (code and reason) and
    /// flushes it; go on receiving to see the peer's close.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        self.inner.close(frame).await
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&HeaderValue> {
        self.protocol.as_ref()
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.peer_close.is_none() {
            match ready!(self.inner.poll_next_unpin(cx)) {
                Some(Ok(close @ Message::Close(_))) => self.peer_close = Some(close),
                other => return Poll::Ready(other),
            }
        }
        // tungstenite queued the answer to the peer's close; it goes out
        // now, not on a next call that a handler returning on the close
        // would never make. A peer that is already gone makes it fail,
        // which changes nothing for the close handed over.
        let _ = ready!(self.inner.poll_flush_unpin(cx));
        Poll::Ready(self.peer_close.take().map(Ok))
    }
}

impl Sink<Message> for WebSocket {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready_unpin(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.inner.start_send_unpin(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_flush_unpin(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_close_unpin(cx)
    }
}
