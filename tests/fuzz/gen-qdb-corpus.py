#!/usr/bin/env python3
"""Writes the seed corpus of fuzz-qdb-reply: byte 0 the operation and path
(see fuzz-qdb-reply.c: op = b % 5, path index = (b // 5) % 4), then the
replies the QubesDB daemon sends, in its wire form (a 72-byte header:
type, NUL-terminated path at 1, payload length at 68, host order; then
the payload). Run from anywhere; rewrites tests/fuzz/corpus/fuzz-qdb-reply."""
import os
import struct

RESP_OK, NOENT, ERROR, READ, MULTIREAD, WATCH = 7, 8, 9, 10, 11, 13
READ_OP, MULTI_OP, WAIT_OP, WATCH_OP, UNWATCH_OP = range(5)
PATHS = ["/qubes-ip", "/mapped-ip/10.137.0.9/visible-ip", "/qubes-netvm-gateway", "/mapped-ip/"]


def hdr(t, path="", n=0):
    p = path.encode()
    return struct.pack("<B64s3xI", t, p, n)


def msg(t, path="", value=b""):
    return hdr(t, path, len(value)) + value


def sel(op, path_idx):
    return bytes([op + 5 * path_idx])


seeds = {
    "read-ok": sel(READ_OP, 0) + msg(READ, "/qubes-ip", b"10.137.0.5") + msg(READ, "/qubes-ip", b"10.137.0.5"),
    "read-noent": sel(READ_OP, 1) + msg(NOENT) + msg(NOENT),
    "read-error": sel(READ_OP, 2) + msg(ERROR),
    "read-event-first": sel(READ_OP, 0) + msg(WATCH, "/qubes-ip") + msg(READ, "/qubes-ip", b"10.137.0.5"),
    "read-empty-value": sel(READ_OP, 2) + msg(READ, "/qubes-netvm-gateway", b""),
    "read-wrong-path": sel(READ_OP, 0) + msg(READ, "/qubes-gateway", b"10.137.0.1"),
    "read-split-short": sel(READ_OP, 0) + hdr(READ, "/qubes-ip", 10) + b"10.1",
    "multiread": sel(MULTI_OP, 3)
    + msg(MULTIREAD, "/mapped-ip/10.137.0.9/visible-gateway", b"10.152.152.10")
    + msg(WATCH, "/mapped-ip/10.137.0.9/visible-ip")
    + msg(MULTIREAD, "/mapped-ip/10.137.0.9/visible-ip", b"10.152.152.11")
    + msg(MULTIREAD)
    + msg(READ, "/qubes-ip", b"10.137.0.9"),
    "multiread-empty": sel(MULTI_OP, 3) + msg(MULTIREAD),
    "multiread-error": sel(MULTI_OP, 3) + msg(ERROR),
    "wait-read-event": sel(WAIT_OP, 1)
    + msg(NOENT)
    + msg(RESP_OK)
    + msg(NOENT)
    + msg(WATCH, "/mapped-ip/10.137.0.9/visible-ip")
    + msg(READ, "/mapped-ip/10.137.0.9/visible-ip", b"10.152.152.11")
    + msg(RESP_OK),
    "wait-read-timeout": sel(WAIT_OP, 1) + msg(NOENT) + msg(RESP_OK) + msg(NOENT),
    "watch-ok": sel(WATCH_OP, 0) + msg(RESP_OK) + msg(READ, "/qubes-ip", b"10.137.0.5"),
    "unwatch-noent": sel(UNWATCH_OP, 0) + msg(NOENT),
    "bad-type": sel(READ_OP, 0) + msg(42),
    "too-long": sel(READ_OP, 0) + hdr(READ, "/qubes-ip", 3072),
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz-qdb-reply")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
