"""Delivery of a Broker's events to its Triggers' subscribers (Knative's broker filter + channel
dispatcher, over the durable log instead of an InMemoryChannel).

One :class:`TriggerWorker` per Trigger reads its Broker's log after the Trigger's cursor, applies
the filter (:mod:`~zeroserve.eventing.filters`), and delivers each matching event in its own task,
up to ``trigger-max-in-flight`` at once, so that one event's retries never stall the others. An
event is acknowledged (:mod:`~zeroserve.eventing.acks`) only once it is done: a 2xx (and its reply
forwarded), filtered out, or given up on after the dead letter sink; a restart redelivers whatever
was not (at least once).

**Delivery** (``filter_handler.go``, ``event_dispatcher.go``): ``knativebrokerttl`` is stripped, the
event goes in binary mode (structured for ``delivery.format: json``) with ``Prefer: reply`` and
``Kn-Namespace``; a 2xx whose body is neither empty nor a CloudEvent is a failure (502, retried as
the channel retries the filter's 502); a CloudEvent in the answer is the reply, sent with its TTL
back to the Broker's address. Retries, backoff and dead letters follow
:mod:`~zeroserve.eventing.retry`; the dead letter sink gets the original event (its TTL included,
as the channel sends it) with ``knativeerrordest``, ``knativeerrorcode`` and ``knativeerrordata``,
with the same retries; when it fails too the event is dropped, as Knative gives up.

**Which DeliverySpec**: the Trigger's ``spec.delivery`` when set, else the Broker's, whole (never
merged; ``trigger.go`` does the same). The dead letter sink is the resolved URI in the Trigger's
``status.deadLetterSinkUri`` (the reconciler falls back to the Broker's), or the Broker's when the
Broker's delivery applies.

**Addresses.** A URL whose host is an IP address or ``localhost`` is dialled as is; any other host
(``NAME.NS.svc.cluster.local``, a Broker's address) is sent to the gateway's internal listener
with that ``Host``: a Service at zero instances is woken through the activator like any request.

**Ordered delivery** (the Kafka broker's Trigger annotation
``kafka.eventing.knative.dev/delivery.order: ordered``): one event in flight per Trigger, in
ingestion order — the next waits until the previous one is done, retries included (per Trigger,
not per partition key).

**Replay**: the Trigger annotation ``eventing.zeroserve.dev/replay-from`` (a sequence number or an
RFC 3339 time) starts the Trigger over from there, once per distinct value, within retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict

from zeroserve.api.kinds import Kind
from zeroserve.config import EventingConfig
from zeroserve.errors import Gone
from zeroserve.eventing import encoding
from zeroserve.eventing.acks import AckState
from zeroserve.eventing.base import is_channel_log
from zeroserve.eventing.filters import TriggerFilter
from zeroserve.eventing.log import Record, SqliteEventLog
from zeroserve.eventing.metrics import EventingMetrics
from zeroserve.eventing.retry import RetryPolicy, error_extensions, is_success, next_delay
from zeroserve.net import client
from zeroserve.net.upstream import UpstreamPool
from zeroserve.store.base import Store

log = logging.getLogger("zeroserve.eventing.dispatch")

ORDERED_ANNOTATION: Final = "kafka.eventing.knative.dev/delivery.order"
REPLAY_ANNOTATION: Final = "eventing.zeroserve.dev/replay-from"
BROKER_CLASS_ANNOTATION: Final = "eventing.knative.dev/broker.class"
BROKER_CLASS: Final = "MTChannelBasedBroker"
READ_BATCH: Final = 256
MAX_RESPONSE: Final = 4 << 20
"""Bytes of a subscriber's answer read at most (a reply event beyond it is a failure)."""
MAX_DIALS: Final = 4096
"""URLs whose :class:`Dial` the Sender remembers."""

Obj = dict[str, Any]


# ----------------------------------------------------------------------------- what a Trigger asks


@dataclass(frozen=True)
class TriggerConfig:
    uid: str
    namespace: str
    name: str
    broker: str
    created: float
    """creationTimestamp, wall seconds: a new Trigger gets the events that arrived since."""
    filter: TriggerFilter
    subscriber: str | None
    """``status.subscriberUri``; None until resolved (events wait in the log)."""
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    dead_letter: str | None = None
    reply_to: str | None = None
    """The Broker's address: where replies go."""
    ordered: bool = False
    replay: str = ""

    @property
    def labels(self) -> tuple[str, str, str]:
        return (self.namespace, self.broker, self.name)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00")).timestamp()
    except ValueError:
        return None


