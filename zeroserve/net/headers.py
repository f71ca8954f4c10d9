"""HTTP/1.1 header handling for proxies (pure): hop-by-hop stripping and forwarding headers.

Headers travel as ``(name, value)`` byte pairs exactly as httptools hands them over; names keep
their case on the wire and are compared lower-cased. RFC 9110 §7.6.1 lists the hop-by-hop
headers a proxy must not forward, plus every header named in ``Connection``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Header = tuple[bytes, bytes]
Headers = list[Header]

HOP_BY_HOP: frozenset[bytes] = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

FORWARDED = b"Forwarded"
X_FORWARDED_FOR = b"X-Forwarded-For"
X_FORWARDED_PROTO = b"X-Forwarded-Proto"
X_FORWARDED_HOST = b"X-Forwarded-Host"

# Knative's probe and proxy markers (pkg/network), shared by gateway, activator and queue-proxy.
K_NETWORK_PROBE = "K-Network-Probe"
K_PROXY_REQUEST = "K-Proxy-Request"
K_ORIGINAL_HOST = "K-Original-Host"


def connection_tokens(headers: Iterable[Header]) -> frozenset[bytes]:
    """The lower-cased tokens of every ``Connection`` header (``close``, ``upgrade``, names...)."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return frozenset(tokens)


def end_to_end(headers: Iterable[Header], tokens: frozenset[bytes] = frozenset()) -> Headers:
    """``headers`` without hop-by-hop ones and without those named in ``Connection`` (``tokens``)."""
    if tokens:
        drop = HOP_BY_HOP | tokens
        return [(n, v) for n, v in headers if n.lower() not in drop]
    return [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP]


def get(headers: Sequence[Header], name: bytes) -> bytes | None:
    """The first value of ``name`` (lower-case) in ``headers``, or None."""
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


def _forwarded_node(ip: str) -> str:
    return f'"[{ip}]"' if ":" in ip else ip


def add_forwarding(headers: Headers, *, client_ip: str | None, host: bytes | None, proto: str) -> None:
    """Append the client to ``X-Forwarded-For`` and ``Forwarded``; set the proto and host if absent.

    Like nginx's ``$proxy_add_x_forwarded_for``: an existing chain is extended, not replaced.
    """
    xff: bytes | None = None
    fwd: bytes | None = None
    has_proto = has_host = False
    kept: Headers = []
    for n, v in headers:
        low = n.lower()
        if low == b"x-forwarded-for":
            xff = v if xff is None else xff + b", " + v
            continue
        if low == b"forwarded":
            fwd = v if fwd is None else fwd + b", " + v
            continue
        has_proto = has_proto or low == b"x-forwarded-proto"
        has_host = has_host or low == b"x-forwarded-host"
        kept.append((n, v))
    node = _forwarded_node(client_ip) if client_ip else "unknown"
    element = f"for={node};proto={proto}"
    if host:
        element += ';host="' + host.decode("latin-1").replace('"', "") + '"'
    if client_ip:
        ip = client_ip.encode()
        kept.append((X_FORWARDED_FOR, ip if xff is None else xff + b", " + ip))
    elif xff is not None:
        kept.append((X_FORWARDED_FOR, xff))
    kept.append((FORWARDED, element.encode("latin-1") if fwd is None else fwd + b", " + element.encode("latin-1")))
    if not has_proto:
        kept.append((X_FORWARDED_PROTO, proto.encode()))
    if not has_host and host:
        kept.append((X_FORWARDED_HOST, host))
    headers[:] = kept


def serialize(headers: Iterable[Header]) -> bytes:
    """``Name: value\\r\\n`` lines (no final blank line)."""
    return b"".join(n + b": " + v + b"\r\n" for n, v in headers)
