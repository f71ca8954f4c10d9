"""A workload that serves nothing (``Workload.serving`` False: a ContainerSource's adapter) on a real
LocalRuntime: no port and no PORT/K_* variables, no queue-proxy even where revisions get one, ready
once started, no endpoints, restarted after it exits, its logs apart from revisions'."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.polling import eventually
from zeroserve.runtime.base import Workload, WorkloadKey, WorkloadStatus
from zeroserve.runtime.local import LocalRuntime

KEY = WorkloadKey("default", "ticker", "ContainerSource")
APP = textwrap.dedent(
    """
    import json, os, signal, sys
    state = os.environ["STATE_DIR"]
    runs = len([name for name in os.listdir(state) if name.endswith(".json")])
    with open(os.path.join(state, f".run-{runs}.tmp"), "w") as f:
        json.dump(dict(os.environ), f)
    os.replace(f.name, os.path.join(state, f"run-{runs}.json"))  # whole when it is seen
    print(f"run {runs}", flush=True)
    if runs == 0:
        sys.exit(2)  # the first run ends: the runtime starts it again
    signal.pause()
    """
)


def workload(tmp_path: Path) -> Workload:
    app = tmp_path / "app.py"
    app.write_text(APP)
    (tmp_path / "state").mkdir()
    return Workload(
        key=KEY,
        service="",
        configuration="",
        image=None,
        command=(sys.executable, str(app)),
        args=(),
        working_dir=str(tmp_path),
        env=(("STATE_DIR", str(tmp_path / "state")), ("K_SINK", "http://sink.default.svc.cluster.local")),
        container_port=8080,
        readiness_probe=None,
        liveness_probe=None,
        termination_grace_seconds=5,
        container_concurrency=0,
        timeout_seconds=300,
        serving=False,
    )


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    runtime = LocalRuntime(tmp_path / "data", queue_proxy=True)  # revisions would get a queue-proxy
    yield runtime
    await runtime.close()


async def status_until(runtime: LocalRuntime, ready: int) -> WorkloadStatus:
    changed = asyncio.Event()
    runtime.subscribe(lambda _key: changed.set())
    async with asyncio.timeout(30):
        while (status := runtime.status(KEY)) is None or status.ready != ready:
            changed.clear()
            await changed.wait()
    return status


async def test_ready_once_started_without_port_queue_proxy_or_endpoints(runtime: LocalRuntime, tmp_path: Path) -> None:
    await runtime.ensure(workload(tmp_path), 1)
    await status_until(runtime, 1)  # ready at once: the first run is started
    await eventually(lambda: (tmp_path / "state" / "run-1.json").exists(), timeout=30.0)
    status = await status_until(runtime, 1)
    assert status.endpoints == ()
    (instance,) = runtime.instances(KEY)
    assert not instance.queue_proxy
    assert instance.name.startswith("ticker-deployment-")
    assert instance.restarts == 1  # the first run exited with 2 and was started again
    assert instance.last_exit == (2, "Error")
    env = json.loads((tmp_path / "state" / "run-1.json").read_text())
    assert env["K_SINK"] == "http://sink.default.svc.cluster.local"
    assert not {"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"} & set(env)
    logs = runtime.data_dir / "logs" / "_containersources" / "default" / "ticker"
    # the app prints after its state file is in place: its line may reach the log a moment later
    await eventually(lambda: any("run 1" in log.read_text() for log in logs.iterdir()), timeout=30.0)
    await runtime.remove(KEY)
    assert runtime.status(KEY) is None
    await eventually(lambda: not runtime.instances(KEY), timeout=5.0)