def is_our_broker(broker: Mapping[str, Any]) -> bool:
    """A Broker of another class is left alone."""
    annotations = _dict(_dict(broker.get("metadata")).get("annotations"))
    return bool(annotations.get(BROKER_CLASS_ANNOTATION, BROKER_CLASS) == BROKER_CLASS)


def trigger_config(trigger: Mapping[str, Any], broker: Mapping[str, Any] | None) -> TriggerConfig | None:
    """What the dispatcher needs from a Trigger and its Broker (None: nothing to deliver for now)."""
    meta, spec, status = _dict(trigger.get("metadata")), _dict(trigger.get("spec")), _dict(trigger.get("status"))
    uid, namespace, name = _str(meta.get("uid")), _str(meta.get("namespace")), _str(meta.get("name"))
    broker_name = _str(spec.get("broker"))
    if uid is None or namespace is None or name is None or broker_name is None or meta.get("deletionTimestamp"):
        return None
    if broker is None or not is_our_broker(broker):
        return None
    broker_spec, broker_status = _dict(broker.get("spec")), _dict(broker.get("status"))
    own = spec.get("delivery")
    delivery = _dict(own) if own is not None else _dict(broker_spec.get("delivery"))
    dead_letter = None
    if delivery.get("deadLetterSink"):
        dead_letter = _str(status.get("deadLetterSinkUri"))
        if dead_letter is None and own is None:
            dead_letter = _str(broker_status.get("deadLetterSinkUri"))
    annotations = _dict(meta.get("annotations"))
    return TriggerConfig(
        uid=uid,
        namespace=namespace,
        name=name,
        broker=broker_name,
        created=parse_time(meta.get("creationTimestamp")) or 0.0,
        filter=TriggerFilter.from_spec(spec),
        subscriber=_str(status.get("subscriberUri")),
        policy=RetryPolicy.from_spec(delivery),
        dead_letter=dead_letter,
        reply_to=_str(_dict(broker_status.get("address")).get("url")),
        ordered=annotations.get(ORDERED_ANNOTATION) == "ordered",
        replay=str(annotations.get(REPLAY_ANNOTATION, "")),
    )


# ----------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Answer:
    status: int | None
    """None: no response (transport error, timeout)."""
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Dial:
    """How a URL is reached: the address to connect to, the Host header and the request target."""

    address: tuple[str, int]
    host: str
    target: str


