//! UnixListener and UnixStream on real sockets: echo through tokio's
//! AsyncReadExt/AsyncWriteExt, split halves, a path that is taken, pair(),
//! connect errors, vectored writes, shutdown, peer credentials, moving a
//! stream between workers, and UnixDatagram.

#[path = "support/net.rs"]
mod support;

use std::future::poll_fn;
use std::io::ErrorKind;
use std::net::Shutdown;
use std::os::unix::fs::MetadataExt;

use roost::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use roost::net::{UnixDatagram, UnixListener, UnixStream};
use support::{ByteStream, TempDir};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};

/// Accepts connections on `listener` forever, echoing each one through its
/// borrowed split halves.
async fn echo_forever(listener: UnixListener) {
    loop {
        let (mut stream, _) = listener.accept().await.unwrap();
        drop(roost::spawn(async move {
            let (mut reader, mut writer) = stream.split();
            tokio::io::copy(&mut reader, &mut writer).await.unwrap();
            writer.shutdown().await.unwrap();
        }));
    }
}

#[roost::test]
async fn echo_a_megabyte_through_split_halves() {
    let dir = TempDir::new("unix-echo");
    let path = dir.path("echo.sock");
    let listener = UnixListener::bind(&path).unwrap();
    assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    drop(roost::spawn(echo_forever(listener)));

    let client = UnixStream::connect(&path).await.unwrap();
    assert_eq!(client.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
    assert!(client.local_addr().unwrap().is_unnamed());
    let (mut reader, mut writer) = client.into_split();
    let total = 1 << 20;
    let write = roost::spawn(async move {
        let mut data = ByteStream::new(1);
        let mut chunk = vec![0u8; 7919];
        let mut sent = 0;
        while sent < total {
            let n = chunk.len().min(total - sent);
            data.fill(&mut chunk[..n]);
            writer.write_all(&chunk[..n]).await.unwrap();
            sent += n;
        }
        writer.shutdown().await.unwrap();
        writer
    });
    let mut check = ByteStream::new(1);
    let mut seen = 0;
    let mut buf = vec![0u8; 10_000];
    loop {
        let n = reader.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        assert!(check.matches(&buf[..n]), "echoed bytes differ near offset {seen}");
        seen += n;
    }
    assert_eq!(seen, total);
    let writer = write.await.unwrap();
    assert!(reader.reunite(writer).is_ok());
}
#[roost::test]
async fn dropping_the_owned_write_half_ends_the_peers_stream() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let (mut reader, writer): (OwnedReadHalf, OwnedWriteHalf) = a.into_split();
    drop(writer);
    let mut rest = Vec::new();
    b.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    // The other direction is still open.
    b.write_all(b"still here").await.unwrap();
    let mut got = [0u8; 10];
    reader.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"still here");

    // Halves of different streams do not reunite; a forgotten write half
    // does not shut anything down.
    let (c, mut d) = UnixStream::pair().unwrap();
    let (c_reader, c_writer) = c.into_split();
    let (reader, c_writer) = match reader.reunite(c_writer) {
        Err(halves) => halves,
        Ok(_) => panic!("halves of two streams reunited"),
    };
    drop(reader);
    c_writer.forget();
    c_reader.peer_addr().unwrap();
    d.write_all(b"x").await.unwrap();
}

#[roost::test]
async fn binding_a_taken_path_is_addr_in_use_and_names_the_path() {
    let dir = TempDir::new("unix-taken");
    let path = dir.path("taken.sock");
    let first = UnixListener::bind(&path).unwrap();
    let err = UnixListener::bind(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    assert!(err.to_string().contains(path.to_str().unwrap()), "{err}");
    let os = std::error::Error::source(&err)
        .and_then(|e| e.downcast_ref::<std::io::Error>())
        .expect("the system's error is the source");
    assert_eq!(os.raw_os_error(), Some(libc::EADDRINUSE));

    // A socket file left behind by a dropped listener still takes the path
    // (as with tokio and std: remove it before binding again).
    drop(first);
    assert_eq!(UnixListener::bind(&path).unwrap_err().kind(), ErrorKind::AddrInUse);
    std::fs::remove_file(&path).unwrap();
    UnixListener::bind(&path).unwrap();
}
#[roost::test]
async fn connect_errors_are_clear() {
    let dir = TempDir::new("unix-connect");
    let missing = dir.path("missing.sock");
    let err = UnixStream::connect(&missing).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("missing.sock"), "{err}");
    // A socket file nobody listens on any more.
    let stale = dir.path("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let err = UnixStream::connect(&stale).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
}
#[roost::test]
async fn a_pair_talks_both_ways_with_vectored_writes_and_shutdown() {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    assert!(a.local_addr().unwrap().is_unnamed());
    assert!(tokio::io::AsyncWrite::is_write_vectored(&a));
    let n = a
        .write_vectored(&[std::io::IoSlice::new(b"head"), std::io::IoSlice::new(b"body")])
        .await
        .unwrap();
    assert_eq!(n, 8, "a Unix socket takes a small writev whole");
    let mut got = [0u8; 8];
    b.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"headbody");

    b.write_all(b"reply").await.unwrap();
    AsyncWriteExt::shutdown(&mut b).await.unwrap();
    let mut reply = Vec::new();
    a.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, b"reply");

    a.shutdown_std(Shutdown::Both).unwrap();
    assert!(a.take_error().unwrap().is_none());
}

