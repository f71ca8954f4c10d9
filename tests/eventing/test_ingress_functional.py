"""The Broker ingress as a real server on 127.0.0.1 over E's durable log, with the CloudEvents SDK as
the client: Knative's answers (pkg/broker/ingress/ingress_handler_test.go), 202 only after the log
committed the event, 429 with Retry-After when the backlog is full, keep-alive and pipelining."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from cloudevents.core.bindings.http import HTTPMessage, to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from zeroserve.config import EventingConfig
from zeroserve.eventing.base import BacklogFull
from zeroserve.eventing.ingress import MAX_BODY, BrokerSet, Ingress, IngressServer
from zeroserve.eventing.log import SqliteEventLog

NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


@dataclass
class Env:
    log: SqliteEventLog
    brokers: BrokerSet
    url: str
    http: aiohttp.ClientSession
    port: int


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    cfg = EventingConfig(max_backlog=3)
    async with SqliteEventLog(tmp_path / "events.db", lambda: cfg) as log:
        brokers = BrokerSet()
        brokers.publish("default", "default")
        server = IngressServer(Ingress(log, brokers, wall=lambda: NOW))
        port = await server.start()
        try:
            async with aiohttp.ClientSession() as http:
                yield Env(log, brokers, f"http://127.0.0.1:{port}", http, port)
        finally:
            await server.stop(1.0)


def order(**attrs: str) -> CloudEvent:
    base = {"type": "order.created", "source": "/shop", "id": "o-1", "specversion": "1.0", "subject": "42"}
    return CloudEvent(attributes={**base, **attrs}, data={"order": 42})


async def post(env: Env, path: str, message: HTTPMessage) -> tuple[int, dict[str, str], str]:
    async with env.http.post(env.url + path, headers=message.headers, data=message.body) as resp:
        return resp.status, dict(resp.headers), await resp.text()


def stored(env: Env, seq: int = 1) -> dict[str, object]:
    [record] = [r for r in env.log.read("default", "default", seq - 1, 1)]
    event: dict[str, object] = json.loads(record.body)
    return event


@pytest.mark.parametrize("mode", ["binary", "structured"])
async def test_an_event_is_committed_before_202(env: Env, mode: str) -> None:
    event = CloudEvent(
        attributes={
            "type": "order.created",
            "source": "/shop",
            "id": "o-1",
            "specversion": "1.0",
            "subject": "42",
            "time": datetime(2026, 5, 6, 7, 8, 9, 500000, tzinfo=UTC),
            "myext": "hello world",
            "datacontenttype": "application/json",
        },
        data={"order": 42},
    )
    message = to_binary_event(event) if mode == "binary" else to_structured_event(event)
    status, headers, _ = await post(env, "/default/default", message)
    assert (status, headers["Allow"]) == (202, "POST, OPTIONS")
    assert env.log.last_seq("default", "default") == 1  # committed when the 202 came
    got = stored(env)
    assert got == {
        "specversion": "1.0",
        "id": "o-1",
        "source": "/shop",
        "type": "order.created",
        "subject": "42",
        "time": "2026-05-06T07:08:09.500000Z",  # the SDK's text, kept as it came
        "myext": "hello world",
        "datacontenttype": "application/json",
        "data": {"order": 42},
        "knativearrivaltime": "2026-05-06T07:08:09Z",
        "knativebrokerttl": 255,
    }


async def test_knatives_answers(env: Env) -> None:
    message = to_binary_event(order())
    async with env.http.options(env.url + "/default/default") as resp:
        assert resp.status == 200
        assert (resp.headers["WebHook-Allowed-Origin"], resp.headers["WebHook-Allowed-Rate"]) == ("*", "*")
    async with env.http.get(env.url + "/default/default") as resp:
        assert (resp.status, resp.headers["Allow"]) == (405, "POST, OPTIONS")
    assert (await post(env, "/", message))[0] == 404
    status, _, text = await post(env, "/default", message)
    assert status == 400 and "want /NAMESPACE/BROKER" in text
    assert (await post(env, "/a/b/c", message))[0] == 400
    assert (await post(env, "/default/default/", message))[0] == 202  # a trailing slash is fine
    status, _, text = await post(env, "/default/nope", message)
    assert (status, text) == (404, "broker default/nope not found\n")
    env.brokers.withdraw("default", "default")
    assert (await post(env, "/default/default", message))[0] == 404


async def test_invalid_events_are_400_and_not_stored(env: Env) -> None:
    async with env.http.post(
        env.url + "/default/default", data=b"{}", headers={"content-type": "application/json"}
    ) as r:
        assert r.status == 400 and "no CloudEvent" in await r.text()
    bad = {"ce-specversion": "1.0", "ce-source": "/s", "ce-type": "t"}
    async with env.http.post(env.url + "/default/default", headers=bad) as r:
        assert r.status == 400 and "id: MUST be a non-empty string" in await r.text()
    spent = to_binary_event(order(knativebrokerttl="1"))
    status, _, text = await post(env, "/default/default", spent)
    assert status == 400 and "knativebrokerttl" in text
    assert env.log.last_seq("default", "default") == 0


async def test_ttl_is_decremented(env: Env) -> None:
    assert (await post(env, "/default/default", to_binary_event(order(knativebrokerttl="10"))))[0] == 202
    assert stored(env)["knativebrokerttl"] == 9


async def test_a_full_backlog_is_429_with_retry_after(env: Env) -> None:
    await env.log.attach("uid-1", "default", "default", created=0.0)  # a Trigger that owes every event
    for i in range(3):
        assert (await post(env, "/default/default", to_binary_event(order(id=f"e{i}"))))[0] == 202
    status, headers, text = await post(env, "/default/default", to_binary_event(order(id="e3")))
    assert (status, headers["Retry-After"]) == (429, "1")
    assert "not yet delivered" in text
    assert env.log.last_seq("default", "default") == 3


async def test_no_202_before_the_append_returns(tmp_path: Path) -> None:
    """A log whose commit is held: the client has no answer until it is released."""

    class Held:
        def __init__(self) -> None:
            self.release = asyncio.Event()
            self.appended: list[bytes] = []

        async def append(self, namespace: str, broker: str, event_bytes: bytes) -> int:
            await self.release.wait()
            self.appended.append(event_bytes)
            return len(self.appended)

    held = Held()
    brokers = BrokerSet()
    brokers.publish("ns", "b")
    server = IngressServer(Ingress(held, brokers))
    port = await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            message = to_binary_event(order())
            request = asyncio.ensure_future(
                http.post(f"http://127.0.0.1:{port}/ns/b", headers=message.headers, data=message.body)
            )
            done, _ = await asyncio.wait({request}, timeout=0.2)
            assert not done and held.appended == []
            held.release.set()
            async with await request as resp:
                assert resp.status == 202 and len(held.appended) == 1
    finally:
        await server.stop(1.0)


async def test_draining_refuses_new_events_and_waits_for_those_in_flight() -> None:
    """What `up` does before the log closes: 503 + Retry-After for new events, the held one finishes."""

    class Held:
        def __init__(self) -> None:
            self.release = asyncio.Event()
            self.entered = asyncio.Event()

        async def append(self, namespace: str, broker: str, event_bytes: bytes) -> int:
            self.entered.set()
            await self.release.wait()
            return 1

    held = Held()
    brokers = BrokerSet()
    brokers.publish("ns", "b")
    ingress = Ingress(held, brokers)
    server = IngressServer(ingress)
    port = await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            message = to_binary_event(order())
            url = f"http://127.0.0.1:{port}/ns/b"
            first = asyncio.ensure_future(http.post(url, headers=message.headers, data=message.body))
            await asyncio.wait_for(held.entered.wait(), 5)
            drained = asyncio.ensure_future(ingress.drain(grace=10))
            async with http.post(url, headers=message.headers, data=message.body) as resp:
                assert (resp.status, resp.headers["Retry-After"]) == (503, "1")
            assert not drained.done(), "an append is still in flight"
            held.release.set()
            await asyncio.wait_for(drained, 5)
            async with await first as resp:
                assert resp.status == 202
    finally:
        await server.stop(1.0)


async def test_backlog_full_from_any_log_is_429(tmp_path: Path) -> None:
    class Full:
        async def append(self, namespace: str, broker: str, event_bytes: bytes) -> int:
            raise BacklogFull("busy", retry_after=2.5)

    brokers = BrokerSet()
    brokers.publish("ns", "b")
    server = IngressServer(Ingress(Full(), brokers))
    port = await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            message = to_binary_event(order())
            async with http.post(f"http://127.0.0.1:{port}/ns/b", headers=message.headers, data=message.body) as resp:
                assert (resp.status, resp.headers["Retry-After"]) == (429, "3")
    finally:
        await server.stop(1.0)


async def raw(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes (the last request says ``Connection: close``:
    as Envoy, the gateway's proxy takes a client's half-close for the end of the connection)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    out = await reader.read()
    writer.close()
    return out


def binary_request(event_id: str, body: bytes = b"{}", extra: bytes = b"") -> bytes:
    return (
        b"POST /default/default HTTP/1.1\r\nHost: x\r\nce-specversion: 1.0\r\nce-id: %b\r\n"
        b"ce-source: /s\r\nce-type: t\r\nContent-Type: application/json\r\n%bContent-Length: %d\r\n\r\n%b"
        % (event_id.encode(), extra, len(body), body)
    )


async def test_pipelined_requests_are_answered_in_order(env: Env) -> None:
    last = binary_request("b", extra=b"Connection: close\r\n")
    out = await raw(env.port, binary_request("a") + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + last)
    assert [line.split(b" ")[1] for line in out.split(b"\r\n") if line.startswith(b"HTTP/1.1")] == [
        b"202",
        b"405",
        b"202",
    ]
    assert [stored(env, i)["id"] for i in (1, 2)] == ["a", "b"]


async def test_chunked_body_and_expect_continue(env: Env) -> None:
    body = b'{"k": "v"}'
    request = (
        b"POST /default/default HTTP/1.1\r\nHost: x\r\nce-specversion: 1.0\r\nce-id: c\r\nce-source: /s\r\n"
        b"ce-type: t\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n"
        b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body)
    )
    out = await raw(env.port, request)
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 ")
    assert stored(env)["data"] == {"k": "v"}


async def test_oversized_body_is_413_and_closes(env: Env) -> None:
    out = await raw(env.port, binary_request("big", b"x" * (MAX_BODY + 1)))
    assert out.startswith(b"HTTP/1.1 413 ")
    assert env.log.last_seq("default", "default") == 0


async def test_malformed_http_is_400(env: Env) -> None:
    out = await raw(env.port, b"POST /default/default HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 ")


def test_under_uvloop_as_zeroserve_up_runs_it(tmp_path: Path) -> None:
    import uvloop

    async def main() -> int:
        async with SqliteEventLog(tmp_path / "events.db") as log:
            brokers = BrokerSet()
            brokers.publish("ns", "b")
            server = IngressServer(Ingress(log, brokers))
            port = await server.start()
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                    message = to_binary_event(order())
                    async with http.post(
                        f"http://127.0.0.1:{port}/ns/b", headers=message.headers, data=message.body
                    ) as r:
                        return r.status
            finally:
                await server.stop(1.0)

    assert uvloop.run(main()) == 202
