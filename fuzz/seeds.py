#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/ (run from anywhere: python3 fuzz/seeds.py).

Each seed is a small, meaningful input; the fuzzers' own finds go to scratch
corpora, never here.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    path = os.path.join(HERE, "corpus", target)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "wb") as f:
        f.write(data)


# rpc_frames: byte 0 cuts the stream into reads (0: one read), then the stream.
def frame(payload):
    return struct.pack(">I", len(payload)) + payload


MAX_FRAME = 8 * 1024 * 1024
write("rpc_frames", "one_frame", b"\x00" + frame(b"x" * 64))
write("rpc_frames", "two_frames_split_7", b"\x07" + frame(b"ping") + frame(b"a longer payload of bytes"))
write("rpc_frames", "empty_frame", b"\x00" + frame(b""))
write("rpc_frames", "byte_at_a_time", b"\x01" + frame(b"hello") + frame(b"") + frame(b"world!"))
write("rpc_frames", "partial_tail", b"\x03" + frame(b"abc") + struct.pack(">I", 100) + b"only part")
write("rpc_frames", "over_max", b"\x00" + frame(b"ok") + struct.pack(">I", MAX_FRAME + 1) + b"zz")
write("rpc_frames", "at_max_prefix", b"\x05" + struct.pack(">I", MAX_FRAME) + b"abc")

# http_server: byte 0 cuts the request into writes (0: one write), then the bytes.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


# HPACK: :method GET (static 2) or POST (3), :scheme http (6), :path / (4) or
# a literal /echo, :authority a literal "roost".
GET_HEADERS = bytes([0x82, 0x86, 0x84, 0x01, 5]) + b"roost"
POST_ECHO_HEADERS = bytes([0x83, 0x86, 0x04, 5]) + b"/echo" + bytes([0x01, 5]) + b"roost"
write("http_server", "get", b"\x00GET / HTTP/1.1\r\nhost: roost\r\n\r\n")
write("http_server", "get_close", b"\x00GET / HTTP/1.1\r\nhost: roost\r\nconnection: close\r\n\r\n")
write("http_server", "pipelined_split_5",
      b"\x05" + b"GET / HTTP/1.1\r\nhost: a\r\n\r\n" * 3 + b"GET /missing HTTP/1.1\r\nhost: a\r\n\r\n")
write("http_server", "post_echo_length",
      b"\x00POST /echo HTTP/1.1\r\nhost: roost\r\ncontent-length: 11\r\n\r\nhello world")
