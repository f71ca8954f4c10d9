"""The dispatcher over a real log and real HTTP subscribers on 127.0.0.1: filters, binary and
structured delivery, retries with Knative's backoff (an injected sleep records the waits), dead
letters, replies, per-event acknowledgements, ordered delivery, redelivery after a restart, replay."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.support.polling import eventually
from zeroserve.eventing.dispatch import (
    ORDERED_ANNOTATION,
    REPLAY_ANNOTATION,
    Dial,
    Dispatcher,
    Sender,
    trigger_config,
)
from zeroserve.eventing.log import SqliteEventLog
from zeroserve.net.client import request_bytes

Handler = Callable[["Seen"], tuple[int, dict[str, str], bytes]]


@dataclass
class Seen:
    headers: dict[str, str]
    body: bytes

    @property
    def ce(self) -> dict[str, str]:
        return {k.lower()[3:]: v for k, v in self.headers.items() if k.lower().startswith("ce-")}


@dataclass
class Subscriber:
    """A real HTTP server that records each request and answers what ``handler`` says."""

    handler: Handler = lambda _seen: (200, {}, b"")
    seen: list[Seen] = field(default_factory=list)
    url: str = ""
    runner: web.AppRunner | None = None

    async def start(self) -> Subscriber:
        async def handle(request: web.Request) -> web.Response:
            seen = Seen(dict(request.headers), await request.read())
            self.seen.append(seen)
            status, headers, body = self.handler(seen)
            return web.Response(status=status, headers=headers, body=body)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self.runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/"
        return self

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


class Sleeps:
    """The injected sleep: records each wait and returns at once (or waits for ``gate``)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.gate is not None:
            await self.gate.wait()


def broker(name: str = "default", delivery: dict[str, Any] | None = None, reply_to: str = "") -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "name": name, "uid": f"b-{name}"},
        "spec": {"delivery": delivery} if delivery else {},
        "status": {"address": {"url": reply_to}} if reply_to else {},
    }


def trigger(
    name: str,
    subscriber: str,
    *,
    spec: dict[str, Any] | None = None,
    dead_letter: str | None = None,
    annotations: dict[str, str] | None = None,
    uid: str | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"subscriberUri": subscriber}
    if dead_letter:
        status["deadLetterSinkUri"] = dead_letter
    return {
        "metadata": {
            "namespace": "ns",
            "name": name,
            "uid": uid or f"t-{name}",
            "creationTimestamp": "2000-01-01T00:00:00Z",
            "annotations": annotations or {},
        },
        "spec": {"broker": "default", **(spec or {})},
        "status": status,
    }


def event(i: int, type_: str = "order.created", **extra: Any) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"e{i}",
            "source": "/shop",
            "type": type_,
            "datacontenttype": "application/json",
            "knativebrokerttl": 254,
            "data": {"n": i},
            **extra,
        }
    ).encode()


@dataclass
class Bench:
    log: SqliteEventLog
    dispatcher: Dispatcher
    sleeps: Sleeps
    subscribers: list[Subscriber]

    async def subscriber(self, handler: Handler | None = None) -> Subscriber:
        sub = await Subscriber(handler or (lambda _s: (200, {}, b""))).start()
        self.subscribers.append(sub)
        return sub

    async def send(self, *bodies: bytes) -> None:
        for body in bodies:
            await self.log.append("ns", "default", body)


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    log = await SqliteEventLog(tmp_path / "events.db").open()
    sleeps = Sleeps()
    dispatcher = Dispatcher(log, Sender(), sleep=sleeps)
    b = Bench(log, dispatcher, sleeps, [])
    try:
        yield b
    finally:
        if sleeps.gate is not None:
            sleeps.gate.set()
        await dispatcher.close()
        await log.close()
        for sub in b.subscribers:
            await sub.close()


