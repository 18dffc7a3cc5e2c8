"""gRPC's C core (python3-grpcio) against examples/grpc.rs: python3 grpcio_echo.py HOST:PORT.

Messages are encoded by hand (one string field), so no generated stubs or
grpcio-tools are needed. Prints each check, then "all ok"; exits non-zero on
the first failure.
"""
import sys
import time

import grpc


def encode(text):
    data = text.encode()
    n, varint = len(data), b""
    while True:
        low, n = n & 0x7F, n >> 7
        varint += bytes([low | (0x80 if n else 0)])
        if not n:
            return b"\x0a" + varint + data


def decode(data):
    if not data:
        return ""
    assert data[0] == 0x0A, data[:8]
    i, n, shift = 1, 0, 0
    while True:
        byte = data[i]
        i += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return data[i : i + n].decode()


def check(name, got, want):
    if got != want:
        sys.exit(f"{name}: got {got!r}, want {want!r}")
    print(f"{name}: ok")


def code_of(call):
    try:
        call()
    except grpc.RpcError as e:
        return e.code()
    return grpc.StatusCode.OK


channel = grpc.insecure_channel(sys.argv[1])
grpc.channel_ready_future(channel).result(timeout=20)
echo = "/grpc.examples.echo.Echo/"
unary = channel.unary_unary(echo + "UnaryEcho", request_serializer=encode, response_deserializer=decode)
check("unary", unary("hello"), "hello")
server_stream = channel.unary_stream(echo + "ServerStreamingEcho", request_serializer=encode, response_deserializer=decode)
check("server streaming", list(server_stream("hi")), ["hi"] * 10)
client_stream = channel.stream_unary(echo + "ClientStreamingEcho", request_serializer=encode, response_deserializer=decode)
check("client streaming", client_stream(iter(["a", "b", "c"])), "abc")
bidi = channel.stream_stream(echo + "BidirectionalStreamingEcho", request_serializer=encode, response_deserializer=decode)
check("bidirectional", list(bidi(iter(["x", "y", "z"]))), ["x", "y", "z"])
health = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=encode, response_deserializer=lambda b: b)
# HealthCheckResponse { status: SERVING (1) }
check("health of the server", health(""), b"\x08\x01")
check("health of echo", health("grpc.examples.echo.Echo"), b"\x08\x01")
nope = channel.unary_unary(echo + "Nope", request_serializer=encode, response_deserializer=decode)
check("unknown method", code_of(lambda: nope("x")), grpc.StatusCode.UNIMPLEMENTED)
check("oversized message", code_of(lambda: unary("x" * (5 << 20))), grpc.StatusCode.RESOURCE_EXHAUSTED)
check("unary after those", unary("still here"), "still here")


def slow_parts():
    # The call cannot finish before the last part, two seconds on; its
    # deadline is 0.2 s.
    yield "early"
    time.sleep(2)
    yield "late"


check("a deadline", code_of(lambda: client_stream(slow_parts(), timeout=0.2)), grpc.StatusCode.DEADLINE_EXCEEDED)
gzip = grpc.insecure_channel(sys.argv[1], compression=grpc.Compression.Gzip)
gzip_unary = gzip.unary_unary(echo + "UnaryEcho", request_serializer=encode, response_deserializer=decode)
check("gzip", gzip_unary("z" * 4096), "z" * 4096)
print("all ok")
