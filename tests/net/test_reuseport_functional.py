"""zeroserve.net.reuseport on real sockets on 127.0.0.1 (and ::1): the kernel hands each new connection
to the socket of the group the selector names, a hash of the client's port; a socket that joins the
group later (same user, SO_REUSEPORT on the port) gets none."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from zeroserve.net import reuseport


def expected_index(client_port: int, count: int) -> int:
    """What the selector computes (the module's program, in Python)."""
    return (((client_port * 0x9E3779B1) & 0xFFFFFFFF) >> 16) % count


def accepted(sock: socket.socket) -> list[int]:
    """The client ports of the connections queued on ``sock`` (accepted and closed)."""
    ports: list[int] = []
    while True:
        try:
            conn, address = sock.accept()
        except BlockingIOError:
            return ports
        conn.close()
        ports.append(address[1])


@pytest.fixture
def clients() -> Iterator[list[socket.socket]]:
    made: list[socket.socket] = []
    yield made
    for client in made:
        client.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_each_connection_goes_to_the_socket_the_selector_names(host: str, clients: list[socket.socket]) -> None:
    group = reuseport.group(host, 0, 4)
    try:
        port = group[0].getsockname()[1]
        assert {sock.getsockname()[1] for sock in group} == {port}
        for _ in range(64):  # connected once the handshake is done: queued on one socket of the group
            clients.append(socket.create_connection((host, port)))
        got = [accepted(sock) for sock in group]
        assert sorted(p for ports in got for p in ports) == sorted(c.getsockname()[1] for c in clients)
        for index, ports in enumerate(got):
            assert ports, f"socket {index} got none of 64 connections: {[len(p) for p in got]}"
            assert all(expected_index(p, 4) == index for p in ports), (index, ports)
    finally:
        for sock in group:
            sock.close()


def test_a_socket_joining_the_group_later_gets_no_connection(clients: list[socket.socket]) -> None:
    group = reuseport.group("127.0.0.1", 0, 2)
    port = group[0].getsockname()[1]
    intruder = socket.socket()
    try:
        intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        intruder.bind(("127.0.0.1", port))  # allowed: same user, SO_REUSEPORT on both sides
        intruder.listen()
        intruder.setblocking(False)
        for _ in range(64):
            clients.append(socket.create_connection(("127.0.0.1", port)))
        assert accepted(intruder) == []
        assert len(accepted(group[0])) + len(accepted(group[1])) == 64
    finally:
        intruder.close()
        for sock in group:
            sock.close()


@pytest.mark.parametrize("reuse", [False, True], ids=["plain", "reuseport"])
def test_a_taken_port_is_an_error_and_leaves_nothing_open(reuse: bool) -> None:
    """A socket on the port first, even one with SO_REUSEPORT (an app of the same user that knew the
    port): the group is refused the port (its first socket has the selector), never joins theirs."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, int(reuse))
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        before = os.listdir("/proc/self/fd")
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=rf"bind on address \('127.0.0.1', {port}\): address already in use"):
            reuseport.group("127.0.0.1", port, 3)
        assert os.listdir("/proc/self/fd") == before
