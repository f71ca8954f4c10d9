"""HTTP/1.1 framing helpers (pure): status lines, chunked encoding, small local responses."""

from __future__ import annotations

from http import HTTPStatus

from zeroserve.net.headers import Header, serialize

CRLF = b"\r\n"
LAST_CHUNK = b"0\r\n\r\n"
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""What a client speaking HTTP/2 with prior knowledge sends first (RFC 9113 §3.4), made to look
like a request no HTTP/1.1 server serves (``PRI *``)."""


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


def origin_form(target: bytes) -> tuple[bytes, bytes]:
    """(authority, origin-form target) of an absolute-form request target (RFC 9112 §3.2.2).

    ``http://example.com:8080/a?b`` gives ``(b"example.com:8080", b"/a?b")``; an empty path
    becomes ``/``. ValueError for what a gateway cannot route: another scheme, an empty
    authority, or userinfo (RFC 9110 §4.2.4: a recipient treats it as an error).
    """
    scheme, sep, rest = target.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        raise ValueError("absolute-form target is not an http or https URI")
    end = len(rest)
    for delimiter in (b"/", b"?", b"#"):
        found = rest.find(delimiter)
        if 0 <= found < end:
            end = found
    authority, path = rest[:end], rest[end:]
    if not authority:
        raise ValueError("absolute-form target has an empty authority")
    if b"@" in authority:
        raise ValueError("absolute-form target has userinfo")
    return authority, path if path.startswith(b"/") else b"/" + path