#[roost::test]
async fn peer_credentials_are_this_process() {
    let dir = TempDir::new("unix-cred");
    let probe = dir.path("probe");
    std::fs::write(&probe, b"").unwrap();
    let uid = std::fs::metadata(&probe).unwrap().uid();
    let (a, _b) = UnixStream::pair().unwrap();
    let cred = a.peer_cred().unwrap();
    assert_eq!(cred.uid(), uid);
    if cfg!(target_os = "linux") {
        assert_eq!(cred.pid().map(|pid| pid as u32), Some(std::process::id()));
    }
}
#[roost::test(worker_threads = 2)]
async fn a_stream_moves_between_workers_explicitly() {
    let (mut a, b) = UnixStream::pair().unwrap();
    a.write_all(b"from worker 0;").await.unwrap();
    let std_stream = a.into_std().unwrap();
    let worker = roost::runtime::spawn_on(1, async move {
        roost::runtime::spawn_local(async move {
            let mut s = UnixStream::from_std(std_stream).unwrap();
            s.write_all(b" on worker 1").await.unwrap();
            roost::runtime::current_worker()
        })
        .await
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(worker, Some(1));
    let mut b = b;
    let mut got = [0u8; 26];
    b.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"from worker 0; on worker 1");
}
#[roost::test]
async fn a_listener_moves_through_std() {
    let dir = TempDir::new("unix-std");
    let path = dir.path("std.sock");
    let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let listener = UnixListener::from_std(std_listener).unwrap();
    let mut client = UnixStream::connect(&path).await.unwrap();
    let (mut served, _) = listener.accept().await.unwrap();
    client.write_all(b"!").await.unwrap();
    let mut one = [0u8; 1];
    served.read_exact(&mut one).await.unwrap();
    let back = listener.into_std().unwrap();
    assert_eq!(back.local_addr().unwrap().as_pathname(), Some(path.as_path()));
}

#[roost::test]
async fn datagrams_between_bound_paths_and_a_pair() {
    let dir = TempDir::new("unix-dgram");
    let (server_path, client_path) = (dir.path("server"), dir.path("client"));
    let server = UnixDatagram::bind(&server_path).unwrap();
    let client = UnixDatagram::bind(&client_path).unwrap();
    assert_eq!(client.send_to(b"request", &server_path).await.unwrap(), 7);
    let mut buf = [0u8; 64];
    let (n, from) = server.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"request");
    assert_eq!(from.as_pathname(), Some(client_path.as_path()));
    server.send_to(b"reply", from.as_pathname().unwrap()).await.unwrap();
    let mut storage = [0u8; 64];
    let mut read = ReadBuf::new(&mut storage);
    let from = poll_fn(|cx| client.poll_recv_from(cx, &mut read)).await.unwrap();
    assert_eq!(
        (read.filled(), from.as_pathname()),
        (&b"reply"[..], Some(server_path.as_path()))
    );

    // Connected, from an unbound socket; a long datagram is cut to the buffer.
    let unbound = UnixDatagram::unbound().unwrap();
    unbound.connect(&server_path).unwrap();
    assert_eq!(unbound.peer_addr().unwrap().as_pathname(), Some(server_path.as_path()));
    unbound.send(&[5u8; 100]).await.unwrap();
    let mut small = [0u8; 10];
    let (n, from) = server.recv_from(&mut small).await.unwrap();
    assert_eq!((n, from.is_unnamed()), (10, true));

    let (a, b) = UnixDatagram::pair().unwrap();
    a.send(b"paired").await.unwrap();
    let n = b.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"paired");
    a.shutdown(Shutdown::Both).unwrap();
    assert!(a.take_error().unwrap().is_none());
}

#[roost::test]
async fn datagram_paths_that_are_taken_or_missing_are_clear_errors() {
    let dir = TempDir::new("unix-dgram-errors");
    let path = dir.path("taken");
    let _taken = UnixDatagram::bind(&path).unwrap();
    let err = UnixDatagram::bind(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AddrInUse);
    assert!(err.to_string().contains("taken"), "{err}");
    let socket = UnixDatagram::unbound().unwrap();
    let missing = dir.path("missing");
    assert_eq!(
        socket.send_to(b"?", &missing).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let err = socket.connect(&missing).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("missing"), "{err}");
}
