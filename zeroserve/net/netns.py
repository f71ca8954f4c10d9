"""Network namespaces of container instances, and reaching into them (docs/containers.md, part 4).

Each container instance has a network namespace of its own (:func:`create`): only a loopback
interface, so two instances of an image that always binds 8080 both work, and an app cannot reach
the platform's ports. Knative reaches a pod at its IP; zeroserve reaches an app by a socket
*created inside* its namespace and connected there to ``127.0.0.1:containerPort``. A socket keeps
the namespace it was created in, whichever thread later connects or reads it, so the event loop
drives it like any other.

``setns(CLONE_NEWNET)`` acts on the calling thread only: :meth:`NetNs.socket` switches the calling
thread in, makes the socket and switches back, with no other code running on that thread in
between (8 us median here, against 100-300 us for a hop to a worker thread and back). The same
switch around a ``vfork`` starts a process inside (:meth:`NetNs.entered`). Python 3.11 has no
``os.setns``: libc's is called through ctypes.

**Endpoints.** Routing tables, the gateway's upstream pool and the activator keep ``(host, port)``
addresses. An instance's address is a *reserved* loopback port (:func:`reserve`: a socket bound to
``127.0.0.1:0``, kept and never listening, so nothing else gets the port and a client that does not
know it is refused at once) registered here with the namespace and the port inside it. Whoever
opens a connection asks :func:`lookup` first (one dict lookup; None for a process instance), and
:func:`connect` / :func:`open_connection` do both. An :func:`alias` is a host name that stands for a
namespace's own loopback on any port (the proxy inside an instance forwards ``localhost:PORT`` there).

**Listening inside** (:meth:`NetNs.listener`): the platform can also serve *in* a namespace — a socket
bound to ``127.0.0.1:PORT`` there and listening, served by the event loop like any other (the HTTP
proxy every container instance gets as ``http_proxy``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import itertools
import logging
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
_IFREQ = struct.Struct("16sH14x")
THREAD_NS = "/proc/thread-self/ns/net"
UNPRIVILEGED_PORT_START = "/proc/sys/net/ipv4/ip_unprivileged_port_start"
"""Set to 0 inside every namespace, as container runtimes do for pods: an app without capabilities
may bind port 80 of its own loopback."""
INSIDE_HOST = "127.0.0.1"

_libc = ctypes.CDLL(None, use_errno=True)
Socket = socket.socket


def _call(name: str, *args: int) -> None:
    if getattr(_libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")


class NetNs:
    """An open handle (``/proc/<tid>/ns/net``) that keeps a network namespace alive until closed."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __repr__(self) -> str:
        return f"NetNs(fd={self.fd})"

    @property
    def closed(self) -> bool:
        return self.fd < 0

    def close(self) -> None:
        """Let the namespace go once no process lives in it any more (idempotent)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Run the block with the calling thread inside the namespace (sockets made and processes
        spawned there belong to it). Never await inside: the thread is the event loop's."""
        if self.fd < 0:
            raise OSError(9, "the network namespace is closed")
        home = os.open(THREAD_NS, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _call("setns", self.fd, CLONE_NEWNET)
            try:
                yield
            finally:
                _return(home)
        finally:
            os.close(home)

    def socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> socket.socket:
        """A new non-blocking socket of this namespace."""
        with self.entered():
            sock = socket.socket(family, kind)
        sock.setblocking(False)
        return sock

    def listener(self, port: int, backlog: int = 128) -> Socket:
        """A non-blocking socket listening on ``127.0.0.1:port`` inside this namespace (OSError if
        the port is taken there)."""
        sock = self.socket()
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((INSIDE_HOST, port))
            sock.listen(backlog)
        except BaseException:
            sock.close()
            raise
        return sock


def _return(home: int) -> None:
    """Back to the thread's own namespace; a thread that cannot return would open every later
    connection in an instance's namespace, so that ends the process."""
    try:
        _call("setns", home, CLONE_NEWNET)
    except OSError:  # pragma: no cover - root with an open handle; only ENOMEM remains
        logger.critical("cannot return a thread to its network namespace: aborting", exc_info=True)
        os.abort()


def create() -> NetNs:
    """A new network namespace with its loopback up (blocking, ~0.6 ms: call it from a worker thread).

    Needs CAP_SYS_ADMIN (``zeroserve up`` as root); raises OSError otherwise."""
    home = os.open(THREAD_NS, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _call("unshare", CLONE_NEWNET)
        try:
            fd = os.open(THREAD_NS, os.O_RDONLY | os.O_CLOEXEC)
            try:
                _loopback_up()
                with open(UNPRIVILEGED_PORT_START, "w") as sysctl:
                    sysctl.write("0")
            except BaseException:
                os.close(fd)
                raise
        finally:
            _return(home)
    finally:
        os.close(home)
    return NetNs(fd)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = _IFREQ.pack(b"lo", 0)
        flags = _IFREQ.unpack(fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, _IFREQ.pack(b"lo", flags | IFF_UP))


def available() -> str | None:
    """None when this process can make network namespaces, else why not (tried once, for real)."""
    try:
        create().close()
    except OSError as err:
        return f"no network namespace can be created: {err}"
    return None


# -- endpoints that stand for a namespace ---------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a reserved endpoint leads: ``port`` on the loopback of ``netns``."""

    netns: NetNs
    port: int


_targets: dict[tuple[str, int], Target] = {}


class Reservation:
    """A loopback port held for an instance and registered as leading into its namespace."""

    def __init__(self, netns: NetNs, port: int, host: str = "127.0.0.1") -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._sock.bind((host, 0))
        except BaseException:
            self._sock.close()
            raise
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self.target = Target(netns, port)
        _targets[(host, self.port)] = self.target

    def __repr__(self) -> str:
        return f"Reservation({self.host}:{self.port} -> {self.target.netns!r}:{self.target.port})"

    def release(self) -> None:
        """Forget the endpoint and free the port (idempotent)."""
        if _targets.get((self.host, self.port)) is self.target:
            del _targets[(self.host, self.port)]
        self._sock.close()


def reserve(netns: NetNs, port: int, host: str = "127.0.0.1") -> Reservation:
    """An endpoint on ``host`` that leads to ``port`` inside ``netns`` (see the module docstring)."""
    return Reservation(netns, port, host)


_aliases: dict[str, NetNs] = {}
_alias_numbers = itertools.count(1)


def alias(netns: NetNs) -> str:
    """A host name (never resolvable) whose every port leads to that port on ``netns``'s loopback;
    a new one per call (a pooled connection to a gone namespace never serves a new one)."""
    name = f"netns-{next(_alias_numbers)}.zeroserve.invalid"
    _aliases[name] = netns
    return name


def unalias(name: str) -> None:
    _aliases.pop(name, None)


def lookup(host: str, port: int) -> Target | None:
    """The namespace and port behind ``host:port``, or None for an ordinary address."""
    if _targets and (target := _targets.get((host, port))) is not None:
        return target
    if _aliases and (netns := _aliases.get(host)) is not None:
        return Target(netns, port)
    return None


async def connect(target: Target) -> socket.socket:
    """A connected, non-blocking socket to ``target`` (``OSError`` as a refused connect raises it)."""
    if target.netns.closed:
        raise ConnectionRefusedError(111, "the instance's network namespace is gone")
    sock = target.netns.socket()
    try:
        await asyncio.get_running_loop().sock_connect(sock, (INSIDE_HOST, target.port))
    except BaseException:
        sock.close()
        raise
    return sock


async def open_connection(host: str, port: int, **kwargs: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_connection`` that also reaches reserved endpoints."""
    target = lookup(host, port)
    if target is None:
        return await asyncio.open_connection(host, port, **kwargs)
    sock = await connect(target)
    try:
        return await asyncio.open_connection(sock=sock, **kwargs)
    except BaseException:
        sock.close()
        raise
