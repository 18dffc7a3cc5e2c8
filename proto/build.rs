//! Generates the `grpc.examples.echo.Echo` client and server with
//! tonic-build's manual builder: the messages are written by hand in
//! `src/lib.rs` (two one-field messages), so no `protoc` is needed.

use tonic_build::manual::{Builder, Method, Service};

fn method(name: &str, route: &str, client_streaming: bool, server_streaming: bool) -> Method {
    let mut builder = Method::builder()
        .name(name)
        .route_name(route)
        .input_type("crate::EchoRequest")
        .output_type("crate::EchoResponse")
        .codec_path("tonic_prost::ProstCodec");
    if client_streaming {
        builder = builder.client_streaming();
    }
    if server_streaming {
        builder = builder.server_streaming();
    }
    builder.build()
}

fn main() {
    let echo = Service::builder()
        .name("Echo")
        .package("grpc.examples.echo")
        .method(method("unary_echo", "UnaryEcho", false, false))
        .method(method("server_streaming_echo", "ServerStreamingEcho", false, true))
        .method(method("client_streaming_echo", "ClientStreamingEcho", true, false))
        .method(method(
            "bidirectional_streaming_echo",
            "BidirectionalStreamingEcho",
            true,
            true,
        ))
        .build();
    Builder::new()
        .build_transport(false)
        .build_client(true)
        .build_server(true)
        .compile(&[echo]);
    println!("cargo:rerun-if-changed=build.rs");
}
