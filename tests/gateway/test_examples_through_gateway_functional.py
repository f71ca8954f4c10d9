"""The stream and sleep examples, run as real processes, answered through the gateway."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from zeroserve.gateway import Backend, Gateway, RouteEntry, RoutingTable, Rule

REPO = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def example(name: str) -> AsyncIterator[int]:
    env = {**os.environ, "PORT": "0", "K_REVISION": f"{name}-00001"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(REPO / "examples" / name / "app.py"), env=env, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    match = re.search(rb":(\d+)$", line.strip())
    assert match, line
    try:
        yield int(match.group(1))
    finally:
        proc.terminate()
        await proc.wait()


def table(name: str) -> RoutingTable:
    rule = Rule((f"{name}.default.localhost",), "ExternalIP", (Backend("default", f"{name}-00001", 100),))
    return RoutingTable([RouteEntry("default", name, 1, (rule,))])


async def test_stream_example_events_arrive_one_by_one() -> None:
    async with example("stream") as port, Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0)) as gw:
        assert gw.ports is not None
        gw.set_table(table("stream"))
        gw.set_endpoints("default", "stream-00001", [("127.0.0.1", port)])
        url = f"http://127.0.0.1:{gw.ports[0]}/?n=3&ms=200"
        async with aiohttp.ClientSession() as s, s.get(url, headers={"Host": "stream.default.localhost"}) as r:
            assert r.headers["Content-Type"] == "text/event-stream"
            events = []
            while line := await r.content.readline():
                if line.startswith(b"data:"):
                    events.append(line.strip().decode())
        assert events == [f"data: event {i} from stream-00001" for i in range(3)]


async def test_sleep_example_concurrent() -> None:
    async with example("sleep") as port, Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0)) as gw:
        assert gw.ports is not None
        gw.set_table(table("sleep"))
        gw.set_endpoints("default", "sleep-00001", [("127.0.0.1", port)])

        async def one(s: aiohttp.ClientSession) -> tuple[int, str]:
            url = f"http://127.0.0.1:{gw.ports[0]}/?ms=50"  # type: ignore[index]
            async with s.get(url, headers={"Host": "sleep.default.localhost"}) as r:
                return r.status, await r.text()

        async with aiohttp.ClientSession() as s:
            results = await asyncio.gather(*(one(s) for _ in range(10)))
        assert results == [(200, "slept 50 ms (revision sleep-00001)\n")] * 10
