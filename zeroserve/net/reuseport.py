"""One listening socket per gateway process on one port, the kernel choosing one per connection.

``up --workers N`` runs N processes that accept the gateway's connections
(:mod:`zeroserve.gateway.workers`). On one shared listening socket every process is woken for each
new connection and whichever runs first accepts every connection queued by then: on 2 cores, 64
connections opened at once went 31/21/11/1 over 4 processes (nginx, one accept per wake-up and one
process woken: 18/16/16/14), and on a machine with many cores the processes that take the most set
the pace. Here each process has a socket of its own, all bound to the port with ``SO_REUSEPORT``:
the kernel hands each new connection to one socket of the group and wakes that one process only.

**Which socket.** A classic BPF program attached to the group (``SO_ATTACH_REUSEPORT_CBPF``)
returns the index of the socket for each connection: a multiplicative hash of the client's port,
modulo the group's size when it was made. So a connection goes to one of *these* sockets: a socket
that another process of the same user adds to the group later (an app running as zeroserve's
user, with ``SO_REUSEPORT`` on the gateway's port) gets an index past them and no connection. The
group's first socket has the program before it binds, and the kernel refuses such a socket a port
another socket holds (a second ``up`` on the port fails as it did): so the gateway's sockets are
the group's first ones, made when ``up`` starts, before any instance runs. The program reads the client's
port at the transport header's offset after an IPv4 or IPv6 header without options (a packet
with IPv4 options hashes other bytes: another socket of the group, never a wrong one). Where the
kernel refuses the program (before Linux 4.5, or a seccomp filter), :func:`group` raises
:class:`Unsupported` and the gateway falls back to :func:`shared`: one socket every process
accepts on, as before the group (``up`` says so in its log).

**A socket whose process is not accepting** (not started yet, dead and being started again) holds
its connections in its backlog: the main process accepts on it meanwhile
(:meth:`zeroserve.gateway.server.Gateway.adopt`), so none waits for a restart and none is lost
(the socket stays open in the main process while its worker is gone). A process that is alive but
stuck (its loop blocked) is found by the main process's pings (``gateway.workers.STUCK_AFTER``)
and its socket accepted on by the main process too until it answers again.
"""

from __future__ import annotations

import ctypes
import socket
import struct
from typing import Any

SO_ATTACH_REUSEPORT_CBPF = 51
"""``include/uapi/asm-generic/socket.h``."""
_SKF_NET_OFF = 0xFFF00000
"""``SKF_NET_OFF`` (-0x100000): loads relative to the network header."""
_GOLDEN = 0x9E3779B1
"""Knuth's multiplicative hash constant (2^32 / phi): connect()'s ports are even, so the port
itself modulo an even size would use half of the sockets."""


def _program(count: int) -> list[tuple[int, int, int, int]]:
    """(code, jt, jf, k) for: A = client port; A *= GOLDEN; A >>= 16; A %= count; return A."""
    return [
        (0x30, 0, 0, _SKF_NET_OFF),  # ldb [net + 0]: version and IHL
        (0x74, 0, 0, 4),  # rsh #4: the IP version
        (0x15, 2, 0, 6),  # jeq #6: IPv6 -> 5, else -> 3
        (0x28, 0, 0, _SKF_NET_OFF + 20),  # ldh [net + 20]: TCP source port after an IPv4 header
        (0x05, 0, 0, 1),  # ja -> 6
        (0x28, 0, 0, _SKF_NET_OFF + 40),  # ldh [net + 40]: after an IPv6 header
        (0x24, 0, 0, _GOLDEN),  # mul
        (0x74, 0, 0, 16),  # rsh #16
        (0x94, 0, 0, count),  # mod #count
        (0x16, 0, 0, 0),  # ret a
    ]


class SockFprog(ctypes.Structure):
    """``struct sock_fprog``: a classic BPF program as the kernel takes it (socket options, seccomp)."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def sock_fprog(instructions: list[tuple[int, int, int, int]]) -> tuple[SockFprog, ctypes.Array[ctypes.c_char]]:
    """The program of ``(code, jt, jf, k)`` instructions, and the buffer it points to (keep both
    alive until the kernel has copied it in)."""
    code = ctypes.create_string_buffer(b"".join(struct.pack("=HBBI", *i) for i in instructions))
    return SockFprog(len(instructions), ctypes.addressof(code)), code


def attach_selector(sock: socket.socket, count: int) -> None:
    """Give ``sock``'s reuseport group (made now if it has none) the program choosing among ``count``."""
    fprog, _code = sock_fprog(_program(count))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, bytes(fprog))  # copied in during the call


class Unsupported(OSError):
    """The kernel refuses the selector (``SO_ATTACH_REUSEPORT_CBPF``: before Linux 4.5, or a
    sandbox's seccomp filter): :func:`shared` instead."""


def group(host: str, port: int, count: int, backlog: int = 1024) -> list[socket.socket]:
    """``count`` sockets listening on ``host:port`` (0: a port the kernel picks), non-blocking, in
    one reuseport group that hands each new connection to one of them (the module's text). Raises
    OSError as a bind or listen would (the port is taken), :class:`Unsupported` where the kernel
    has no selector."""
    family, kind, proto, _, address = _address(host, port)
    socks: list[socket.socket] = []
    try:
        for index in range(count):
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio's servers
            if index == 0:
                try:
                    attach_selector(sock, count)
                except OSError as err:
                    raise Unsupported(err.errno, f"no reuseport selector here ({err.strerror or err})") from None
            _bind(sock, address)
            address = (address[0], sock.getsockname()[1], *address[2:])  # the others on the first's port
        for sock in socks:  # the first one's group (with the program) is the group the others join
            sock.listen(backlog)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def shared(host: str, port: int, count: int, backlog: int = 1024) -> list[socket.socket]:
    """Where there is no selector: ``count`` descriptors of one socket listening on ``host:port``
    (each process accepts on it, all woken for each connection, whoever runs first taking it)."""
    family, kind, proto, _, address = _address(host, port)
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        _bind(sock, address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return [sock, *(sock.dup() for _ in range(count - 1))]


def _address(host: str, port: int) -> tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]


def _bind(sock: socket.socket, address: tuple[Any, ...]) -> None:
    """``sock.bind``, then non-blocking; a refusal worded as asyncio words it (``cli.upfailures`` reads it)."""
    try:
        sock.bind(address)
    except OSError as err:
        what = (err.strerror or str(err)).lower()
        raise OSError(err.errno, f"error while attempting to bind on address {address[:2]!r}: {what}") from None
    sock.setblocking(False)


__all__ = ["SO_ATTACH_REUSEPORT_CBPF", "SockFprog", "Unsupported", "attach_selector", "group", "shared", "sock_fprog"]