async def test_binary_delivery_with_filter(bench: Bench) -> None:
    sub = await bench.subscriber()
    await bench.dispatcher.apply_broker(broker())
    await bench.dispatcher.apply_trigger(
        trigger("orders", sub.url, spec={"filter": {"attributes": {"type": "order.created"}}})
    )
    await bench.send(event(1, "order.shipped"), event(2), event(3, "order.shipped"))
    await eventually(lambda: bench.log.trigger_backlog("t-orders") == 0, 10)
    assert len(sub.seen) == 1
    got = sub.seen[0]
    assert got.ce == {"specversion": "1.0", "id": "e2", "source": "/shop", "type": "order.created"}
    assert got.headers["Content-Type"] == "application/json" and json.loads(got.body) == {"n": 2}
    assert got.headers["Prefer"] == "reply" and got.headers["Kn-Namespace"] == "ns"


async def test_structured_delivery(bench: Bench) -> None:
    sub = await bench.subscriber()
    await bench.dispatcher.apply_broker(broker())
    await bench.dispatcher.apply_trigger(trigger("t", sub.url, spec={"delivery": {"format": "json"}}))
    await bench.send(event(1, region="eu"))
    await eventually(lambda: len(sub.seen) == 1, 10)
    got = sub.seen[0]
    assert got.headers["Content-Type"] == "application/cloudevents+json"
    body = json.loads(got.body)
    assert body["id"] == "e1" and body["region"] == "eu" and body["data"] == {"n": 1}
    assert "knativebrokerttl" not in body


async def test_retries_with_exponential_backoff_then_success(bench: Bench) -> None:
    answers = iter([500, 500, 500, 200])
    sub = await bench.subscriber(lambda _s: (next(answers), {}, b""))
    delivery = {"retry": 5, "backoffPolicy": "exponential", "backoffDelay": "PT0.5S"}
    await bench.dispatcher.apply_broker(broker(delivery=delivery))
    await bench.dispatcher.apply_trigger(trigger("t", sub.url))
    await bench.send(event(1))
    await eventually(lambda: bench.log.trigger_backlog("t-t") == 0, 10)
    assert len(sub.seen) == 4 and {s.ce["id"] for s in sub.seen} == {"e1"}
    assert bench.sleeps.waits == [0.5, 1.0, 2.0]


async def test_dead_letter_after_retries_with_error_extensions(bench: Bench) -> None:
    sub = await bench.subscriber(lambda _s: (500, {}, b"out of order"))
    dls = await bench.subscriber()
    delivery = {"retry": 2, "backoffPolicy": "linear", "backoffDelay": "PT1S", "deadLetterSink": {"uri": dls.url}}
    await bench.dispatcher.apply_broker(broker())
    await bench.dispatcher.apply_trigger(trigger("t", sub.url, spec={"delivery": delivery}, dead_letter=dls.url))
    await bench.send(event(1))
    await eventually(lambda: bench.log.trigger_backlog("t-t") == 0, 10)
    assert len(sub.seen) == 3, "retry: 2 is three attempts"
    assert bench.sleeps.waits == [0.0, 1.0], "linear: 0, d"
    assert len(dls.seen) == 1
    dead = dls.seen[0].ce
    assert dead["id"] == "e1"
    assert dead["knativeerrordest"] == sub.url
    assert dead["knativeerrorcode"] == "500"
    assert base64.b64decode(dead["knativeerrordata"]) == b"out of order"


async def test_not_retried_4xx_goes_to_the_brokers_dead_letter_sink(bench: Bench) -> None:
    sub = await bench.subscriber(lambda _s: (400, {}, b""))
    dls = await bench.subscriber()
    delivery = {"retry": 3, "deadLetterSink": {"uri": dls.url}}
    await bench.dispatcher.apply_broker({**broker(delivery=delivery), "status": {"deadLetterSinkUri": dls.url}})
    await bench.dispatcher.apply_trigger(trigger("t", sub.url))
    await bench.send(event(1))
    await eventually(lambda: len(dls.seen) == 1, 10)
    assert len(sub.seen) == 1 and dls.seen[0].ce["knativeerrorcode"] == "400"


