"""Readiness, liveness and startup probes of an instance (kubelet's prober and the queue-proxy's).

``resolve`` turns a container's :class:`~zeroserve.api.podspec.Probe` into a :class:`ProbeSpec`
with Kubernetes' defaults (pure). ``check`` runs one probe: a TCP connect, an HTTP GET where a
status of 200-399 passes, a gRPC health check (``grpc.health.v1.Health/Check`` answering SERVING,
:mod:`.grpcprobe`), or a command whose exit code 0 passes. As in Knative, a probe of the serving
container always targets its port (``PORT``), whatever port the spec names; with no probe at all
the default is a TCP connect to that port. A sidecar's probes (``multi-container-probing``) target
the ports they name.

A container instance lives in a network namespace of its own: ``check(spec, netns=...)`` connects
inside it (a socket made there, :mod:`zeroserve.net.netns`), to ``127.0.0.1`` and the port the app
has there, as the kubelet reaches a pod's IP. An ``exec`` probe runs its command inside the
container (``run``: the instance's way in, :func:`zeroserve.runtime.container.exec_argv`); a process
instance has no container to run it in, so there it falls back to the TCP probe and ``resolve``
says so in a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Literal

from zeroserve.api.podspec import Probe
from zeroserve.net.netns import NetNs
from zeroserve.runtime import grpcprobe

DEFAULT_PERIOD_SECONDS = 10
DEFAULT_TIMEOUT_SECONDS = 1
DEFAULT_FAILURE_THRESHOLD = 3
DEFAULT_SUCCESS_THRESHOLD = 1

USER_AGENT = "kube-probe/zeroserve"

Kind = Literal["tcp", "http", "grpc", "exec", "none"]
"""``none``: no probe at all, passes at once (a non-serving workload's readiness: ready once started,
as the kubelet's container without a readiness probe)."""
Run = Callable[[tuple[str, ...], float], Awaitable[int]]
"""``run(command, timeout)``: the exit code of ``command`` run inside the container."""


@dataclass(frozen=True)
class ProbeSpec:
    kind: Kind
    host: str
    port: int
    path: str = "/"
    scheme: Literal["http", "https"] = "http"
    headers: tuple[tuple[str, str], ...] = ()
    initial_delay: float = 0.0
    period: float = DEFAULT_PERIOD_SECONDS
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    success_threshold: int = DEFAULT_SUCCESS_THRESHOLD
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    service: str = ""
    """The gRPC health service asked about (``grpc.service``)."""
    command: tuple[str, ...] = ()
    """An ``exec`` probe's command."""


STARTED = ProbeSpec("none", "", 0)
"""The readiness of a container with no probe and no port: ready once started."""


def resolve(
    probe: Probe | None,
    host: str,
    port: int,
    *,
    what: str = "readiness",
    container: bool = False,
    declared_port: bool = False,
) -> tuple[ProbeSpec, list[str]]:
    """The probe to run against ``host:port`` for ``probe``, and warnings about what is ignored.

    ``container``: an ``exec`` probe can run (inside the container); ``declared_port``: connect to the
    port the probe names (a sidecar's), ``port`` only where it names none."""
    if probe is None:
        return ProbeSpec(kind="tcp", host=host, port=port), []
    warnings: list[str] = []
    spec = ProbeSpec(
        "tcp",
        host,
        port,
        initial_delay=float(probe.initial_delay_seconds or 0),
        period=float(probe.period_seconds or DEFAULT_PERIOD_SECONDS),
        timeout=float(probe.timeout_seconds or DEFAULT_TIMEOUT_SECONDS),
        success_threshold=probe.success_threshold or DEFAULT_SUCCESS_THRESHOLD,
        failure_threshold=probe.failure_threshold or DEFAULT_FAILURE_THRESHOLD,
    )
    if probe.http_get is not None:
        action = probe.http_get
        path = action.path or "/"
        return replace(
            spec,
            kind="http",
            port=_port(action.port, port, declared_port),
            path=path if path.startswith("/") else "/" + path,
            scheme="https" if (action.scheme or "").upper() == "HTTPS" else "http",
            headers=tuple((header.name, header.value) for header in action.http_headers),
        ), warnings
    if probe.grpc is not None:
        service = probe.grpc.get("service")
        grpc_port = _port(probe.grpc.get("port"), port, declared_port)
        return replace(spec, kind="grpc", port=grpc_port, service=service if isinstance(service, str) else ""), []
    if probe.exec is not None:
        command = probe.exec.get("command")
        if container and isinstance(command, list) and command and all(isinstance(c, str) for c in command):
            return replace(spec, kind="exec", command=tuple(command)), []
        if not container:
            warnings.append(f"exec {what} probe is not supported by the process runtime; probing TCP on PORT instead")
    if probe.tcp_socket is not None:
        spec = replace(spec, port=_port(probe.tcp_socket.port, port, declared_port))
    return spec, warnings


def _port(named: object, default: int, declared: bool) -> int:
    """The probe's own port where it is a number and ``declared`` asks for it, else ``default``."""
    if declared and isinstance(named, int) and not isinstance(named, bool) and 0 < named < 65536:
        return named
    return default


async def check(spec: ProbeSpec, *, netns: NetNs | None = None, run: Run | None = None) -> bool:
    """Run ``spec`` once: True when it passes within its timeout. ``netns``: connect inside that
    network namespace; ``run``: how an ``exec`` probe's command runs (none: it fails)."""
    try:
        async with asyncio.timeout(spec.timeout):
            if spec.kind == "none":
                return True
            if spec.kind == "tcp":
                return await _check_tcp(spec, netns)
            if spec.kind == "exec":
                return run is not None and await run(spec.command, spec.timeout) == 0
            if spec.kind == "grpc":
                return await _check_grpc(spec, netns)
            return await _check_http(spec, netns)
    except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
        return False


def _socket(spec: ProbeSpec, netns: NetNs | None) -> socket.socket:
    family = socket.AF_INET6 if ":" in spec.host else socket.AF_INET
    if netns is not None:
        return netns.socket(family)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    return sock


async def _check_tcp(spec: ProbeSpec, netns: NetNs | None) -> bool:
    """A bare connect (no stream objects: a starting instance is probed every 1-2 ms)."""
    with _socket(spec, netns) as sock:
        await asyncio.get_running_loop().sock_connect(sock, (spec.host, spec.port))
    return True


async def _connect(
    spec: ProbeSpec, netns: NetNs | None, context: ssl.SSLContext | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = _socket(spec, netns)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (spec.host, spec.port))
        hostname = spec.host if context is not None else None
        return await asyncio.open_connection(sock=sock, ssl=context, server_hostname=hostname)
    except BaseException:
        sock.close()
        raise


async def _check_grpc(spec: ProbeSpec, netns: NetNs | None) -> bool:
    reader, writer = await _connect(spec, netns)
    try:
        return await grpcprobe.check(reader, writer, f"{spec.host}:{spec.port}", spec.service)
    finally:
        writer.close()
        await _closed(writer)


async def _check_http(spec: ProbeSpec, netns: NetNs | None) -> bool:
    context = _insecure_context() if spec.scheme == "https" else None
    reader, writer = await _connect(spec, netns, context)
    try:
        writer.write(_request(spec))
        status_line = await reader.readline()
    finally:
        writer.close()
        await _closed(writer)
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        return False
    return 200 <= int(parts[1]) < 400


def _request(spec: ProbeSpec) -> bytes:
    headers = {"Host": f"{spec.host}:{spec.port}", "User-Agent": USER_AGENT, "Accept": "*/*"}
    for name, value in spec.headers:
        headers[name] = value
    headers["Connection"] = "close"
    lines = [f"GET {spec.path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _insecure_context() -> ssl.SSLContext:
    """kubelet does not verify certificates of HTTPS probes; neither do we."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _closed(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        await writer.wait_closed()
