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

# Knative's probe, proxy and routing markers (knative/networking pkg/http/header/header.go), shared
# by gateway, activator and queue-proxy.
K_NETWORK_PROBE = "K-Network-Probe"
K_NETWORK_HASH = "K-Network-Hash"
K_KUBELET_PROBE = "K-Kubelet-Probe"
K_PROXY_REQUEST = "K-Proxy-Request"
K_ORIGINAL_HOST = "K-Original-Host"
ROUTE_TAG = "Knative-Serving-Tag"
DEFAULT_ROUTE = "Knative-Serving-Default-Route"
REVISION = "Knative-Serving-Revision"
NAMESPACE = "Knative-Serving-Namespace"
USER_AGENT = b"user-agent"
PROBE_VALUE = b"probe"
"""``K-Network-Probe: probe``: the ingress network probe (answered with its ``K-Network-Hash``)."""
KUBE_PROBE_UA = b"kube-probe/"
"""The User-Agent prefix of kubelet's probes (``KubeProbeUAPrefix``)."""
PROBE_USER_AGENTS = (KUBE_PROBE_UA, b"Knative-Activator-Probe", b"Knative-Autoscaling-Probe")
"""User-Agent prefixes of probes: kubelet's, the activator's and the autoscaler's."""

MARKED: frozenset[bytes] = frozenset(
    n.lower().encode()
    for n in (
        K_NETWORK_PROBE,
        K_NETWORK_HASH,
        K_KUBELET_PROBE,
        K_PROXY_REQUEST,
        K_ORIGINAL_HOST,
        ROUTE_TAG,
        REVISION,
        NAMESPACE,
    )
)
"""Knative's headers that a request scan collects into :attr:`RequestScan.knative` (with a
User-Agent that starts with one of :data:`PROBE_USER_AGENTS`): absent from nearly every request
a client sends, present on what Knative's components send each other."""


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


# -- one-pass header handling for the hot path ------------------------------------------------
#
# The functions above are the readable reference; the proxy uses the ones below, which look at
# every header exactly once and produce the serialized block to forward. A name's lower-cased
# form decides its role; names a ``Connection`` header lists beyond the standard hop-by-hop ones
# are rare, so they trigger a second pass instead of slowing down every request.

_KEEP, _DROP, _CONNECTION, _TE, _UPGRADE, _HOST, _XFF, _FWD, _XPROTO, _XHOST, _CL, _MARKED, _UA = range(13)

_REQUEST_ROLES: dict[bytes, int] = (
    {name: _DROP for name in HOP_BY_HOP}
    | {
        b"connection": _CONNECTION,
        b"transfer-encoding": _TE,
        b"upgrade": _UPGRADE,
        b"host": _HOST,
        b"x-forwarded-for": _XFF,
        b"forwarded": _FWD,
        b"x-forwarded-proto": _XPROTO,
        b"x-forwarded-host": _XHOST,
        b"content-length": _CL,
    }
    | dict.fromkeys(MARKED, _MARKED)
    | {USER_AGENT: _UA}
)
_RESPONSE_ROLES: dict[bytes, int] = {name: _DROP for name in HOP_BY_HOP} | {
    b"connection": _CONNECTION,
    b"transfer-encoding": _TE,
    b"content-length": _CL,
}
_PLAIN_TOKENS = HOP_BY_HOP | {b"close"}
"""``Connection`` tokens that name no extra header to drop."""


_extra_tokens_seen: dict[bytes, tuple[bytes, ...]] = {}


def _extra_tokens(value: bytes) -> tuple[bytes, ...]:
    """The tokens of a ``Connection`` value that name end-to-end headers (memoized: nearly every
    message says ``keep-alive``, ``close`` or ``upgrade``)."""
    try:
        return _extra_tokens_seen[value]
    except KeyError:
        pass
    tokens = tuple(t for t in (t.strip().lower() for t in value.split(b",")) if t and t not in _PLAIN_TOKENS)
    if len(_extra_tokens_seen) < 256:
        _extra_tokens_seen[value] = tokens
    return tokens