async def test_no_response_counts_as_500_for_the_dead_letter(bench: Bench) -> None:
    dls = await bench.subscriber()
    closed = await bench.subscriber()
    await closed.close()  # nothing listens there any more
    delivery = {"retry": 1, "deadLetterSink": {"uri": dls.url}}
    await bench.dispatcher.apply_broker(broker())
    await bench.dispatcher.apply_trigger(trigger("t", closed.url, spec={"delivery": delivery}, dead_letter=dls.url))
    await bench.send(event(1))
    await eventually(lambda: len(dls.seen) == 1, 10)
    dead = dls.seen[0].ce
    assert dead["knativeerrorcode"] == "500"
    assert base64.b64decode(dead["knativeerrordata"]).startswith(b"dispatch error: ")


async def test_a_2xx_that_is_not_a_cloudevent_is_a_failure(bench: Bench) -> None:
    sub = await bench.subscriber(lambda _s: (200, {"Content-Type": "text/plain"}, b"thanks!"))
    dls = await bench.subscriber()
    delivery = {"retry": 1, "deadLetterSink": {"uri": dls.url}}
    await bench.dispatcher.apply_broker(broker())
    await bench.dispatcher.apply_trigger(trigger("t", sub.url, spec={"delivery": delivery}, dead_letter=dls.url))
    await bench.send(event(1))
    await eventually(lambda: len(dls.seen) == 1, 10)
    assert len(sub.seen) == 2, "502 is retried"
    assert dls.seen[0].ce["knativeerrorcode"] == "502"


async def test_a_reply_goes_back_to_the_broker_with_its_ttl(bench: Bench) -> None:
    ingress = await bench.subscriber(lambda _s: (202, {}, b""))
    reply = {"Ce-Specversion": "1.0", "Ce-Id": "r1", "Ce-Source": "/sub", "Ce-Type": "order.done"}
    sub = await bench.subscriber(lambda _s: (200, {**reply, "Content-Type": "text/plain"}, b"done"))
    await bench.dispatcher.apply_broker(broker(reply_to=ingress.url + "ns/default"))
    await bench.dispatcher.apply_trigger(trigger("t", sub.url))
    await bench.send(event(1))
    await eventually(lambda: len(ingress.seen) == 1, 10)
    back = ingress.seen[0]
    want = {"specversion": "1.0", "id": "r1", "source": "/sub", "type": "order.done", "knativebrokerttl": "254"}
    assert back.ce == want
    assert back.body == b"done"


async def test_one_events_retries_do_not_stall_the_others(bench: Bench) -> None:
    sub = await bench.subscriber(lambda s: (503 if s.ce["id"] == "e1" else 200, {}, b""))
    bench.sleeps.gate = asyncio.Event()  # e1's backoff never ends during the test
    await bench.dispatcher.apply_broker(broker(delivery={"retry": 3}))
    await bench.dispatcher.apply_trigger(trigger("t", sub.url))
    await bench.send(*(event(i) for i in range(1, 6)))
    await eventually(lambda: bench.log.trigger_backlog("t-t") == 1, 10)
    state = bench.log.triggers["t-t"]
    assert state.mark == 0 and state.acked == {2, 3, 4, 5}


async def test_ordered_delivery_holds_the_next_event(bench: Bench) -> None:
    sub = await bench.subscriber(lambda s: (503 if s.ce["id"] == "e1" else 200, {}, b""))
    bench.sleeps.gate = asyncio.Event()
    await bench.dispatcher.apply_broker(broker(delivery={"retry": 3}))
    await bench.dispatcher.apply_trigger(trigger("t", sub.url, annotations={ORDERED_ANNOTATION: "ordered"}))
    await bench.send(*(event(i) for i in range(1, 4)))
    await eventually(lambda: len(bench.sleeps.waits) == 1, 10)
    assert [s.ce["id"] for s in sub.seen] == ["e1"]
    bench.sleeps.gate.set()  # e1's retries run out (503 each time), then e2, e3 in order
    await eventually(lambda: bench.log.trigger_backlog("t-t") == 0, 10)
    assert [s.ce["id"] for s in sub.seen] == ["e1", "e1", "e1", "e1", "e2", "e3"]


