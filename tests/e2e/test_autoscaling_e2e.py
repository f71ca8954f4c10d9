"""Issue 6's acceptance on a real `zeroserve up`, with the knobs Knative offers to keep it fast:
a 6 s stable window and a 1 s scale-to-zero grace period in the config file."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest

from tests.e2e.harness import Up
from tests.support.polling import wait_for

FAST = "config-autoscaler:\n  stable-window: 6s\n  scale-to-zero-grace-period: 1s\n"
SLEEP = ["--cmd", "python3", "--arg", "examples/sleep/app.py"]


@pytest.fixture
def fast(up: Up) -> Up:
    up.write_config(FAST)
    wait_for(lambda: "6s" in up.cli("config", "show").stdout, 10, "config written")
    return up


# Read through the API, not the CLI: the waits poll every 20 ms, and a CLI process each time would keep
# one of the two cores busy starting Python, starving the load the autoscaler measures.
def revision(up: Up, name: str) -> dict[str, Any]:
    return json.loads(up.api_get(f"/apis/serving.knative.dev/v1/namespaces/default/revisions/{name}"))  # type: ignore[no-any-return]


def replicas(up: Up, name: str) -> int:
    return int(revision(up, name)["status"].get("actualReplicas", -1))


def desired(up: Up, name: str) -> int:
    pa = json.loads(
        up.api_get(f"/apis/autoscaling.internal.knative.dev/v1alpha1/namespaces/default/podautoscalers/{name}")
    )
    return int(pa["status"].get("desiredScale", -1))


@contextmanager
def load(up: Up, host: str, concurrency: int, path: str) -> Iterator[list[int]]:
    """``concurrency`` clients sending requests back to back until the block ends."""
    statuses: list[int] = []
    stop = threading.Event()

    async def clients() -> None:
        base = up.endpoints["gateway"]
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:

            async def client() -> None:
                while not stop.is_set():
                    async with session.get(base + path, headers={"Host": host}) as resp:
                        await resp.read()
                        statuses.append(resp.status)

            await asyncio.gather(*(client() for _ in range(concurrency)))

    thread = threading.Thread(target=asyncio.run, args=(clients(),))
    thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        thread.join(120)


def test_scale_from_zero_on_the_first_request_and_back_to_zero(fast: Up) -> None:
    fast.cli("service", "create", "hello", "--cmd", "python3", "--arg", "examples/hello/app.py")
    wait_for(lambda: replicas(fast, "hello-00001") == 0, 30, "scaled to zero without traffic")
    assert revision(fast, "hello-00001")["status"]["conditions"]  # still Ready at zero
    status, body = fast.get("hello.default.localhost")
    assert (status, body) == (200, "Hello World! (revision hello-00001)\n")
    wait_for(lambda: replicas(fast, "hello-00001") == 1, 10, "the instance that answered in the status")
    # back to zero; that it waits for a stable window without traffic and the grace period is checked on
    # an injected clock in tests/controller/test_kpa_reconciler.py::test_scale_to_zero_and_back (no wall
    # clock here: speed and timing belong in bench/)
    wait_for(lambda: replicas(fast, "hello-00001") == 0, 30, "back to zero after window + grace")
    explained = fast.cli("autoscaler", "explain", "hello-00001").stdout
    assert "Desired scale:  0" in explained and "SKS mode:       Proxy" in explained
    assert "Applied scale:  0 (scaled to zero)" in explained
    metrics = fast.api_get("/metrics")
    assert 'zeroserve_autoscaler_desired_pods{namespace="default",revision="hello-00001"} 0.0' in metrics
    assert 'zeroserve_autoscaler_excess_burst_capacity{namespace="default",revision="hello-00001"}' in metrics


@pytest.mark.parametrize(
    ("utilization", "clients", "want"),
    [  # clients: so that want = ceil(concurrency / (10 x utilization)) holds with much lost between requests
        pytest.param("100", 19, 2, id="100%"),  # 10 < c <= 20: holds with up to 47 % of the time in gaps
        pytest.param(None, 20, 3, id="70%"),  # 14 < c <= 21: up to 30 %
    ],  # requests of 2 s; the gap between one and the next is 2-3 % of the time on a quiet 2-core machine,
    # but more than 11 % with the suite's other processes or a busy neighbour: 55 clients for 8 (49 < c
    # <= 56, as Knative's e2e sizes it) gave 7 there, in both the code of then and that before it
)
def test_concurrent_requests_against_target_ten(fast: Up, utilization: str | None, clients: int, want: int) -> None:
    flags = ["--annotation", "autoscaling.knative.dev/target=10"]
    if utilization:
        flags += ["--annotation", f"autoscaling.knative.dev/target-utilization-percentage={utilization}"]
    fast.cli("service", "create", "sleep", *SLEEP, *flags)
    with load(fast, "sleep.default.localhost", clients, "/?ms=2000") as statuses:
        wait_for(lambda: desired(fast, "sleep-00001") == want, 60, f"{want} desired")
        wait_for(lambda: replicas(fast, "sleep-00001") == want, 60, f"{want} instances")
    assert statuses and set(statuses) == {200}


def test_min_and_max_scale(fast: Up) -> None:
    fast.cli("service", "create", "kept", *SLEEP, "--scale-min", "2")
    fast.cli(
        "service", "create", "capped", *SLEEP, "--scale-max", "3",
        "--annotation", "autoscaling.knative.dev/target=10",
    )  # fmt: skip
    with load(fast, "capped.default.localhost", 50, "/?ms=500") as statuses:
        wait_for(lambda: desired(fast, "capped-00001") == 3, 60, "capped at 3")
        time.sleep(3)  # wait-ok: the cap must hold while the load goes on
        assert replicas(fast, "capped-00001") == 3 and desired(fast, "capped-00001") == 3
    assert set(statuses) == {200}
    assert replicas(fast, "kept-00001") == 2  # idle well past window + grace, min-scale holds
    assert "Applied scale:  2 (min-scale 2)" in fast.cli("autoscaler", "explain", "kept-00001").stdout


def test_activation_scale_brings_three_from_zero(fast: Up) -> None:
    fast.cli(
        "service", "create", "act", *SLEEP, "--annotation", "autoscaling.knative.dev/activation-scale=3",
    )  # fmt: skip
    wait_for(lambda: replicas(fast, "act-00001") == 0, 30, "at zero")
    assert fast.get("act.default.localhost")[0] == 200
    wait_for(lambda: replicas(fast, "act-00001") == 3, 30, "three instances from one request")


def test_initial_scale_zero_with_allow_zero_initial_scale(fast: Up) -> None:
    fast.write_config(FAST + "  allow-zero-initial-scale: 'true'\n")
    create = ["service", "create", "lazy", *SLEEP, "--annotation", "autoscaling.knative.dev/initial-scale=0"]
    wait_for(lambda: fast.cli(*create, check=False).returncode == 0, 15, "created at zero and Ready")
    rev = revision(fast, "lazy-00001")
    assert rev["status"].get("actualReplicas") == 0
    assert fast.get("lazy.default.localhost")[0] == 200


def test_scale_down_delay_holds_the_instances(fast: Up) -> None:
    fast.cli(
        "service", "create", "held", *SLEEP, "--annotation", "autoscaling.knative.dev/target=10",
        "--annotation", "autoscaling.knative.dev/scale-down-delay=20s",
    )  # fmt: skip
    with load(fast, "held.default.localhost", 30, "/?ms=500"):
        wait_for(lambda: replicas(fast, "held-00001") >= 3, 60, "scaled up")
    time.sleep(2)  # wait-ok: one more decider tick sees the load still in its windows
    peak = desired(fast, "held-00001")
    wait_for(lambda: replicas(fast, "held-00001") == peak, 30, "settled at the peak")
    for _ in range(10):  # ten samples a second apart: beyond window + grace, within the 20 s delay
        assert replicas(fast, "held-00001") == peak
        time.sleep(1)  # wait-ok: sampling that the number holds
    wait_for(lambda: replicas(fast, "held-00001") < peak, 60, "scale down once the delay is over")


def test_hpa_class_scales_a_cpu_burning_app_up_and_back(fast: Up) -> None:
    fast.cli("apply", "-f", "examples/burn/service.yaml", "--wait")
    assert replicas(fast, "burn-00001") == 1
    with load(fast, "burn.default.localhost", 4, "/?ms=200"):
        wait_for(lambda: replicas(fast, "burn-00001") > 1, 60, "HPA scales up on CPU")
        assert replicas(fast, "burn-00001") <= 3  # max-scale
    wait_for(lambda: replicas(fast, "burn-00001") == 1, 90, "HPA scales back down to 1 (never 0)")
