"""What one client connection may make the proxy hold: the request head, the pipeline, the time.

A proxy that parses whatever a client sends holds whatever a client sends. These limits bound
each connection (pure values and checks; :mod:`zeroserve.net.proxy` applies them):

* **The request head.** Envoy's ``max_request_headers_kb`` defaults to 60 and its answer past
  it is ``431 Request Header Fields Too Large``; the same here, measured as Envoy does (method,
  request target, header names and values, not the separators). The request target alone may be
  at most 16 KiB (``414 URI Too Long``): twice the 8 KiB request line of nginx's and Apache's
  defaults, so a URL that passes a common front end passes this one. A head that is still
  arriving is bounded too, by the bytes seen so far (the limit plus one :data:`SLICE`), so an
  endless header line costs at most that much memory and parsing work.
* **The pipeline.** Requests that arrive before the previous response is done are parsed ahead
  at most :data:`PIPELINE_DEPTH` deep; then the connection stops being read until one is over
  (backpressure: the client's bytes wait in the kernel, not in the proxy), as Envoy's HTTP/1
  codec stops reading while a request is being served.
* **Time.** A head must be complete within ``head_timeout`` of its first byte (Envoy's
  ``request_headers_timeout`` semantics; ``408`` then the connection is closed), so a slowloris
  client cannot hold a connection by trickling a head. ``idle_timeout`` closes a connection that
  has no request for that long (Envoy's HTTP connection manager ``idle_timeout``, 1 h by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_REQUEST_TARGET = 16 * 1024
"""Bytes of the request target (414 past it)."""
MAX_REQUEST_HEAD = 60 * 1024
"""Bytes of method, target, header names and values (431 past it): Envoy's 60 KiB default."""
PIPELINE_DEPTH = 16
"""Requests parsed ahead on one connection, the one being served included."""
HEAD_TIMEOUT = 10.0
"""Seconds from a head's first byte to its last."""
SLICE = 4096
"""Bytes parsed at a time while heads are parsed: how far past a limit a client gets before it is checked."""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Per client connection (see the module docstring); None turns a timeout off."""

    max_target: int = MAX_REQUEST_TARGET
    max_head: int = MAX_REQUEST_HEAD
    pipeline: int = PIPELINE_DEPTH
    head_timeout: float | None = HEAD_TIMEOUT
    idle_timeout: float | None = None

    @property
    def sweep_period(self) -> float | None:
        """How often connections are checked for the timeouts: a timeout fires up to this late."""
        timeouts = [t for t in (self.head_timeout, self.idle_timeout) if t is not None]
        return min(1.0, min(timeouts) / 4) if timeouts else None


DEFAULT_LIMITS = ConnectionLimits()


def target_too_long(limits: ConnectionLimits, size: int) -> tuple[int, str]:
    return 414, f"request target too long: {size} bytes, the limit is {limits.max_target} bytes (max_target)"


def head_too_large(limits: ConnectionLimits, size: int | None = None) -> tuple[int, str]:
    size_text = "over the limit of" if size is None else f"{size} bytes, the limit is"
    return 431, f"request header fields too large: {size_text} {limits.max_head} bytes (max_head)"


def check_head(
    limits: ConnectionLimits, method: bytes, target: bytes, headers: Sequence[tuple[bytes, bytes]]
) -> tuple[int, str] | None:
    """(status, message) when a complete head is over a limit, else None (Envoy's measure)."""
    if len(target) > limits.max_target:
        return target_too_long(limits, len(target))
    size = len(method) + len(target) + sum(len(name) + len(value) for name, value in headers)
    return head_too_large(limits, size) if size > limits.max_head else None


def check_partial_head(limits: ConnectionLimits, seen: int, target: bytes) -> tuple[int, str] | None:
    """(status, message) when a head still arriving is past a limit (``seen``: its bytes so far)."""
    if len(target) > limits.max_target:
        return target_too_long(limits, len(target))
    return head_too_large(limits) if seen > limits.max_head + SLICE else None