async def test_unacked_events_are_redelivered_after_a_restart(bench: Bench, tmp_path: Path) -> None:
    sub = await bench.subscriber(lambda s: (500 if s.ce["id"] in ("e2", "e3") else 200, {}, b""))
    bench.sleeps.gate = asyncio.Event()
    await bench.dispatcher.apply_broker(broker(delivery={"retry": 3}))
    await bench.dispatcher.apply_trigger(trigger("t", sub.url))
    await bench.send(*(event(i) for i in range(1, 5)))
    await eventually(lambda: len(bench.log.triggers["t-t"].acked) == 1 and bench.log.triggers["t-t"].mark == 1, 10)
    await bench.dispatcher.close()
    await bench.log.close()  # flushes the acks: e1 and e4 are done, e2 and e3 are not

    sub.handler = lambda _s: (200, {}, b"")
    sub.seen.clear()
    log = await SqliteEventLog(tmp_path / "events.db").open()
    dispatcher = Dispatcher(log, Sender())
    try:
        await dispatcher.apply_broker(broker(delivery={"retry": 3}))
        await dispatcher.apply_trigger(trigger("t", sub.url))
        await eventually(lambda: log.trigger_backlog("t-t") == 0, 10)
        assert sorted(s.ce["id"] for s in sub.seen) == ["e2", "e3"]
    finally:
        await dispatcher.close()
        await log.close()


async def test_replay_annotation_delivers_again_once(bench: Bench) -> None:
    sub = await bench.subscriber()
    await bench.dispatcher.apply_broker(broker())
    await bench.dispatcher.apply_trigger(trigger("t", sub.url))
    await bench.send(*(event(i) for i in range(1, 5)))
    await eventually(lambda: len(sub.seen) == 4, 10)
    await bench.dispatcher.apply_trigger(trigger("t", sub.url, annotations={REPLAY_ANNOTATION: "3"}))
    await eventually(lambda: len(sub.seen) == 6, 10)
    assert [s.ce["id"] for s in sub.seen[4:]] == ["e3", "e4"]
    await bench.dispatcher.apply_trigger(trigger("t", sub.url, annotations={REPLAY_ANNOTATION: "3"}))
    await bench.send(event(5))
    await eventually(lambda: len(sub.seen) == 7, 10)
    assert sub.seen[-1].ce["id"] == "e5", "the same replay value is applied once"


async def test_deleted_trigger_forgets_its_state(bench: Bench) -> None:
    sub = await bench.subscriber()
    await bench.dispatcher.apply_broker(broker())
    t = trigger("t", sub.url)
    await bench.dispatcher.apply_trigger(t)
    assert "t-t" in bench.log.triggers and "t-t" in bench.dispatcher.workers
    await bench.dispatcher.delete_trigger(t)
    assert "t-t" not in bench.log.triggers and not bench.dispatcher.workers


def test_trigger_delivery_replaces_the_brokers_whole() -> None:
    b = broker(delivery={"retry": 7, "backoffPolicy": "linear", "backoffDelay": "PT1S", "deadLetterSink": {"uri": "x"}})
    b["status"] = {"deadLetterSinkUri": "http://dls.ns.svc.cluster.local"}
    own = trigger("t", "http://sub", spec={"delivery": {"retry": 1}})
    cfg = trigger_config(own, b)
    assert cfg is not None and cfg.policy.retry == 1 and cfg.policy.backoff_policy is None
    assert cfg.dead_letter is None, "the Trigger's delivery has no dead letter sink"
    inherited = trigger_config(trigger("t", "http://sub"), b)
    assert inherited is not None and inherited.policy.retry == 7
    assert inherited.dead_letter == "http://dls.ns.svc.cluster.local"
    other_class = {**b, "metadata": {**b["metadata"], "annotations": {"eventing.knative.dev/broker.class": "Kafka"}}}
    assert trigger_config(own, other_class) is None, "a Broker of another class is left alone"
    assert trigger_config(own, None) is None