class Sender:
    """POSTs events; cluster-local hosts go through the gateway's internal listener.

    Plain http goes over :mod:`zeroserve.net.client` (keep-alive, httptools: a fraction of aiohttp's
    CPU per request); https, which nothing of zeroserve serves, over aiohttp."""

    def __init__(self, internal: tuple[str, int] | None = None) -> None:
        self.internal = internal
        self.pool = UpstreamPool()
        self._dials: dict[str, Dial | None] = {}
        self._session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=512, limit_per_host=0, ttl_dns_cache=None)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def close(self) -> None:
        self.pool.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def target(self, url: str) -> Dial | None:
        """Where to send a POST to ``url`` (None: not plain http; remembered per URL)."""
        try:
            return self._dials[url]
        except KeyError:
            pass
        if len(self._dials) >= MAX_DIALS:
            self._dials = {}
        dial = self._dials[url] = self._dial(url)
        return dial

    def _dial(self, url: str) -> Dial | None:
        try:
            parts = urlsplit(url)
            port = parts.port or 80
        except ValueError:
            return None
        host = parts.hostname or ""
        if parts.scheme != "http" or not host:
            return None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if self.internal is None or host == "localhost" or _is_ip(host):
            return Dial((host, port), parts.netloc, target)
        return Dial(self.internal, parts.netloc, target)

    async def post(self, url: str, headers: encoding.Headers, body: bytes, timeout: float | None) -> Answer:
        dial = self.target(url)
        try:
            async with asyncio.timeout(timeout):
                if dial is None:
                    return await self._post_other(url, headers, body)
                data = client.request_bytes("POST", dial.target, dial.host, headers, body)
                resp = await client.request(self.pool, dial.address, data, max_body=MAX_RESPONSE)
        except (client.ClientError, OSError, TimeoutError, ValueError) as e:
            return Answer(None, {}, f"dispatch error: {type(e).__name__}: {e}".encode())
        answer_headers = CIMultiDict((k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.headers)
        return Answer(resp.status, answer_headers, resp.body)

    async def _post_other(self, url: str, headers: encoding.Headers, body: bytes) -> Answer:
        """https (or anything :meth:`target` does not dial itself): aiohttp."""
        try:
            async with self._session_now().post(
                url, data=body, headers=CIMultiDict(headers), allow_redirects=False
            ) as resp:
                content = await resp.content.read(MAX_RESPONSE)
                return Answer(resp.status, CIMultiDict(resp.headers), content)
        except aiohttp.ClientError as e:
            return Answer(None, {}, f"dispatch error: {type(e).__name__}: {e}".encode())


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------------------- one Trigger


@dataclass
class _Result:
    ok: bool
    answer: Answer
    reply: encoding.Reply = encoding.NO_REPLY


class TriggerWorker:
    """Reads one Trigger's events from the log and delivers them (see the module docstring)."""

    def __init__(self, dispatcher: Dispatcher, cfg: TriggerConfig, state: AckState) -> None:
        self.d = dispatcher
        self.cfg = cfg
        self.state = state
        self._cursor = state.mark
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._task = asyncio.create_task(self._run(), name=f"trigger {cfg.namespace}/{cfg.name}")

    def update(self, cfg: TriggerConfig) -> None:
        self.cfg = cfg
        self._wake.set()

    async def stop(self) -> None:
        tasks = [self._task, *self._in_flight.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        unlisten = self.d.log.listen(self.cfg.namespace, self.cfg.broker, self._wake.set)
        try:
            while True:
                self._wake.clear()
                if not self._fill():
                    await self._wake.wait()
        finally:
            unlisten()

    def _fill(self) -> bool:
        """Start deliveries while there is room; False when there is nothing to do now."""
        cfg = self.cfg
        limit = 1 if cfg.ordered else self.d.config().max_in_flight
        room = limit - len(self._in_flight)
        if cfg.subscriber is None or room <= 0:
            return False
        records = self.d.log.read(cfg.namespace, cfg.broker, self._cursor, min(room, READ_BATCH))
        for record in records:
            self._cursor = record.seq
            if self.state.done(record.seq):
                continue
            event = _parse(record.body)
            if event is None or not cfg.filter.matches(event):
                self.d.log.ack(cfg.uid, record.seq)
                continue
            task = asyncio.create_task(self._deliver(record, event, cfg))
            self._in_flight[record.seq] = task
            task.add_done_callback(functools.partial(self._finished, record.seq))
            if len(self._in_flight) >= limit:
                break
        return bool(records)

    def _finished(self, seq: int, _task: object = None) -> None:
        self._in_flight.pop(seq, None)
        self._wake.set()

    async def _deliver(self, record: Record, event: dict[str, Any], cfg: TriggerConfig) -> None:
        d = self.d
        plain, ttl = encoding.without_ttl(event)
        structured = cfg.policy.format == "json"
        headers, body = encoding.encode(plain, structured)
        headers += [("Prefer", "reply"), ("Kn-Namespace", cfg.namespace)]
        assert cfg.subscriber is not None
        result = await d.send(cfg.subscriber, headers, body, cfg, subscriber=True, ttl=ttl)
        failed_url = cfg.subscriber
        if result.ok:
            if d.metrics:
                d.metrics.delivered.labels(*cfg.labels).inc()
                d.metrics.latency.labels(*cfg.labels).observe(max(0.0, d.wall() - record.time))
            if not result.reply.is_event:
                d.log.ack(cfg.uid, record.seq)
                return
            if cfg.reply_to is not None:
                reply = await d.send(cfg.reply_to, result.reply.headers, result.reply.body, cfg)
                if reply.ok:
                    d.log.ack(cfg.uid, record.seq)
                    return
                result, failed_url = reply, cfg.reply_to
            else:
                if not is_channel_log(cfg.broker):  # a channel's subscriber without a reply drops it, as Knative's
                    log.warning("trigger %s/%s: a reply with no broker address to send it to", cfg.namespace, cfg.name)
                d.log.ack(cfg.uid, record.seq)
                return
        await self._dead_letter(record, event, cfg, failed_url, result.answer)
        d.log.ack(cfg.uid, record.seq)

    async def _dead_letter(
        self, record: Record, event: dict[str, Any], cfg: TriggerConfig, failed_url: str, answer: Answer
    ) -> None:
        d = self.d
        if cfg.dead_letter is not None:
            extra = error_extensions(failed_url, answer.status, answer.body)
            headers, body = encoding.encode(event, cfg.policy.format == "json", extra)
            dead = await d.send(cfg.dead_letter, headers, body, cfg)
            if dead.ok:
                if d.metrics:
                    d.metrics.dead_lettered.labels(*cfg.labels).inc()
                return
            log.warning(
                "trigger %s/%s: event %d: unable to complete request to either %s (%s) or %s (%s)",
                cfg.namespace,
                cfg.name,
                record.seq,
                failed_url,
                answer.status,
                cfg.dead_letter,
                dead.answer.status,
            )
        else:
            log.warning(
                "trigger %s/%s: event %d dropped: %s answered %s",
                cfg.namespace,
                cfg.name,
                record.seq,
                failed_url,
                answer.status,
            )
        if d.metrics:
            d.metrics.dropped.labels(*cfg.labels).inc()


def _parse(body: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(body)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


# ----------------------------------------------------------------------------- all Triggers


class Dispatcher:
    """Keeps one :class:`TriggerWorker` per deliverable Trigger, from the Triggers and Brokers the
    feed shows it."""

    def __init__(
        self,
        event_log: SqliteEventLog,
        sender: Sender,
        config: Callable[[], EventingConfig] = EventingConfig,
        metrics: EventingMetrics | None = None,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.log = event_log
        self.sender = sender
        self.config = config
        self.metrics = metrics
        self.wall = wall
        self.sleep = sleep
        self._triggers: dict[tuple[str, str], Obj] = {}
        self._brokers: dict[tuple[str, str], Obj] = {}
        self.workers: dict[str, TriggerWorker] = {}
        self._lock = asyncio.Lock()

    async def send(
        self,
        url: str,
        headers: encoding.Headers,
        body: bytes,
        cfg: TriggerConfig,
        subscriber: bool = False,
        ttl: int | None = None,
    ) -> _Result:
        """POST with the Trigger's retries. ``subscriber``: the answer is read for a reply (a
        non-CloudEvent body is a 502) that gets ``ttl``."""
        attempt = 0
        while True:
            answer = await self.sender.post(url, headers, body, cfg.policy.timeout)
            status = answer.status
            if is_success(status):
                if not subscriber:
                    return _Result(True, answer)
                reply = encoding.read_reply(answer.headers, answer.body, ttl)
                if not reply.error:
                    return _Result(True, answer, reply)
                status, answer = 502, Answer(502, answer.headers, answer.body)
            delay = next_delay(cfg.policy, attempt, status, answer.headers.get("Retry-After"), self.wall())
            log.debug("%s: attempt %d answered %s; retry after %s s", url, attempt, status, delay)
            if delay is None:
                return _Result(False, answer)
            if self.metrics:
                self.metrics.retried.labels(*cfg.labels).inc()
            await self.sleep(delay)
            attempt += 1

    # ------------------------------------------------------------------------- the feed's side

    async def apply_trigger(self, obj: Obj) -> None:
        meta = _dict(obj.get("metadata"))
        self._triggers[(str(meta.get("namespace")), str(meta.get("name")))] = obj
        await self._sync(obj)

    async def delete_trigger(self, obj: Obj) -> None:
        meta = _dict(obj.get("metadata"))
        self._triggers.pop((str(meta.get("namespace")), str(meta.get("name"))), None)
        uid = str(meta.get("uid", ""))
        async with self._lock:
            await self._stop(uid)
            await self.log.detach(uid)

    async def apply_broker(self, obj: Obj) -> None:
        meta = _dict(obj.get("metadata"))
        key = (str(meta.get("namespace")), str(meta.get("name")))
        self._brokers[key] = obj
        await self._sync_broker(key)

    async def delete_broker(self, obj: Obj) -> None:
        meta = _dict(obj.get("metadata"))
        key = (str(meta.get("namespace")), str(meta.get("name")))
        self._brokers.pop(key, None)
        await self._sync_broker(key)

    async def resync(self, brokers: list[Obj], triggers: list[Obj]) -> None:
        """A full listing: apply it, and forget the Triggers (and their state) it no longer has."""
        live = {str(_dict(t.get("metadata")).get("uid")) for t in triggers}
        for obj in [o for o in self._triggers.values() if str(_dict(o.get("metadata")).get("uid")) not in live]:
            await self.delete_trigger(obj)
        self._brokers.clear()
        for obj in brokers:
            meta = _dict(obj.get("metadata"))
            self._brokers[(str(meta.get("namespace")), str(meta.get("name")))] = obj
        for obj in triggers:
            await self.apply_trigger(obj)
        for uid, state in list(self.log.triggers.items()):
            if uid not in live and not is_channel_log(state.broker):  # a channel's feed keeps its own
                await self.log.detach(uid)

    async def _sync_broker(self, key: tuple[str, str]) -> None:
        for obj in list(self._triggers.values()):
            meta, spec = _dict(obj.get("metadata")), _dict(obj.get("spec"))
            if (meta.get("namespace"), spec.get("broker")) == key:
                await self._sync(obj)

    async def _sync(self, obj: Obj) -> None:
        meta, spec = _dict(obj.get("metadata")), _dict(obj.get("spec"))
        broker = self._brokers.get((str(meta.get("namespace")), str(spec.get("broker"))))
        cfg = trigger_config(obj, broker)
        async with self._lock:
            await self._apply(str(meta.get("uid", "")), cfg)

    async def apply_subscribers(self, configs: Mapping[str, TriggerConfig], gone: Iterable[str] = ()) -> None:
        """A channel's subscribers (:mod:`~zeroserve.eventing.channels`): deliver to ``configs``
        (by subscriber uid, each reading the channel's log); stop and forget those ``gone``."""
        async with self._lock:
            for uid in gone:
                await self._stop(uid)
                await self.log.detach(uid)
            for uid, cfg in configs.items():
                await self._apply(uid, cfg)

    async def _apply(self, uid: str, cfg: TriggerConfig | None) -> None:
        """Start, update or stop the worker of ``uid`` (the caller holds the lock)."""
        worker = self.workers.get(uid)
        if cfg is None:
            await self._stop(uid)
            return
        state = await self.log.attach(cfg.uid, cfg.namespace, cfg.broker, cfg.created)
        if cfg.replay and cfg.replay != state.replay:
            await self._stop(uid)
            await self._replay(cfg)
            worker = None
        if worker is None:
            self.workers[uid] = TriggerWorker(self, cfg, state)
            if self.metrics:
                self.metrics.track_backlog(cfg.labels, lambda: self.log.trigger_backlog(uid))
        else:
            worker.update(cfg)

    async def _replay(self, cfg: TriggerConfig) -> None:
        text = cfg.replay.strip()
        if text.isdigit():
            mark = await self.log.replay(cfg.uid, cfg.replay, seq=int(text))
        elif (since := parse_time(text)) is not None:
            mark = await self.log.replay(cfg.uid, cfg.replay, since=since)
        else:
            log.warning(
                "trigger %s/%s: %s=%r is neither a sequence number nor a time; ignored",
                cfg.namespace,
                cfg.name,
                REPLAY_ANNOTATION,
                text,
            )
            return
        log.info("trigger %s/%s: replaying after event %d (%s)", cfg.namespace, cfg.name, mark, text)

    async def _stop(self, uid: str) -> None:
        worker = self.workers.pop(uid, None)
        if worker is not None:
            await worker.stop()
            if self.metrics:
                self.metrics.forget_trigger(worker.cfg.labels)

    async def close(self) -> None:
        async with self._lock:
            for uid in list(self.workers):
                await self._stop(uid)
        await self.sender.close()


class TriggerFeed:
    """Shows the dispatcher every Broker and Trigger in the store: list, then watch (relist when
    the watch expires)."""

    def __init__(self, store: Store, dispatcher: Dispatcher, broker_kind: Kind, trigger_kind: Kind) -> None:
        self._store = store
        self._dispatcher = dispatcher
        self._kinds = (broker_kind, trigger_kind)
        self.listed = asyncio.Event()

    async def run(self) -> None:
        broker_kind, trigger_kind = self._kinds
        d = self._dispatcher
        while True:
            brokers, rv = await self._store.list(broker_kind)
            triggers, _ = await self._store.list(trigger_kind)
            await d.resync(brokers, triggers)
            self.listed.set()
            try:
                async for event in self._store.watch(self._kinds, since=rv):
                    deleted = event.type == "DELETED"
                    if event.kind == broker_kind:
                        await (d.delete_broker if deleted else d.apply_broker)(event.object)
                    else:
                        await (d.delete_trigger if deleted else d.apply_trigger)(event.object)
            except Gone:
                log.info("eventing feed: watch expired, listing again")
