from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from zeroserve.api.podspec import HTTPGetAction, HTTPHeader, Probe, TCPSocketAction
from zeroserve.runtime import probes
from zeroserve.runtime.probes import ProbeSpec


def test_resolve_defaults_to_tcp_on_the_port() -> None:
    spec, warnings = probes.resolve(None, "127.0.0.1", 1234)
    assert spec == ProbeSpec("tcp", "127.0.0.1", 1234)
    assert (spec.period, spec.timeout, spec.failure_threshold, spec.success_threshold) == (10, 1, 3, 1)
    assert warnings == []


def test_resolve_http_get_targets_the_instance_port() -> None:
    probe = Probe(
        http_get=HTTPGetAction(
            path="healthz", port=8080, scheme="HTTPS", http_headers=[HTTPHeader(name="X", value="y")]
        ),
        initial_delay_seconds=2,
        period_seconds=3,
        timeout_seconds=4,
        failure_threshold=5,
        success_threshold=6,
    )
    spec, _ = probes.resolve(probe, "127.0.0.1", 4321)
    assert spec == ProbeSpec("http", "127.0.0.1", 4321, "/healthz", "https", (("X", "y"),), 2.0, 3.0, 4.0, 6, 5)


def test_resolve_tcp_socket_and_unsupported_kinds() -> None:
    spec, warnings = probes.resolve(Probe(tcp_socket=TCPSocketAction(port=1), period_seconds=1), "h", 2)
    assert (spec.kind, spec.port, spec.period, warnings) == ("tcp", 2, 1.0, [])
    spec, warnings = probes.resolve(Probe(exec={"command": ["true"]}), "h", 2, what="liveness")
    assert spec.kind == "tcp"
    assert warnings == ["exec liveness probe is not supported by the process runtime; probing TCP on PORT instead"]


@pytest.fixture
async def http_server() -> AsyncIterator[tuple[int, list[bytes]]]:
    """Answers ``GET /<status>`` with that status; records each request head."""
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:  # a TCP probe: connects and leaves
            writer.close()
            return
        heads.append(head)
        status = head.split()[1].decode().strip("/")
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, heads


@pytest.mark.parametrize(
    ("status", "ok"),
    [
        pytest.param(200, True),
        pytest.param(302, True),
        pytest.param(399, True),
        pytest.param(404, False),
        pytest.param(503, False),
    ],
)
async def test_http_check_status_ranges(http_server: tuple[int, list[bytes]], status: int, ok: bool) -> None:
    port, heads = http_server
    spec = ProbeSpec("http", "127.0.0.1", port, path=f"/{status}", headers=(("X-Probe", "yes"),))
    assert await probes.check(spec) is ok
    assert b"X-Probe: yes" in heads[0]
    assert b"User-Agent: kube-probe/zeroserve" in heads[0]


async def test_tcp_check(http_server: tuple[int, list[bytes]]) -> None:
    port, _ = http_server
    assert await probes.check(ProbeSpec("tcp", "127.0.0.1", port))


async def test_checks_fail_on_a_closed_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        assert not await probes.check(ProbeSpec("tcp", "127.0.0.1", port))
        assert not await probes.check(ProbeSpec("http", "127.0.0.1", port))


async def test_http_check_times_out_on_a_silent_server() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        assert not await probes.check(ProbeSpec("http", "127.0.0.1", port, timeout=0.05))


def test_a_starting_instance_is_probed_fast_then_warm_then_slow() -> None:
    from zeroserve.runtime.process import probe_interval

    assert [probe_interval(a) for a in (0.0, 0.099, 0.1, 1.999, 2.0, 60.0)] == [
        0.001,
        0.001,
        0.002,
        0.002,
        0.05,
        0.05,
    ]


def test_instances_starting_together_share_a_probe_rate() -> None:
    from zeroserve.runtime.process import (
        FAST_PROBE_INTERVAL,
        LONGEST_PROBE_INTERVAL,
        PROBE_RATE,
        SLOW_PROBE_INTERVAL,
        probe_interval,
    )

    assert probe_interval(0.0, probing=2) == FAST_PROBE_INTERVAL  # a cold start or two: as fast as alone
    assert probe_interval(0.0, probing=100) == 100 / PROBE_RATE  # 0 -> 100: 2,000 probes a second between them
    assert probe_interval(0.5, probing=100) == 100 / PROBE_RATE
    assert probe_interval(60.0, probing=20) == SLOW_PROBE_INTERVAL  # the slow interval is slower than the share
    assert probe_interval(0.0, probing=100_000) == LONGEST_PROBE_INTERVAL
