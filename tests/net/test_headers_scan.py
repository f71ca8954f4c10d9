"""The one-pass header functions agree with the readable reference ones (pure, no I/O)."""

from __future__ import annotations

import pytest

from zeroserve.net import headers as h

REQUESTS: dict[str, h.Headers] = {
    "plain": [(b"Host", b"a.example"), (b"User-Agent", b"wrk"), (b"Accept", b"*/*")],
    "hop-by-hop and chains": [
        (b"Host", b"hello.default.example.com:8080"),
        (b"Connection", b"keep-alive, X-Secret"),
        (b"X-Secret", b"drop me"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Proxy-Authorization", b"Basic eA=="),
        (b"TE", b"trailers"),
        (b"X-Forwarded-For", b"10.0.0.1"),
        (b"x-forwarded-for", b"10.0.0.2"),
        (b"Forwarded", b"for=10.0.0.1"),
        (b"X-Custom", b"kept"),
    ],
    "forwarding headers already set": [
        (b"host", b'we"ird'),
        (b"X-Forwarded-Proto", b"https"),
        (b"X-Forwarded-Host", b"outer.example"),
        (b"Content-Length", b"3"),
    ],
    "connection names forwarding headers": [
        (b"Host", b"a"),
        (b"Connection", b"close, X-Forwarded-Proto, x-forwarded-for"),
        (b"X-Forwarded-Proto", b"https"),
        (b"X-Forwarded-For", b"10.9.9.9"),
    ],
    "no host": [(b"Accept", b"*/*"), (b"Transfer-Encoding", b"chunked"), (b"Upgrade", b"websocket")],
}


def reference(headers: h.Headers, client_ip: str | None, default_host: bytes) -> bytes:
    out = h.end_to_end(headers, h.connection_tokens(headers))
    host = h.get(out, b"host")
    if host is None:
        host = default_host
        out.append((b"Host", host))
    h.add_forwarding(out, client_ip=client_ip, host=host, proto="http")
    return h.serialize(out)


@pytest.mark.parametrize("client_ip", ["127.0.0.1", "::1", None])
@pytest.mark.parametrize("name", list(REQUESTS))
def test_scan_request_forwards_what_the_reference_does(name: str, client_ip: str | None) -> None:
    headers = REQUESTS[name]
    scan = h.scan_request(headers)
    ip = None if client_ip is None else client_ip.encode()
    got = b"".join(scan.forward(h.forwarded_node(client_ip), ip, b"http", b"up:80"))
    assert got == reference(headers, client_ip, b"up:80")


def test_scan_request_facts() -> None:
    scan = h.scan_request(REQUESTS["no host"])
    assert (scan.host, scan.chunked, scan.upgrade, scan.content_length) == (None, True, b"websocket", None)
    scan = h.scan_request(REQUESTS["forwarding headers already set"])
    assert (scan.host, scan.chunked, scan.content_length) == (b'we"ird', False, b"3")
    assert b"for=unknown" in b"".join(scan.forward(h.forwarded_node(None), None, b"http", None))


def test_forwarded_node_brackets_ipv6() -> None:
    assert h.forwarded_node("::1") == b'"[::1]"'
    assert h.forwarded_node("10.0.0.1") == b"10.0.0.1"
    assert h.forwarded_node(None) == b"unknown"


@pytest.mark.parametrize(
    ("headers", "has_length", "chunked"),
    [
        ([(b"Server", b"nginx"), (b"Content-Length", b"2"), (b"Connection", b"keep-alive")], True, False),
        ([(b"Transfer-Encoding", b"gzip, chunked"), (b"Keep-Alive", b"timeout=5")], False, True),
        ([(b"Connection", b"close, X-Private"), (b"X-Private", b"1"), (b"X-Public", b"2")], False, False),
        ([(b"Connection", b"Content-Length"), (b"Content-Length", b"2")], False, False),
    ],
)
def test_scan_response_matches_reference(headers: h.Headers, has_length: bool, chunked: bool) -> None:
    block, got_length, got_chunked = h.scan_response(headers)
    assert b"".join(block) == h.serialize(h.end_to_end(headers, h.connection_tokens(headers)))
    assert (got_length, got_chunked) == (has_length, chunked)


def test_connection_tokens_are_remembered_not_shared() -> None:
    first = h.scan_response([(b"Connection", b"X-A"), (b"X-A", b"1"), (b"X-B", b"2")])[0]
    again = h.scan_response([(b"Connection", b"X-A"), (b"X-A", b"1"), (b"X-B", b"2")])[0]
    assert first == again == [b"X-B: 2\r\n"]


def test_forward_drops_named_client_headers_but_keeps_the_clients_host_in_forwarding() -> None:
    scan = h.scan_request([(b"Host", b"hello.default.localhost"), (b"Knative-Serving-Revision", b"r1"), (b"A", b"1")])
    got = b"".join(
        scan.forward(b"1.2.3.4", b"1.2.3.4", b"http", None, frozenset({b"host", b"knative-serving-revision"}))
    )
    assert not got.startswith(b"Host:")
    assert b"\nHost:" not in got
    assert b"Knative-Serving-Revision" not in got
    assert b"A: 1\r\n" in got
    assert b'Forwarded: for=1.2.3.4;proto=http;host="hello.default.localhost"\r\n' in got
    assert b"X-Forwarded-Host: hello.default.localhost\r\n" in got
    no_host = h.scan_request([(b"A", b"1")])
    assert b"\nHost:" not in b"\n" + b"".join(no_host.forward(b"x", b"x", b"http", b"up:1", frozenset({b"host"})))


@pytest.mark.parametrize(
    ("headers", "marks"),
    [
        pytest.param(REQUESTS["plain"], None, id="a client's request: none"),
        pytest.param(
            [(b"Host", b"a"), (b"K-Network-Probe", b"probe"), (b"k-network-hash", b"h1"), (b"K-Network-Hash", b"h2")],
            {b"k-network-probe": b"probe", b"k-network-hash": b"h1"},
            id="the first value of each",
        ),
        pytest.param(
            [(b"User-Agent", b"kube-probe/1.31"), (b"Knative-Serving-Tag", b"old")],
            {b"user-agent": b"kube-probe/1.31", b"knative-serving-tag": b"old"},
            id="a probe's user agent",
        ),
        pytest.param([(b"User-Agent", b"curl/8 kube-probe/1")], None, id="another user agent"),
    ],
)
def test_scan_request_collects_knatives_headers(headers: h.Headers, marks: dict[bytes, bytes] | None) -> None:
    scan = h.scan_request(headers)
    assert scan.knative == marks
    assert b"".join(scan.block) == h.serialize(headers)  # all forwarded as they are