write("http_server", "post_echo_chunked_split_9",
      b"\x09POST /echo HTTP/1.1\r\nhost: roost\r\ntransfer-encoding: chunked\r\n\r\n"
      b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
write("http_server", "post_too_large",
      b"\x00POST /echo HTTP/1.1\r\nhost: roost\r\ncontent-length: 99999999\r\n\r\nabc")
write("http_server", "http10", b"\x00GET / HTTP/1.0\r\n\r\n")
write("http_server", "garbage", b"\x00\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n")
write("http_server", "h2_preface_only", b"\x00" + PREFACE)
write("http_server", "h2_get", b"\x00" + PREFACE + h2(4, 0, 0, b"") + h2(1, 0x5, 1, GET_HEADERS))
write("http_server", "h2_post_echo_split_11",
      b"\x0b" + PREFACE + h2(4, 0, 0, b"") + h2(1, 0x4, 1, POST_ECHO_HEADERS)
      + h2(0, 0x1, 1, b"echo me") + h2(6, 0, 0, b"12345678"))
write("http_server", "h2_bad_preface", b"\x00PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")

# arena_ops: see the format in fuzz_targets/arena_ops.rs.
OPS = ("Alloc AllocGlobal CopyFrom Extend PutU32 PutBytes IoWrite Poke Reserve Truncate Clear SplitTo "
       "SplitOff Split Freeze Clone Slice Advance TryIntoMut IntoBytes Drop DropRemote NewSlot Attach "
       "Detach Park Take TakeOrAlloc ReleaseParked Close DropSlot Sync").split()
# Field encodings per operation, in order: B u8, H u16, S size (3 bytes), W u32, D data.
FIELDS = {"Alloc": "S", "AllocGlobal": "S", "CopyFrom": "D", "Extend": "BD", "PutU32": "BW",
          "PutBytes": "BBH", "IoWrite": "BD", "Poke": "BHB", "Reserve": "BS", "Truncate": "BH",
          "Clear": "B", "SplitTo": "BH", "SplitOff": "BS", "Split": "B", "Freeze": "B", "Clone": "B",
          "Slice": "BHH", "Advance": "BH", "TryIntoMut": "B", "IntoBytes": "B", "Drop": "B",
          "DropRemote": "B", "NewSlot": "", "Attach": "BB", "Detach": "B", "Park": "BB", "Take": "B",
          "TakeOrAlloc": "BS", "ReleaseParked": "B", "Close": "B", "DropSlot": "B", "Sync": ""}
DEFAULT, ONE_CHUNK, NOTHING = 0, 1, 2


def arena(name, limit, ops, exit_with_buffers_out=False):
    out = bytes([limit, int(exit_with_buffers_out)])
    for op, *args in ops:
        out += bytes([OPS.index(op)])
        for kind, arg in zip(FIELDS[op], args, strict=True):
            if kind == "B":
                out += bytes([arg])
            elif kind == "H":
                out += struct.pack("<H", arg)
            elif kind == "S":
                out += struct.pack("<I", arg)[:3]
            elif kind == "W":
                out += struct.pack("<I", arg)
            else:
                out += bytes([len(arg)]) + arg
    write("arena_ops", name, out)


# Handles are picked modulo the pool's size, and a removal moves the last
# handle into the hole: with one or two handles the indices below are exact.
arena("park_remote_then_take", DEFAULT, [
    ("NewSlot",), ("Alloc", 2048), ("Extend", 0, b"GET / HTTP/1.1\r\n\r\n"), ("Attach", 0, 0),
    ("DropRemote", 0), ("Take", 0), ("Extend", 0, b"next request"), ("Drop", 0), ("Sync",)])
arena("slot_full_then_closed", DEFAULT, [
    ("NewSlot",), ("Alloc", 512), ("Attach", 0, 0), ("Alloc", 4096), ("Attach", 1, 0),
    ("DropRemote", 0), ("DropRemote", 0), ("Sync",), ("Close", 0), ("TakeOrAlloc", 0, 100), ("DropRemote", 0),
    ("Sync",)])
arena("explicit_park_and_take_or_alloc", DEFAULT, [
    ("NewSlot",), ("Alloc", 1024), ("Park", 0, 0), ("TakeOrAlloc", 0, 8192), ("Extend", 0, b"bigger"),
    ("Park", 0, 0), ("ReleaseParked", 0), ("TakeOrAlloc", 0, 300), ("Detach", 0), ("DropRemote", 0),
    ("DropSlot", 0), ("Sync",)])
arena("split_freeze_clone_across_threads", DEFAULT, [
    ("Alloc", 4096), ("Extend", 0, b"\x00\x00\x00\x0dHello, world!"), ("SplitTo", 0, 4), ("Freeze", 1),
    ("Clone", 1), ("Slice", 1, 1, 3), ("DropRemote", 2), ("Advance", 0, 2), ("SplitOff", 0, 64),
    ("Extend", 2, b"tail"), ("DropRemote", 0), ("Sync",), ("Drop", 0), ("Sync",)])
arena("grow_through_classes_to_global", DEFAULT, [
    ("CopyFrom", b"x"), ("PutBytes", 0, 0x61, 3000), ("PutU32", 0, 0xdeadbeef), ("IoWrite", 0, b"written"),
    ("Poke", 0, 7, 0x7a), ("Reserve", 0, 70000), ("Truncate", 0, 100), ("Clear", 0), ("Extend", 0, b"again"),
    ("Sync",)])
arena("frozen_back_to_mut_and_into_bytes", DEFAULT, [
    ("Alloc", 600), ("Extend", 0, b"frozen bytes"), ("Freeze", 0), ("Clone", 0), ("TryIntoMut", 0),
    ("Drop", 1), ("TryIntoMut", 0), ("Extend", 0, b" made writable"), ("Freeze", 0), ("IntoBytes", 0),
    ("Clone", 0), ("Slice", 1, 2, 9), ("DropRemote", 0), ("Drop", 0), ("DropRemote", 0), ("Sync",)])
arena("one_chunk_limit_falls_back", ONE_CHUNK, [
    ("Alloc", 65536), ("Alloc", 65536), ("Alloc", 65536), ("Alloc", 65536), ("Alloc", 65536),
    ("Alloc", 65536), ("Alloc", 65536), ("Alloc", 65536), ("Alloc", 65536), ("Alloc", 65536),
    ("Alloc", 65536), ("Alloc", 65536), ("Alloc", 65536), ("Alloc", 65536), ("Alloc", 65536),
    ("Alloc", 65536), ("Alloc", 512), ("DropRemote", 3), ("Sync",)])
# Two chunks (limit byte 4): one for the 32 KiB class, one for 512 B. The
# attached buffer grows through classes that get no chunk (global blocks,
# which carry no slot) and ends in a 32 KiB arena block, without its slot:
# dropped remotely, it does not park.
arena("attached_grows_through_a_fallback", 4, [
    ("Alloc", 32768), ("Alloc", 512), ("NewSlot",), ("Attach", 1, 0), ("PutBytes", 1, 0x61, 20000),
    ("DropRemote", 1), ("Sync",)])
arena("no_arena_memory", NOTHING, [
    ("NewSlot",), ("Alloc", 100), ("Extend", 0, b"global"), ("Attach", 0, 0), ("Park", 0, 0),
    ("AllocGlobal", 1000), ("DropRemote", 0), ("Sync",)])
arena("exit_with_buffers_out", DEFAULT, [
    ("NewSlot",), ("Alloc", 2048), ("Attach", 0, 0), ("Alloc", 512), ("Extend", 1, b"still held"),
    ("Freeze", 1), ("Clone", 1), ("Alloc", 1024), ("Park", 3, 0)], exit_with_buffers_out=True)
