#!/usr/bin/env python3
"""Where a server thread's CPU goes, by the kernel frames on its samples.

Record a bench with call graphs, then classify the samples of the server's
threads:

    ROOST_RPC_WORKERS=1 ROOST_RPC_ONLY=roost-uring ROOST_RPC_CROSS=0 \
      ROOST_RPC_SHARDED=0 ROOST_RPC_RATE=0 \
      perf record -e cpu-clock -F 4999 -g -o uring.data -- \
      target/release/deps/rpc-<hash> --bench --quick
    benches/perf_classify.py uring.data roost-worker-0

Each sample goes to the first category whose frame appears anywhere on its
stack (so a receive done by io_uring's task work counts as a receive copy);
samples in user space are "user". The send path includes what loopback
does on the sender's side: the peer's TCP input and its wake-up.

A second table splits the user-space samples by the code of their leaf
frame (after inlining: a roost function inlined into hyper's counts as
hyper's): roost's own crates, the protocol stack above it (h2, hyper,
tonic, prost, http types), the allocator, memory copies, and the rest. For
the gRPC server:

    ROOST_GRPC_ONLY=roost perf record -e cpu-clock -F 4999 -g -o grpc.data -- \
      target/release/deps/grpc-<hash> --bench --quick
    benches/perf_classify.py grpc.data roost-worker-0
"""

import collections
import subprocess
import sys

# (category, substring of a kernel symbol), first match wins.
CATEGORIES = [
    ("send path (tcp_sendmsg)", "tcp_sendmsg"),
    ("receive copy (tcp_recvmsg)", "tcp_recvmsg"),
    ("close/accept", "tcp_close"),
    ("close/accept", "inet_accept"),
    ("wait/sleep", "io_cqring_wait"),
    ("wait/sleep", "ep_poll"),
    ("wait/sleep", "schedule"),
    ("epoll events", "ep_send_events"),
    ("uring task work", "io_poll_task_func"),
    ("uring other", "io_uring_enter"),
]

KERNEL_START = 0xFFFF800000000000

# (part, substrings of a user-space symbol), first match wins.
USER_PARTS = [
    ("roost (runtime, net, alloc)", ("roost_runtime", "roost_net", "roost_alloc", "roost::")),
    ("allocator (malloc/free)", ("malloc", "free", "_int_", "realloc", "calloc", "tcache", "unlink_chunk", "__rust_alloc", "__rust_dealloc", "__rdl_", "__rust_no_alloc")),
    ("memcpy/memmove/memset", ("memcpy", "memmove", "memset", "memcmp")),
    ("h2", ("h2::",)),
    ("hyper, hyper-util", ("hyper::", "hyper_util::")),
    ("tonic, prost", ("tonic::", "tonic_", "prost")),
    ("http, bytes, httparse", ("http::", "http_body", "httparse", "bytes::")),
    ("tower, axum, matchit", ("tower", "axum", "matchit")),
    ("tokio", ("tokio",)),
    ("slab, indexmap, hashbrown", ("slab::", "indexmap", "hashbrown")),
    ("std, core", ("std::", "core::", "alloc::")),
]


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(f"usage: {sys.argv[0]} <perf.data> <comm>[,<comm>...]")
    data, comms = sys.argv[1], sys.argv[2]
    out = subprocess.run(
        ["perf", "script", "-i", data, "--comms", comms, "-F", "ip,sym"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counts = collections.Counter()
    parts = collections.Counter()
    total = 0
    for block in out.split("\n\n"):
        frames = [line.split(None, 1) for line in block.strip().splitlines() if line.strip()]
        if not frames:
            continue
        total += 1
        if int(frames[0][0], 16) < KERNEL_START:
            counts["user"] += 1
            leaf = frames[0][1] if len(frames[0]) > 1 else ""
            part = next((name for name, keys in USER_PARTS if any(k in leaf for k in keys)), "other")
            parts[part] += 1
            continue
        symbols = [f[1] if len(f) > 1 else "" for f in frames]
        for name, key in CATEGORIES:
            if any(key in s for s in symbols):
                counts[name] += 1
                break
        else:
            counts["kernel other"] += 1
    if total == 0:
        sys.exit(f"no samples of {comms} in {data}")
    for name, n in counts.most_common():
        print(f"{name:28s} {n:7d} {100 * n / total:5.1f}%")
    print(f"{'total':28s} {total:7d}")
    user = counts["user"]
    if user:
        print(f"\nuser space by leaf frame ({user} samples)")
        for name, n in parts.most_common():
            print(f"{name:28s} {n:7d} {100 * n / user:5.1f}% of user")


if __name__ == "__main__":
    main()