def test_cluster_local_hosts_go_through_the_internal_listener() -> None:
    sender = Sender(("127.0.0.1", 9999))
    assert sender.target("http://hello.default.svc.cluster.local/a?b=1") == Dial(
        ("127.0.0.1", 9999), "hello.default.svc.cluster.local", "/a?b=1"
    )
    assert sender.target("http://127.0.0.1:8080/x") == Dial(("127.0.0.1", 8080), "127.0.0.1:8080", "/x")
    assert sender.target("http://localhost:8080") == Dial(("localhost", 8080), "localhost:8080", "/")
    assert sender.target("http://[::1]/") == Dial(("::1", 80), "[::1]", "/")
    assert sender.target("https://example.com/hook") is None  # not dialled by the Sender itself
    assert sender.target("http://x:nope/") is None


def test_header_values_that_would_break_the_framing_are_refused() -> None:
    assert request_bytes("POST", "/", "h", [("ce-id", "1")], b"{}") == (
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nce-id: 1\r\n\r\n{}"
    )
    for name, value in (("Content-Type", "a/b\r\nX-Evil: 1"), ("a:b", "c"), ("x", "\0"), ("", "v")):
        with pytest.raises(ValueError, match="cannot be sent"):
            request_bytes("POST", "/", "h", [(name, value)], b"")


async def test_the_feed_follows_the_store(tmp_path: Path) -> None:
    """TriggerFeed over a real store: a Trigger and its Broker appear (list, then watch), its
    status gets a subscriber, events flow; deleting the Trigger forgets its state."""
    from prometheus_client import CollectorRegistry

    from zeroserve.api.kinds import BROKER, TRIGGER
    from zeroserve.eventing.metrics import EventingMetrics
    from zeroserve.eventing.plane import EventingPlane
    from zeroserve.store.sqlite import SqliteStore

    sub = await Subscriber().start()
    store = await SqliteStore.open(":memory:")
    registry = CollectorRegistry()
    try:
        b = await store.create(BROKER, {**broker(), "apiVersion": "eventing.knative.dev/v1", "kind": "Broker"})
        async with EventingPlane(tmp_path, store, None, registry=registry) as plane:
            assert isinstance(plane.metrics, EventingMetrics)
            await asyncio.wait_for(plane.feed.listed.wait(), 10)
            t = trigger("t", sub.url)
            t["metadata"].pop("uid")
            t["metadata"].pop("creationTimestamp")
            t = await store.create(TRIGGER, {**t, "apiVersion": "eventing.knative.dev/v1", "kind": "Trigger"})
            await store.update_status(TRIGGER, {**t, "status": {"subscriberUri": sub.url}})
            uid = t["metadata"]["uid"]
            await eventually(lambda: uid in plane.dispatcher.workers, 10)
            await plane.log.append("ns", "default", event(1))
            await eventually(lambda: len(sub.seen) == 1, 10)
            sample = registry.get_sample_value
            labels = {"namespace": "ns", "broker": "default", "trigger": "t"}
            assert sample("zeroserve_eventing_accepted_events_total", {"namespace": "ns", "broker": "default"}) == 1
            await eventually(lambda: sample("zeroserve_eventing_delivered_events_total", labels) == 1, 10)
            assert sample("zeroserve_eventing_backlog_events", labels) == 0
            await store.delete(TRIGGER, "ns", "t")
            await eventually(lambda: uid not in plane.log.triggers, 10)
            assert sample("zeroserve_eventing_backlog_events", labels) is None
            await store.delete(BROKER, "ns", b["metadata"]["name"])
    finally:
        await store.close()
        await sub.close()
