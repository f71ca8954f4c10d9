"""POST /stats on a real StatServer (Knative statserver/server_test.go, over HTTP instead of a websocket)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from zeroserve.autoscaler.metrics import Stat, StatMessage
from zeroserve.autoscaler.statserver import StatServer, parse_messages

MSG = StatMessage("ns", "rev", Stat("activator", average_concurrent_requests=3.0, request_count=1.0, timestamp=7))


async def test_posted_messages_reach_the_sink() -> None:
    got: list[StatMessage] = []
    async with StatServer(got.append) as server, aiohttp.ClientSession() as session:
        assert server.port > 0
        body = [MSG.to_wire(), StatMessage("ns", "other", Stat("activator", 1.0)).to_wire()]
        async with session.post(f"http://127.0.0.1:{server.port}/stats", json=body) as resp:
            assert resp.status == 200
            assert await resp.json() == {"accepted": 2}
    assert got[0] == MSG and got[1].name == "other"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b'{"namespace": "ns"}', id="not-array"),
        pytest.param(json.dumps([MSG.to_wire(), {"namespace": "", "name": "x", "stat": {}}]).encode(), id="bad-item"),
        pytest.param(json.dumps([{"namespace": "ns", "name": "r", "stat": {"requestCount": "x"}}]).encode(), id="type"),
    ],
)
async def test_bad_bodies_are_400_and_record_nothing(body: bytes) -> None:
    got: list[StatMessage] = []
    async with StatServer(got.append) as server, aiohttp.ClientSession() as session:
        resp = await session.post(f"http://127.0.0.1:{server.port}/stats", data=body)
        assert resp.status == 400
        assert "error" in await resp.json()
    assert got == []


async def test_get_is_not_allowed() -> None:
    async with StatServer(lambda m: None) as server, aiohttp.ClientSession() as session:
        resp = await session.get(f"http://127.0.0.1:{server.port}/stats")
        resp.release()
        assert resp.status == 405


def test_parse_messages_roundtrip() -> None:
    assert parse_messages(json.dumps([MSG.to_wire()]).encode()) == [MSG]
    assert parse_messages(b"[]") == []
