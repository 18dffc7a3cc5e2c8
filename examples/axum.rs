//! An axum `Router` on roost: served by roost's per-core HTTP server
//! (`roost::net::http`) through hyper-util's tower adapter, not by
//! `axum::serve` (which runs on tokio's runtime). HTTP/1.1 and h2c on one
//! port.
//!
//! - `GET /`: a plain-text greeting
//! - `GET /json`: a JSON object naming the worker that answered
//! - `GET /users/{id}`: a path parameter, echoed back as JSON
//! - `POST /hits`: increments a counter shared by all workers (state) and
//!   returns it as JSON
//! - `GET /ws`: a WebSocket that echoes every text and binary message
//!   (roost's `WebSocketUpgrade`: the socket stays on the worker that
//!   accepted the connection); HTTP/2's extended CONNECT works too
//!
//! ```sh
//! cargo run --release --example axum -- 127.0.0.1:8081
//! curl http://127.0.0.1:8081/json
//! curl http://127.0.0.1:8081/users/42
//! curl -X POST http://127.0.0.1:8081/hits
//! curl --http2-prior-knowledge http://127.0.0.1:8081/json
//! python3 -m websockets ws://127.0.0.1:8081/ws   # Debian's python3-websockets
//! ```
//!
//! The first argument is the listen address (default `127.0.0.1:0`); the
//! server prints `axum serving on ADDR with N workers`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use hyper_util::service::TowerToHyperService;
use roost::net::http;
use roost::net::http::ws::{Message, WebSocket, WebSocketUpgrade};
use roost::runtime::Runtime;
use serde::Serialize;

/// State shared by every worker's copy of the router.
#[derive(Clone, Default)]
struct AppState {
    hits: Arc<AtomicU64>,
}

#[derive(Serialize)]
struct Hello {
    message: &'static str,
    worker: Option<usize>,
}

#[derive(Serialize)]
struct User {
    id: u64,
    name: String,
}

#[derive(Serialize)]
struct Hits {
    hits: u64,
}

async fn root() -> &'static str {
    "Hello from axum on roost!\n"
}

async fn json() -> Json<Hello> {
    Json(Hello {
        message: "Hello, world!",
        worker: roost::runtime::current_worker(),
    })
}

async fn user(Path(id): Path<u64>) -> Json<User> {
    Json(User {
        id,
        name: format!("user {id}"),
    })
}

async fn hit(State(state): State<AppState>) -> Json<Hits> {
    let hits = state.hits.fetch_add(1, Ordering::Relaxed) + 1;
    Json(Hits { hits })
}

async fn ws(upgrade: WebSocketUpgrade) -> impl axum::response::IntoResponse {
    upgrade.on_upgrade(echo)
}

/// Echoes text and binary messages until the client closes (pings are
/// answered by the protocol).
async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        let echoed = match message {
            Message::Text(_) | Message::Binary(_) => message,
            Message::Close(_) => return,
            _ => continue,
        };
        if socket.send(echoed).await.is_err() {
            return;
        }
    }
}

/// The example's routes.
fn router() -> Router {
    Router::new()
        .route("/", get(root))
        .route("/json", get(json))
        .route("/users/{id}", get(user))
        .route("/hits", post(hit))
        // `any`: HTTP/2 opens WebSockets with CONNECT.
        .route("/ws", any(ws))
        .with_state(AppState::default())
}

fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("listen address: {e}")))?;
    let rt = Runtime::new()?;
    let router = router();
    // One copy of the router per worker (cloning a Router is cheap: its
    // routes are shared), wrapped as a hyper service.
    let make_service = move || TowerToHyperService::new(router.clone());
    let server = rt.block_on(http::Server::builder().serve(rt.handle(), addr, make_service))?;
    println!(
        "axum serving on {} with {} workers",
        server.local_addr(),
        rt.worker_count()
    );
    rt.block_on(server.wait());
    Ok(())
}
