"""The seams of the eventing data plane, defined by their consumers.

The ingress (``ingress.py``) accepts a CloudEvent for ``NAMESPACE/BROKER`` and answers 202 only once
the event is durable: it calls :meth:`EventLog.append`, which returns after the event is committed
(fsync'd, so it survives kill -9 and power loss) with the event's sequence number in that broker's
log. A log whose backlog is full raises :class:`BacklogFull` at once instead of queueing without
bound; the ingress answers 429 with ``Retry-After``.

``event_bytes`` is the event in CloudEvents' structured JSON format (``application/cloudevents+json``,
``data_base64`` for binary data), with the ingress's extensions (``knativearrivaltime``,
``knativebrokerttl``) already applied.
"""

from __future__ import annotations

from typing import Protocol

from zeroserve.errors import ZeroserveError


class BacklogFull(ZeroserveError):
    """The log cannot take more events now; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EventLog(Protocol):
    """Where the ingress puts accepted events."""

    async def append(self, namespace: str, broker: str, event_bytes: bytes) -> int:
        """Commit one event durably and return its sequence number (raises :class:`BacklogFull`)."""
        ...
