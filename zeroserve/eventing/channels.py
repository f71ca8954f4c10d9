"""InMemoryChannels on the durable log: their ingress and their subscribers' deliveries (Knative's
``pkg/channel`` receiver and fanout, ``pkg/reconciler/inmemorychannel/dispatcher``).

**Durable, unlike Knative's.** Knative's InMemoryChannel keeps nothing: an event is fanned out from
memory and lost if the dispatcher restarts. Here a channel is a stream of the Brokers' log
(``channel:NAME`` in its namespace, :func:`~zeroserve.eventing.base.channel_log`): the ingress answers
202 only once the event is committed, and each subscriber reads the stream with a cursor of its own,
as a Trigger reads its Broker's (same :class:`~zeroserve.eventing.dispatch.TriggerWorker`: retries,
backoff, dead letters, replies, at-least-once across restarts). A new subscriber starts with the
events that arrive after the dispatcher first sees it; the InMemoryChannel reconciler marks it ready
in ``status.subscribers`` only then (:meth:`ChannelPlane.subscribed`), so nothing sent after its
Subscription is Ready is missed.

**Ingress** (the receiver, ``pkg/channel/event_receiver.go``): a channel's address is
``http://NAME-kn-channel.NS.svc.cluster.local`` (host-based, as the IMC's ``status.address``); the
gateway's internal listener answers that host with this process's handler once the reconciler
published the channel. ``OPTIONS`` is the webhook handshake, a method other than POST 405, an invalid
CloudEvent 400, an unknown channel 404 (its host is not published), otherwise the event is appended
as it came (no broker TTL: channels do not loop-count) and 202 answered.

**Subscribers** (the channel's ``spec.subscribers``, written by the Subscription reconciler): each is
delivered to its ``subscriberUri`` with its ``delivery`` (retries, backoff, ``deadLetterSink.uri``),
a reply going to its ``replyUri`` (dropped when it has none, as Knative's dispatcher does); one with
only a ``replyUri`` forwards the events there.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from zeroserve.api.kinds import Kind
from zeroserve.api.messaging import channel_host
from zeroserve.errors import Gone
from zeroserve.eventing import cloudevent
from zeroserve.eventing.base import channel_log, is_channel_log
from zeroserve.eventing.dispatch import Dispatcher, TriggerConfig
from zeroserve.eventing.filters import TriggerFilter
from zeroserve.eventing.ingress import ALLOW, MAX_BODY, OPTIONS_HEADERS, Ingress, answer, header_dict
from zeroserve.eventing.retry import RetryPolicy
from zeroserve.net.proxy import Local, RequestHead, Response
from zeroserve.store.base import Store

log = logging.getLogger("zeroserve.eventing.channels")

Obj = dict[str, Any]
ChannelKey = tuple[str, str]


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def subscriber_configs(channel: Mapping[str, Any], now: float) -> dict[str, TriggerConfig]:
    """What the dispatcher delivers for an InMemoryChannel: one config per ``spec.subscribers`` entry
    (by uid); none for a channel being deleted."""
    meta, spec = _dict(channel.get("metadata")), _dict(channel.get("spec"))
    namespace, name = _str(meta.get("namespace")), _str(meta.get("name"))
    if namespace is None or name is None or meta.get("deletionTimestamp"):
        return {}
    out: dict[str, TriggerConfig] = {}
    for raw in spec.get("subscribers") or []:
        sub = _dict(raw)
        uid = _str(sub.get("uid"))
        subscriber, reply = _str(sub.get("subscriberUri")), _str(sub.get("replyUri"))
        if uid is None or (subscriber is None and reply is None):
            continue
        delivery = _dict(sub.get("delivery"))
        if subscriber is None:  # only a reply: the events are forwarded there
            subscriber, reply = reply, None
        out[uid] = TriggerConfig(
            uid=uid,
            namespace=namespace,
            name=_str(sub.get("name")) or uid,
            broker=channel_log(name),
            created=now,
            filter=TriggerFilter.from_spec({}),
            subscriber=subscriber,
            policy=RetryPolicy.from_spec(delivery),
            dead_letter=_str(_dict(delivery.get("deadLetterSink")).get("uri")),
            reply_to=reply,
        )
    return out


def _text(status: int, message: str, *extra: tuple[bytes, bytes]) -> Response:
    return Response(status, (message + "\n").encode(), (ALLOW, (b"Content-Type", b"text/plain; charset=utf-8"), *extra))


class ChannelPlane:
    """The InMemoryChannels of ``zeroserve up``: the reconciler publishes each channel (its host
    answered by :meth:`handler`), the feed gives the dispatcher their subscribers, and
    :meth:`subscribed` tells the reconciler which subscribers are being delivered to."""

    def __init__(
        self,
        ingress: Ingress,
        dispatcher: Dispatcher,
        publish_host: Callable[[str, Local], None],
        withdraw_host: Callable[[str], None],
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.ingress = ingress
        self.dispatcher = dispatcher
        self._publish_host = publish_host
        self._withdraw_host = withdraw_host
        self.wall = wall
        self.published: set[ChannelKey] = set()
        self.subscribers: dict[ChannelKey, set[str]] = {}
        self.listed = asyncio.Event()

    # ------------------------------------------------------------------------- the reconciler's side

    def publish(self, namespace: str, name: str) -> None:
        if (namespace, name) not in self.published:
            self.published.add((namespace, name))
            self._publish_host(channel_host(namespace, name), self.handler(namespace, name))

    def withdraw(self, namespace: str, name: str) -> None:
        if (namespace, name) in self.published:
            self.published.discard((namespace, name))
            self._withdraw_host(channel_host(namespace, name))

    def subscribed(self, namespace: str, name: str) -> set[str]:
        return set(self.subscribers.get((namespace, name), ()))

    # ------------------------------------------------------------------------- ingress

    def handler(self, namespace: str, name: str) -> Local:
        def handle(head: RequestHead, body: bytes) -> Any:
            if head.method == "OPTIONS":
                return answer(200, b"", OPTIONS_HEADERS)
            if head.method != "POST":
                return answer(405)
            if (namespace, name) not in self.published:
                return _text(404, f"channel {namespace}/{name} not found")
            try:
                event = cloudevent.parse(header_dict(head.headers), body)
            except cloudevent.InvalidEvent as e:
                return _text(400, str(e))
            if self.ingress.draining:
                return _text(503, "the channel ingress is shutting down", (b"Retry-After", b"1"))
            stored = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
            return self.ingress.append(namespace, channel_log(name), stored)

        return Local(handle, MAX_BODY)

    # ------------------------------------------------------------------------- the feed

    async def apply(self, channel: Obj) -> None:
        meta = _dict(channel.get("metadata"))
        key = (str(meta.get("namespace")), str(meta.get("name")))
        configs = subscriber_configs(channel, self.wall())
        gone = self.subscribers.get(key, set()) - set(configs)
        await self.dispatcher.apply_subscribers(configs, gone)
        self.subscribers[key] = set(configs)

    async def delete(self, channel: Obj) -> None:
        meta = _dict(channel.get("metadata"))
        key = (str(meta.get("namespace")), str(meta.get("name")))
        await self.dispatcher.apply_subscribers({}, self.subscribers.pop(key, set()))

    async def resync(self, channels: list[Obj]) -> None:
        """A full listing: apply it; forget the subscribers (and their log state) it no longer has."""
        live: set[str] = set()
        for obj in channels:
            await self.apply(obj)
            meta = _dict(obj.get("metadata"))
            live |= self.subscribers.get((str(meta.get("namespace")), str(meta.get("name"))), set())
        stale = [uid for uid, state in self.dispatcher.log.triggers.items() if is_channel_log(state.broker)]
        await self.dispatcher.apply_subscribers({}, [uid for uid in stale if uid not in live])

    async def run(self, store: Store, kind: Kind) -> None:
        """List the InMemoryChannels, then watch them (relist when the watch expires)."""
        while True:
            channels, rv = await store.list(kind)
            await self.resync(channels)
            self.listed.set()
            try:
                async for event in store.watch((kind,), since=rv):
                    if event.type == "DELETED":
                        await self.delete(event.object)
                    else:
                        await self.apply(event.object)
            except Gone:
                log.info("channel feed: watch expired, listing again")
