"""The seams of the eventing data plane, defined by their consumers.

The ingress (``ingress.py``) accepts a CloudEvent for ``NAMESPACE/BROKER`` and answers 202 only once
the event is durable: it calls :meth:`EventLog.append`, which returns after the event is committed
(fsync'd, so it survives kill -9 and power loss) with the event's sequence number in that broker's
log. A log whose backlog is full raises :class:`BacklogFull` at once instead of queueing without
bound; the ingress answers 429 with ``Retry-After``.

``event_bytes`` is the event in CloudEvents' structured JSON format (``application/cloudevents+json``,
``data_base64`` for binary data), with the ingress's extensions (``knativearrivaltime``,
``knativebrokerttl``) already applied.

The implementation is ``log.SqliteEventLog`` (``DATA/eventing.db``; ``await log.open()`` /
``close()``, or ``async with``): sequence numbers count per Broker from 1 without gaps, and
``BacklogFull`` comes when ``max-pending`` appends wait for their commit or the Broker's slowest
Trigger owes ``max-backlog`` events (``config-zeroserve-eventing``; pass ``config=lambda:
watcher.current.eventing`` to follow DATA/config.yaml live).

The dispatcher (``dispatch.Dispatcher`` fed by ``dispatch.TriggerFeed(store, dispatcher, BROKER,
TRIGGER)``) reads these fields, as Knative names them, and nothing else: a Trigger's
``metadata.uid/creationTimestamp/annotations``, ``spec.broker/filter/filters/delivery``,
``status.subscriberUri`` (no delivery until it is set; events wait in the log) and
``status.deadLetterSinkUri``; a Broker's ``eventing.knative.dev/broker.class`` annotation (absent or
``MTChannelBasedBroker``), ``spec.delivery``, ``status.deadLetterSinkUri`` and ``status.address.url``
(where replies are POSTed: it must reach the ingress from the host). Hosts that are not an IP or
``localhost`` are dialled through the gateway's internal listener (``dispatch.Sender(internal=...)``).
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


CHANNEL_LOG_PREFIX = "channel:"
"""A channel's events share the log with the Brokers' under ``channel:NAME`` (no Broker name has a
colon): its subscribers read it as Triggers read their Broker's."""


def channel_log(name: str) -> str:
    """The log key of channel ``name`` (an InMemoryChannel) in its namespace."""
    return CHANNEL_LOG_PREFIX + name


def is_channel_log(key: str) -> bool:
    return key.startswith(CHANNEL_LOG_PREFIX)
