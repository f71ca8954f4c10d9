"""The gRPC probe: ``grpc.health.v1.Health/Check`` over cleartext HTTP/2 (kubelet's and the queue-proxy's).

Kubernetes' ``grpc`` probe calls the standard health service (``service`` from the probe, empty by
default) and passes when the answer is ``SERVING``; any other status, a gRPC error, a reset stream
or a timeout fails it. One call on a fresh connection needs little of HTTP/2: the client preface,
an empty SETTINGS, one HEADERS frame encoded with HPACK literals (no dynamic table, no Huffman)
and one DATA frame; the answer is read frame by frame until the DATA of stream 1, whose gRPC
message is the ``HealthCheckResponse`` (field 1, an enum: 1 = SERVING). The server's header
blocks are skipped, never decoded. :func:`request` and :func:`serving` are pure.
"""

from __future__ import annotations

import asyncio

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
PATH = b"/grpc.health.v1.Health/Check"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7
END_STREAM, ACK, END_HEADERS, PADDED = 0x1, 0x1, 0x4, 0x8
SERVING = 1
MAX_FRAME = 1 << 14


def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream.to_bytes(4, "big") + payload


def _literal(index: int, value: bytes) -> bytes:
    """HPACK "literal header field without indexing", name from the static table (index < 15 + 128)."""
    head = bytes((index,)) if index < 15 else bytes((0x0F, index - 15))
    return head + _string(value)


def _string(value: bytes) -> bytes:
    if len(value) < 127:
        return bytes((len(value),)) + value
    rest, out = len(value) - 127, bytearray((127,))
    while rest >= 128:
        out.append((rest & 0x7F) | 0x80)
        rest >>= 7
    return bytes(out) + bytes((rest,)) + value


def request(authority: str, service: str = "") -> bytes:
    """Everything the client sends for one ``Check`` (pure)."""
    block = (
        b"\x83"  # :method POST (static 3)
        + b"\x86"  # :scheme http (static 6)
        + _literal(4, PATH)  # :path
        + _literal(1, authority.encode("ascii", "replace"))  # :authority
        + _literal(31, b"application/grpc")  # content-type
        + b"\x00"
        + _string(b"te")
        + _string(b"trailers")
        + _literal(58, b"kube-probe/zeroserve")  # user-agent
    )
    message = b"\x0a" + _string(service.encode()) if service else b""
    body = b"\x00" + len(message).to_bytes(4, "big") + message
    return PREFACE + _frame(SETTINGS, 0, 0) + _frame(HEADERS, END_HEADERS, 1, block) + _frame(DATA, END_STREAM, 1, body)


def serving(message: bytes) -> bool:
    """Whether a gRPC-framed ``HealthCheckResponse`` says SERVING (pure; malformed -> False)."""
    if len(message) < 5 or message[0] != 0:
        return False
    body = message[5 : 5 + int.from_bytes(message[1:5], "big")]
    i = 0
    while i < len(body):
        tag, i = _varint(body, i)
        if tag == 0x08:
            value, i = _varint(body, i)
            return value == SERVING
        if tag & 7 == 2:  # length-delimited: skip
            size, i = _varint(body, i)
            i += size
        elif tag & 7 == 0:
            _, i = _varint(body, i)
        else:
            return False
    return False  # field 1 absent: UNKNOWN (0)


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while i < len(data):
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i
    raise ValueError("truncated varint")


async def check(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, authority: str, service: str) -> bool:
    """One health check on a fresh connection (the caller bounds it with the probe's timeout)."""
    writer.write(request(authority, service))
    message = b""
    while True:
        head = await reader.readexactly(9)
        size, kind, flags = int.from_bytes(head[:3], "big"), head[3], head[4]
        stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
        if size > MAX_FRAME:
            return False
        payload = await reader.readexactly(size)
        if kind == SETTINGS and not flags & ACK:
            writer.write(_frame(SETTINGS, ACK, 0))
        elif kind == PING and not flags & ACK:
            writer.write(_frame(PING, ACK, 0, payload))
        elif kind in (RST_STREAM, GOAWAY) and stream in (0, 1):
            return False
        elif kind == DATA and stream == 1:
            if flags & PADDED:
                payload = payload[1 : len(payload) - payload[0]] if payload else b""
            message += payload
            if len(message) >= 5 and len(message) >= 5 + int.from_bytes(message[1:5], "big"):
                return serving(message)
            if flags & END_STREAM:
                return False
        elif kind == HEADERS and stream == 1 and flags & END_STREAM:
            return False  # trailers only: a gRPC error (grpc-status), or the answer ended without one
