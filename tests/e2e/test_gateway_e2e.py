"""Issue 4's acceptance on a real `zeroserve up`: traffic reaches instances by host, split and
tagged; instances live and die with the platform; websockets, SSE and service-to-service work."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import threading
import uuid
from collections import Counter
from pathlib import Path

import aiohttp

from tests.e2e.harness import REPO, Up
from tests.support.polling import wait_for


def revision_of(body: str) -> str:
    return body.split("(revision ")[1].split(")")[0]


def instance_pids(marker: str) -> set[int]:
    """Live processes whose environment carries ``RUN_ID=marker`` (read from /proc)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if f"RUN_ID={marker}".encode() in environ.split(b"\0") and state != "Z":
            pids.add(int(entry.name))
    return pids


def create_hello(up: Up, name: str = "hello", *extra: str) -> None:
    up.cli("service", "create", name, "--cmd", "python3", "--arg", "examples/hello/app.py", *extra)


def test_hello_answers_by_host_header_and_by_url(up: Up) -> None:
    assert "created" in up.cli("apply", "-f", "examples/hello/service.yaml", "--wait").stdout
    status, body = up.get("hello.default.localhost")
    assert (status, body) == (200, "Hello World! (revision hello-00001)\n")
    curl = shutil.which("curl")
    assert curl, "curl is needed for this test (.ci/run installs it)"
    out = subprocess.run([curl, "-s", f"http://hello.default.localhost:{up.port}/"], capture_output=True, text=True)
    assert out.stdout == "Hello World! (revision hello-00001)\n"
    status, body = up.get("nobody.default.localhost")
    assert status == 404 and "hello.default.localhost" in body


def test_split_tag_and_switch_without_failures(up: Up) -> None:
    up.cli("apply", "-f", "examples/hello/service.yaml", "--wait")
    changed = (REPO / "examples/hello/service.yaml").read_text().replace("value: World", "value: Knative")
    up.cli("apply", "-f", "-", "--wait", input=changed)
    up.cli("service", "update", "hello", "--traffic", "hello-00001=50,@latest=50", "--tag", "hello-00002=candidate")

    counts = Counter(revision_of(up.get("hello.default.localhost")[1]) for _ in range(2000))
    assert set(counts) == {"hello-00001", "hello-00002"}
    assert all(900 <= n <= 1100 for n in counts.values()), counts
    assert {revision_of(up.get("candidate-hello.default.localhost")[1]) for _ in range(50)} == {"hello-00002"}

    failures: list[str] = []
    seen: list[tuple[bool, str]] = []  # (sent after the switch returned, revision)
    switched = threading.Event()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            after = switched.is_set()
            status, body = up.get("hello.default.localhost")
            if status != 200:
                failures.append(f"{status} {body[:80]}")
            else:
                seen.append((after, revision_of(body)))

    thread = threading.Thread(target=load)
    thread.start()
    try:
        wait_for(lambda: len(seen) >= 50, 30, "load before the switch")
        up.cli("service", "update", "hello", "--traffic", "@latest=100")
        switched.set()
        wait_for(lambda: sum(after for after, _ in seen) >= 300, 60, "load after the switch")
    finally:
        stop.set()
        thread.join(30)
    assert failures == []
    assert {rev for after, rev in seen if after} == {"hello-00002"}


def test_service_calls_service_by_cluster_local_name(up: Up) -> None:
    create_hello(up, "hello", "--label", "networking.knative.dev/visibility=cluster-local")
    up.cli("apply", "-f", "examples/caller/service.yaml", "--wait")
    hello = up.cli("get", "ksvc", "hello").stdout
    assert "http://hello.default.svc.cluster.local" in hello
    assert up.get("hello.default.localhost")[0] == 404  # not exposed on the external listener
    for name in ("hello.default.svc.cluster.local", "hello.default.svc", "hello.default"):
        status, body = up.get("caller.default.localhost", f"/?to={name}")
        assert status == 200, body
        assert body == f"caller-00001 called {name}: Hello World! (revision hello-00001)\n"


def test_websocket_and_sse_through_the_gateway(up: Up) -> None:
    up.cli("apply", "-f", "examples/echo-ws/service.yaml", "-f", "examples/stream/service.yaml", "--wait")

    async def talk() -> tuple[list[str], list[str]]:
        base = up.endpoints["gateway"]
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(base + "/", headers={"Host": "echo-ws.default.localhost"}) as ws:
                echoes = []
                for word in ("one", "two"):
                    await ws.send_str(word)
                    echoes.append((await ws.receive()).data)
            events = []
            async with session.get(base + "/?n=3&ms=50", headers={"Host": "stream.default.localhost"}) as resp:
                assert resp.headers["Content-Type"].startswith("text/event-stream")
                async for line in resp.content:
                    if line.startswith(b"data:"):
                        events.append(line.decode().strip())
        return echoes, events

    echoes, events = asyncio.run(talk())
    assert echoes == ["echo-ws-00001: one", "echo-ws-00001: two"]
    assert len(events) == 3


def test_instances_live_and_die_with_the_platform(up: Up) -> None:
    marker = uuid.uuid4().hex
    create_hello(up, "hello", "--env", f"RUN_ID={marker}", "--scale-min", "2")
    wait_for(lambda: len(instance_pids(marker)) == 2, 30, "two instances")

    # An instance killed with SIGKILL is replaced.
    victim = min(instance_pids(marker))
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(pids := instance_pids(marker)) == 2 and victim not in pids, 30, "a replacement")
    wait_for(lambda: up.get("hello.default.localhost")[0] == 200, 30, "hello answering again")

    # SIGTERM to `zeroserve up` stops every instance.
    assert up.stop(signal.SIGTERM) == 0
    assert instance_pids(marker) == set()

    # SIGKILL, then a restart: no orphan is left, and the instances come back.
    up.start()
    wait_for(lambda: len(instance_pids(marker)) == 2, 30, "instances after restart")
    before = instance_pids(marker)
    up.stop(signal.SIGKILL)
    wait_for(lambda: not (instance_pids(marker) & before), 30, "orphans gone after SIGKILL")
    up.start()
    wait_for(lambda: len(instance_pids(marker)) == 2, 30, "instances after the second restart")
    assert not (instance_pids(marker) & before)
