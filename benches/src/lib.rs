//! Shared helpers for the roost benchmarks.
//!
//! - [`cores`]: the cores this process may run on, read once, and pinning a
//!   thread to one of them.
//! - [`counters`]: what a server's threads cost per operation, counted
//!   (perf events, syscalls, CPU time, allocations through
//!   [`counting_alloc`]).
//! - [`interleave`]: interleaved runs of several servers, with their costs.
//! - [`memory`]: the process's resident memory, now and at its peak.
//! - [`handoff`]: a two-thread pipeline that makes items on one pinned core
//!   and consumes them on another, through a bounded single-producer,
//!   single-consumer ring, timed end to end.
//! - [`global_alloc`]: pipeline ends that allocate from and free to any
//!   `GlobalAlloc`, called directly, and a bare-ring baseline.
//! - [`samples`]: a log of timed runs, reduced to a median time per operation.
//! - [`report`]: summary lines that put a subject beside its baselines.
//! - [`closed_loop`]: [`LoadClient`](closed_loop::LoadClient), how a bench
//!   runs any HTTP or gRPC load client, and the async clients' run loop.
//! - [`rpc_client`]: a closed-loop RPC load client on mio, with latencies.
//! - [`http1_client`]: a closed-loop HTTP/1.1 keep-alive load client on mio.
//! - [`h2_client`]: a closed-loop HTTP/2 (h2c) load client on the h2 crate.
//! - [`grpc_client`]: a closed-loop gRPC load client, gRPC by hand on the
//!   h2 crate.
//! - [`hyper_client`]: hyper's HTTP/1.1 client as a load client, the
//!   yardstick for `http1_client`'s cost, and the HTTPS cases' client.
//! - [`handshake_client`]: a new TLS connection per request, for the
//!   handshake-rate case.
//! - [`tls`]: the HTTPS cases' certificate and configurations (resumption
//!   off).
//!
//! Platform calls live under `sys/`, one file per mechanism.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[macro_use]
extern crate roost_runtime;

pub mod closed_loop;
pub mod cores;
pub mod counters;
pub mod counting_alloc;
pub mod global_alloc;
pub mod grpc_client;
pub mod h2_client;
pub mod handoff;
pub mod handshake_client;
pub mod http1_client;
pub mod hyper_client;
pub mod interleave;
pub mod memory;
pub mod report;
pub mod rpc_client;
pub mod samples;
pub mod settings;
mod sys;
pub mod tls;