class RequestScan:
    """What the proxy needs from a request's headers, found in one pass (:func:`scan_request`).

    Made once per request, so it has no ``__init__``: the class attributes are the defaults
    and :func:`scan_request` sets only what it finds.
    """

    block: list[bytes]
    """The end-to-end headers to forward, serialized, without the forwarding ones."""
    host: bytes | None = None
    host_text = ""
    """``host`` decoded (latin-1), '' when absent."""
    chunked = False
    content_length: bytes | None = None
    upgrade: bytes | None = None
    x_forwarded_for: bytes | None = None
    forwarded: bytes | None = None
    has_forwarded_proto = False
    has_forwarded_host = False
    knative: dict[bytes, bytes] | None = None
    """The first value of each of Knative's headers in :data:`MARKED` present (and of a probe's
    User-Agent), by lower-cased name; None when there is none (nearly every request): what lets a
    router skip looking for them."""

    def forward(
        self,
        node: bytes,
        client_ip: bytes | None,
        proto: bytes,
        host: bytes | None,
        drop: frozenset[bytes] = frozenset(),
    ) -> list[bytes]:
        """The serialized headers to send upstream: the kept block plus ``Forwarded``/``X-Forwarded-*``.

        ``node`` is the client as a ``Forwarded`` node (``ip``, ``"[v6]"`` or ``unknown``; empty, with
        ``client_ip`` None, on a relay: the forwarding headers pass as received, none added); ``host``
        replaces a missing Host header (it is then also added). Same result as
        :func:`end_to_end` followed by :func:`add_forwarding`. ``drop`` names (lower-case) client
        headers not to forward; the forwarding headers still name the client's Host, and no
        Host is added when ``host`` is dropped (the caller sends its own).
        """
        out = [line for line in self.block if line.split(b":", 1)[0].lower() not in drop] if drop else [*self.block]
        if self.host is None and host is not None:
            if b"host" not in drop:
                out.append(b"Host: " + host + b"\r\n")
        else:
            host = self.host
        if client_ip is not None:
            xff = client_ip if self.x_forwarded_for is None else self.x_forwarded_for + b", " + client_ip
            out.append(b"X-Forwarded-For: " + xff + b"\r\n")
        elif self.x_forwarded_for is not None:
            out.append(b"X-Forwarded-For: " + self.x_forwarded_for + b"\r\n")
        if not node:  # a relay of our own gateway's: the hop before added the client's element
            if self.forwarded is not None:
                out.append(b"Forwarded: " + self.forwarded + b"\r\n")
            return out
        element = b"for=" + node + b";proto=" + proto
        if host:
            element += b';host="' + host.replace(b'"', b"") + b'"'
        if self.forwarded is not None:
            element = self.forwarded + b", " + element
        out.append(b"Forwarded: " + element + b"\r\n")
        if not self.has_forwarded_proto:
            out.append(b"X-Forwarded-Proto: " + proto + b"\r\n")
        if not self.has_forwarded_host and host:
            out.append(b"X-Forwarded-Host: " + host + b"\r\n")
        return out


def forwarded_node(ip: str | None) -> bytes:
    """The client as a ``Forwarded: for=`` node (RFC 7239 §6): quoted brackets for IPv6."""
    return _forwarded_node(ip).encode("latin-1") if ip else b"unknown"


def _mark(scan: RequestScan, name: bytes, value: bytes) -> None:
    if scan.knative is None:
        scan.knative = {}
    scan.knative.setdefault(name.lower(), value)


def scan_request(headers: Iterable[Header]) -> RequestScan:
    """One pass over a request's headers (see :class:`RequestScan`)."""
    scan = RequestScan()
    scan.block = block = []
    extra: list[bytes] = []
    roles = _REQUEST_ROLES
    for name, value in headers:
        role = roles.get(name.lower(), _KEEP)
        if role == _KEEP:
            block.append(name + b": " + value + b"\r\n")
        elif role == _UA:  # nearly every client sends one: early in the chain
            block.append(name + b": " + value + b"\r\n")
            if value.startswith(PROBE_USER_AGENTS):
                _mark(scan, name, value)
        elif role == _HOST:
            if scan.host is None:
                scan.host = value
                scan.host_text = value.decode("latin-1")
            block.append(name + b": " + value + b"\r\n")
        elif role == _CL:
            scan.content_length = value
            block.append(name + b": " + value + b"\r\n")
        elif role == _XFF:
            scan.x_forwarded_for = value if scan.x_forwarded_for is None else scan.x_forwarded_for + b", " + value
        elif role == _FWD:
            scan.forwarded = value if scan.forwarded is None else scan.forwarded + b", " + value
        elif role == _XPROTO:
            scan.has_forwarded_proto = True
            block.append(name + b": " + value + b"\r\n")
        elif role == _XHOST:
            scan.has_forwarded_host = True
            block.append(name + b": " + value + b"\r\n")
        elif role == _TE:
            scan.chunked = value.lower().endswith(b"chunked")
        elif role == _UPGRADE:
            if scan.upgrade is None:
                scan.upgrade = value
        elif role == _CONNECTION:
            extra.extend(_extra_tokens_seen.get(value) or _extra_tokens(value))
        elif role == _MARKED:
            block.append(name + b": " + value + b"\r\n")
            _mark(scan, name, value)
    if extra:  # rare: Connection names end-to-end headers; drop them too
        drop = frozenset(extra)
        scan.block = [line for line in block if line.split(b":", 1)[0].lower() not in drop]
        if b"x-forwarded-proto" in drop:
            scan.has_forwarded_proto = False
        if b"x-forwarded-host" in drop:
            scan.has_forwarded_host = False
        if b"x-forwarded-for" in drop:
            scan.x_forwarded_for = None
        if b"forwarded" in drop:
            scan.forwarded = None
    return scan


def scan_response(headers: Iterable[Header]) -> tuple[list[bytes], bool, bool]:
    """One pass over a response's headers: (end-to-end block, has Content-Length, is chunked)."""
    block: list[bytes] = []
    extra: list[bytes] = []
    has_length = chunked = False
    roles = _RESPONSE_ROLES
    for name, value in headers:
        role = roles.get(name.lower(), _KEEP)
        if role == _KEEP:
            block.append(name + b": " + value + b"\r\n")
        elif role == _CL:
            has_length = True
            block.append(name + b": " + value + b"\r\n")
        elif role == _TE:
            chunked = chunked or value.lower().endswith(b"chunked")
        elif role == _CONNECTION:
            extra.extend(_extra_tokens_seen.get(value) or _extra_tokens(value))
    if extra:
        drop = frozenset(extra)
        block = [line for line in block if line.split(b":", 1)[0].lower() not in drop]
        has_length = has_length and b"content-length" not in drop
    return block, has_length, chunked
