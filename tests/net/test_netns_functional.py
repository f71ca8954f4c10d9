"""Network namespaces of container instances and the endpoints that lead into them (real namespaces,
real sockets; root only)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest

from zeroserve.net import netns
from zeroserve.net.upstream import UpstreamPool

pytestmark = pytest.mark.skipif(
    (why := netns.available()) is not None, reason=why or "network namespaces are available"
)


@pytest.fixture
def namespaces() -> Iterator[list[netns.NetNs]]:
    made: list[netns.NetNs] = []
    yield made
    for ns in made:
        ns.close()


def new(namespaces: list[netns.NetNs]) -> netns.NetNs:
    ns = netns.create()
    namespaces.append(ns)
    return ns


@asynccontextmanager
async def answering(ns: netns.NetNs, port: int, answer: bytes) -> AsyncIterator[None]:
    """A server on 0.0.0.0:``port`` of ``ns`` that writes ``answer`` to every connection and closes."""

    async def on_client(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await writer.drain()
        writer.close()

    listener = ns.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    server = await asyncio.start_server(on_client, sock=listener)
    async with server:
        yield


def own_namespace() -> str:
    return os.readlink(netns.THREAD_NS)


async def read_all(host: str, port: int) -> bytes:
    reader, writer = await netns.open_connection(host, port)
    try:
        return await reader.read()
    finally:
        writer.close()


async def test_two_namespaces_bind_the_same_fixed_port(namespaces: list[netns.NetNs]) -> None:
    a, b = new(namespaces), new(namespaces)
    async with answering(a, 8080, b"a"), answering(b, 8080, b"b"):
        first, second = netns.reserve(a, 8080), netns.reserve(b, 8080)
        try:
            assert await read_all("127.0.0.1", first.port) == b"a"
            assert await read_all("127.0.0.1", second.port) == b"b"
        finally:
            first.release()
            second.release()


async def test_the_calling_thread_stays_in_its_own_namespace(namespaces: list[netns.NetNs]) -> None:
    before = own_namespace()
    ns = new(namespaces)
    sock = ns.socket()
    sock.close()
    with pytest.raises(ZeroDivisionError), ns.entered():
        assert own_namespace() != before
        raise ZeroDivisionError  # an error inside the block still switches back
    assert own_namespace() == before


def test_a_namespace_has_its_loopback_up_and_unprivileged_low_ports(namespaces: list[netns.NetNs]) -> None:
    with open(netns.UNPRIVILEGED_PORT_START) as f:
        host_value = f.read()
    ns = new(namespaces)
    with ns.entered(), open(netns.UNPRIVILEGED_PORT_START) as f:
        inside = f.read()
    assert inside.strip() == "0"
    with open(netns.UNPRIVILEGED_PORT_START) as f:
        assert f.read() == host_value
    listener, client = ns.socket(), ns.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client.setblocking(True)
        client.connect(listener.getsockname())  # ENETUNREACH on a loopback that is down
    finally:
        listener.close()
        client.close()


async def test_the_reserved_port_refuses_clients_that_do_not_know_it(namespaces: list[netns.NetNs]) -> None:
    reservation = netns.reserve(new(namespaces), 8080)
    try:
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", reservation.port)
        assert netns.lookup("127.0.0.1", reservation.port) == reservation.target
    finally:
        reservation.release()
    assert netns.lookup("127.0.0.1", reservation.port) is None
    reservation.release()  # idempotent


async def test_nothing_listening_inside_is_refused_and_a_closed_namespace_too(
    namespaces: list[netns.NetNs],
) -> None:
    ns = new(namespaces)
    reservation = netns.reserve(ns, 8080)
    try:
        with pytest.raises(ConnectionRefusedError):
            await netns.open_connection("127.0.0.1", reservation.port)
        ns.close()
        with pytest.raises(ConnectionRefusedError):
            await netns.open_connection("127.0.0.1", reservation.port)
    finally:
        reservation.release()


async def test_the_upstream_pool_connects_into_the_namespace(namespaces: list[netns.NetNs]) -> None:
    ns = new(namespaces)
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ninside"
    async with answering(ns, 9000, response):
        reservation = netns.reserve(ns, 9000)
        pool = UpstreamPool()
        try:
            conn = await pool.connect(("127.0.0.1", reservation.port))
            assert conn.transport is not None
            peer = conn.transport.get_extra_info("peername")
            assert peer == ("127.0.0.1", 9000)  # the app's port in its namespace, not the reserved one
            conn.close()
        finally:
            pool.close()
            reservation.release()


async def test_ordinary_addresses_are_connected_as_they_are() -> None:
    async def on_client(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"host")
        writer.close()

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        assert netns.lookup("127.0.0.1", port) is None
        assert await read_all("127.0.0.1", port) == b"host"
