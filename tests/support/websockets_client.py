"""A WebSocket client nobody on the team wrote (Python's websockets, Debian's
python3-websockets) against a server that echoes text and binary messages:
1,000 messages of both kinds up to 1 MiB, echoed in order (16 in flight at
a time), a ping answered, a close handshake with its code echoed, and a
client that vanishes in the middle of a 1 MiB message, after which the
server must still answer. Prints "ok" on success; any failure raises.

Usage: websockets_client.py ws://HOST:PORT/PATH
"""

import asyncio
import base64
import os
import socket
import struct
import sys
from urllib.parse import urlparse

import websockets

MIB = 1024 * 1024


def message(i):
    """Message i: text for even i, binary for odd; every 100th is 1 MiB."""
    size = MIB if i % 100 == 99 else (i * 7919) % 4096 + 1
    if i % 2 == 0:
        return ("%d:" % i + "abcdefghij" * (size // 10 + 1))[:size]
    return bytes((i + k) % 256 for k in range(min(size, 4096))) * (size // 4096) + bytes(
        (i + k) % 256 for k in range(size % 4096)
    )


async def echo_in_order(url):
    async with websockets.connect(url, max_size=None) as ws:
        window = 16
        for start in range(0, 1000, window):
            batch = [message(i) for i in range(start, min(start + window, 1000))]
            for m in batch:
                await ws.send(m)
            for i, m in enumerate(batch):
                got = await ws.recv()
                if got != m:
                    raise AssertionError("message %d came back changed or out of order" % (start + i))
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 10)
        await ws.close(code=1000, reason="done")
        if ws.close_code != 1000:
            raise AssertionError("the server closed with %r, not 1000" % ws.close_code)


def vanish_mid_message(url):
    """Opens a WebSocket by hand, sends half of a 1 MiB binary frame and
    resets the connection."""
    parsed = urlparse(url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (parsed.path, parsed.hostname, parsed.port, key)
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise AssertionError("handshake refused: %r" % head[:64])
    mask = os.urandom(4)
    frame = struct.pack("!BBQ", 0x82, 0x80 | 127, MIB) + mask
    sock.sendall(frame + bytes(MIB // 2))
    # An abortive close: RST, not FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def still_answers(url):
    async with websockets.connect(url) as ws:
        await ws.send("after the vanished client")
        if await ws.recv() != "after the vanished client":
            raise AssertionError("the server changed a message after the vanished client")


def main(url):
    asyncio.run(echo_in_order(url))
    vanish_mid_message(url)
    asyncio.run(still_answers(url))
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1])
