"""The pure parts of the connection limits: head measures, messages, absolute-form targets."""

from __future__ import annotations

import pytest

from zeroserve.net import http1
from zeroserve.net.limits import SLICE, ConnectionLimits, check_head, check_partial_head

LIMITS = ConnectionLimits(max_target=100, max_head=1000)


@pytest.mark.parametrize(
    ("target", "headers", "expected"),
    [
        pytest.param(b"/", [(b"Host", b"a")], None, id="small"),
        pytest.param(b"/" + b"p" * 99, [], None, id="target-at-limit"),
        pytest.param(b"/" + b"p" * 100, [], 414, id="target-over"),
        pytest.param(b"/", [(b"X", b"v" * (1000 - 5))], None, id="head-at-limit"),
        pytest.param(b"/", [(b"X", b"v" * (1000 - 4))], 431, id="head-over"),
        pytest.param(b"/", [(b"a", b"b")] * 400, None, id="separators-not-counted"),
    ],
)
def test_a_complete_head_is_measured_as_envoy_does(
    target: bytes, headers: list[tuple[bytes, bytes]], expected: int | None
) -> None:
    problem = check_head(LIMITS, b"GET", target, headers)
    assert (problem[0] if problem else None) == expected


def test_the_messages_say_which_limit() -> None:
    assert check_head(LIMITS, b"GET", b"/" + b"p" * 200, []) == (
        414,
        "request target too long: 201 bytes, the limit is 100 bytes (max_target)",
    )
    assert check_head(LIMITS, b"GET", b"/", [(b"X", b"v" * 2000)]) == (
        431,
        "request header fields too large: 2005 bytes, the limit is 1000 bytes (max_head)",
    )


def test_a_partial_head_gets_one_slice_of_slack() -> None:
    assert check_partial_head(LIMITS, 1000 + SLICE, b"/") is None
    assert check_partial_head(LIMITS, 1001 + SLICE, b"/") == (
        431,
        "request header fields too large: over the limit of 1000 bytes (max_head)",
    )
    assert check_partial_head(LIMITS, 10, b"/" + b"p" * 100) is not None


@pytest.mark.parametrize(
    ("timeouts", "period"),
    [
        pytest.param((None, None), None, id="none"),
        pytest.param((10.0, None), 1.0, id="head-10s"),
        pytest.param((0.2, 3600.0), 0.05, id="short"),
    ],
)
def test_the_sweep_period_follows_the_shortest_timeout(
    timeouts: tuple[float | None, float | None], period: float | None
) -> None:
    head, idle = timeouts
    assert ConnectionLimits(head_timeout=head, idle_timeout=idle).sweep_period == period


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param(b"http://example.com/a?b=1", (b"example.com", b"/a?b=1"), id="path-query"),
        pytest.param(b"HTTPS://example.com:8443", (b"example.com:8443", b"/"), id="no-path"),
        pytest.param(b"http://example.com?q", (b"example.com", b"/?q"), id="query-only"),
        pytest.param(b"http://[::1]:80/x", (b"[::1]:80", b"/x"), id="ipv6"),
    ],
)
def test_origin_form_of_an_absolute_target(target: bytes, expected: tuple[bytes, bytes]) -> None:
    assert http1.origin_form(target) == expected


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        pytest.param(b"ftp://example.com/", "not an http or https URI", id="scheme"),
        pytest.param(b"example.com:80", "not an http or https URI", id="authority-form"),
        pytest.param(b"http:///x", "empty authority", id="empty"),
        pytest.param(b"http://u:p@example.com/", "userinfo", id="userinfo"),
    ],
)
def test_an_unroutable_absolute_target(target: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        http1.origin_form(target)
