"""Issue 5's acceptance on a real `zeroserve up`: queue-proxy breaker, activator buffering, drain,
proxy <-> serve switches — real processes, real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from tests.e2e.harness import Up
from tests.support.polling import wait_for

SLEEP = ["--cmd", "python3", "--arg", "examples/sleep/app.py"]


def sks(up: Up, name: str) -> dict[str, Any]:
    done = up.cli("get", "sks", name, "-o", "json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def sks_mode(up: Up, name: str) -> str:
    return str(sks(up, name).get("spec", {}).get("mode", ""))


async def burst(up: Up, host: str, n: int, path: str = "/") -> list[tuple[int, int]]:
    """``n`` simultaneous requests; (status, place among the answers: 0 for the first to come) for each."""
    base = up.endpoints["gateway"]
    answered = 0
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> tuple[int, int]:
            nonlocal answered
            async with session.get(base + path, headers={"Host": host}) as resp:
                await resp.read()
                answered += 1
                return resp.status, answered - 1

        return list(await asyncio.gather(*(one() for _ in range(n))))


def test_cc1_in_serve_mode_queues_ten_in_the_queue_proxy_and_refuses_the_twelfth(up: Up) -> None:
    up.cli(
        "service", "create", "slow", *SLEEP, "--concurrency-limit", "1",
        "--annotation", "autoscaling.knative.dev/target-burst-capacity=0",
        "--scale-min", "1", "--scale-max", "1",
    )  # fmt: skip
    wait_for(lambda: sks_mode(up, "slow-00001") == "Serve", 30, "serve mode")
    results = asyncio.run(burst(up, "slow.default.localhost", 12, "/?ms=1500"))
    codes = sorted(code for code, _ in results)
    assert codes == [200] * 11 + [503], codes
    refused = next(place for code, place in results if code == 503)
    first_done = min(place for code, place in results if code == 200)
    assert refused < first_done  # the 12th is refused at once, before any request that waited is answered


def test_cc1_in_proxy_mode_the_activator_holds_the_excess(up: Up) -> None:
    up.cli("service", "create", "slow", *SLEEP, "--concurrency-limit", "1", "--scale-min", "1", "--scale-max", "1")
    wait_for(lambda: sks_mode(up, "slow-00001") == "Proxy", 30, "proxy mode (default burst capacity)")
    results = asyncio.run(burst(up, "slow.default.localhost", 12, "/?ms=300"))
    assert [code for code, _ in results] == [200] * 12


def test_two_hundred_requests_to_a_revision_at_zero_all_succeed(up: Up) -> None:
    up.write_config("config-autoscaler:\n  allow-zero-initial-scale: 'true'\n")
    create = ["service", "create", "sleep", *SLEEP, "--annotation", "autoscaling.knative.dev/initial-scale=0"]
    # The config file is re-read within a second; until then admission refuses initial-scale 0.
    wait_for(lambda: up.cli(*create, "--no-wait", check=False).returncode == 0, 10, "the new config in force")
    wait_for(
        lambda: (
            (r := up.cli("get", "rev", "sleep-00001", "-o", "json", check=False)).returncode == 0
            and json.loads(r.stdout)["status"].get("actualReplicas") == 0
        ),
        30,
        "a revision at zero",
    )
    results = asyncio.run(burst(up, "sleep.default.localhost", 200, "/?ms=100"))
    assert [code for code, _ in results] == [200] * 200


def test_scale_down_drains_requests_in_flight(up: Up) -> None:
    up.write_config("config-autoscaler:\n  min-scale: '2'\n")
    up.cli("service", "create", "sleep", *SLEEP)
    wait_for(lambda: str(sks(up, "sleep-00001") and rev_replicas(up, "sleep-00001")) == "2", 30, "two instances")

    async def scenario() -> list[tuple[int, int]]:
        load = asyncio.create_task(burst(up, "sleep.default.localhost", 30, "/?ms=5000"))
        await asyncio.sleep(1.0)  # wait-ok: let the 30 requests reach both instances first
        up.write_config("config-autoscaler:\n  min-scale: '1'\n")
        return await load

    results = asyncio.run(scenario())
    assert [code for code, _ in results] == [200] * 30
    wait_for(lambda: rev_replicas(up, "sleep-00001") == "1", 30, "scaled down to one")


def rev_replicas(up: Up, name: str) -> str:
    done = up.cli("get", "rev", name, "-o", "json", check=False)
    return str(json.loads(done.stdout)["status"].get("actualReplicas")) if done.returncode == 0 else ""


def test_proxy_serve_switches_under_steady_load_fail_nothing(up: Up) -> None:
    up.cli("service", "create", "sleep", *SLEEP, "--scale-min", "3")
    wait_for(lambda: rev_replicas(up, "sleep-00001") == "3", 30, "three instances")

    async def steady(rps: int, until: asyncio.Event) -> list[int]:
        """``rps`` requests a second, paced, until ``until`` is set (then the last ones finish)."""
        base = up.endpoints["gateway"]
        statuses: list[int] = []
        async with aiohttp.ClientSession() as session:

            async def one() -> None:
                async with session.get(base + "/", headers={"Host": "sleep.default.localhost"}) as resp:
                    await resp.read()
                    statuses.append(resp.status)

            tasks = []
            start = time.monotonic()
            i = 0
            while not until.is_set():
                i += 1
                delay = start + i / rps - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)  # wait-ok: pacing the load generator
                tasks.append(asyncio.create_task(one()))
            await asyncio.gather(*tasks)
        return statuses

    async def scenario() -> list[int]:
        switched = asyncio.Event()
        load = asyncio.create_task(steady(200, switched))
        await asyncio.sleep(1.0)  # wait-ok: a second of steady load before the first switch
        for tbc in ("-1", "0", "-1", "0"):
            up.write_config(f"config-autoscaler:\n  target-burst-capacity: '{tbc}'\n")
            want = "Proxy" if tbc == "-1" else "Serve"
            mode = ""
            try:
                async with asyncio.timeout(30):
                    # The CLI runs in a thread: the load generator on this loop must not stall meanwhile.
                    while (mode := await asyncio.to_thread(sks_mode, up, "sleep-00001")) != want:
                        await asyncio.sleep(0.1)  # wait-ok: polling with a deadline while the load runs
            except TimeoutError:
                raise AssertionError(f"SKS still in {mode} mode after 30 s, want {want}") from None
        await asyncio.sleep(1.0)  # wait-ok: a second of steady load after the last switch
        switched.set()
        return await load

    statuses = asyncio.run(scenario())
    assert len(statuses) >= 800  # at 200 rps: the switches happened under load
    assert [s for s in statuses if not 200 <= s < 300] == []
