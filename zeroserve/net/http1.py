"""HTTP/1.1 framing helpers (pure): status lines, chunked encoding, small local responses."""

from __future__ import annotations

from http import HTTPStatus

from zeroserve.net.headers import Header, serialize

CRLF = b"\r\n"
LAST_CHUNK = b"0\r\n\r\n"


def reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def status_line(status: int, phrase: bytes | None = None) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, reason(status) if phrase is None else phrase)


def chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked body (empty data would end the body, so callers skip it)."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def simple_response(
    status: int, body: bytes, headers: tuple[Header, ...] = (), *, close: bool, head_only: bool = False
) -> bytes:
    """A complete response with a Content-Length body (for errors and canned answers)."""
    lines = [
        status_line(status),
        serialize(headers),
        b"Content-Length: %d\r\n" % len(body),
        b"Connection: close\r\n" if close else b"",
        CRLF,
    ]
    if not head_only:
        lines.append(body)
    return b"".join(lines)
