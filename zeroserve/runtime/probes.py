"""Readiness and liveness probes of an instance (kubelet's prober, for processes).

``resolve`` turns a container's :class:`~zeroserve.api.podspec.Probe` into a
:class:`ProbeSpec` with Kubernetes' defaults (pure). ``check`` runs one probe: a TCP connect,
or an HTTP GET where a status of 200-399 passes. As in Knative, a probe always targets the
instance's serving port (``PORT``), whatever port the spec names; with no probe at all the
default is a TCP connect to that port. ``exec`` and ``grpc`` probes cannot run here: they fall
back to the TCP probe and ``resolve`` says so in a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from dataclasses import dataclass, replace
from typing import Literal

from zeroserve.api.podspec import Probe

DEFAULT_PERIOD_SECONDS = 10
DEFAULT_TIMEOUT_SECONDS = 1
DEFAULT_FAILURE_THRESHOLD = 3
DEFAULT_SUCCESS_THRESHOLD = 1

USER_AGENT = "kube-probe/zeroserve"


@dataclass(frozen=True)
class ProbeSpec:
    kind: Literal["tcp", "http"]
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


def resolve(probe: Probe | None, host: str, port: int, *, what: str = "readiness") -> tuple[ProbeSpec, list[str]]:
    """The probe to run against ``host:port`` for ``probe``, and warnings about what is ignored."""
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
            path=path if path.startswith("/") else "/" + path,
            scheme="https" if (action.scheme or "").upper() == "HTTPS" else "http",
            headers=tuple((header.name, header.value) for header in action.http_headers),
        ), warnings
    if probe.exec is not None or probe.grpc is not None:
        kind = "exec" if probe.exec is not None else "grpc"
        warnings.append(f"{kind} {what} probe is not supported by the process runtime; probing TCP on PORT instead")
    return spec, warnings


async def check(spec: ProbeSpec) -> bool:
    """Run ``spec`` once: True when it passes within its timeout."""
    try:
        async with asyncio.timeout(spec.timeout):
            if spec.kind == "tcp":
                return await _check_tcp(spec)
            return await _check_http(spec)
    except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
        return False


async def _check_tcp(spec: ProbeSpec) -> bool:
    """A bare connect (no stream objects: a starting instance is probed every 1-2 ms)."""
    family = socket.AF_INET6 if ":" in spec.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (spec.host, spec.port))
    return True


async def _check_http(spec: ProbeSpec) -> bool:
    context = _insecure_context() if spec.scheme == "https" else None
    reader, writer = await asyncio.open_connection(spec.host, spec.port, ssl=context)
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
