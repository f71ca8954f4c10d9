"""LocalRuntime with real cgroups: limits land in the kernel, the OOM killer enforces them."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.support.polling import eventually
from tests.support.runtime import status_until
from zeroserve.runtime import cgroups, supervisor
from zeroserve.runtime.base import Workload, WorkloadKey, WorkloadStatus
from zeroserve.runtime.local import LocalRuntime

KEY = WorkloadKey("default", "limited-00001")

SERVER = textwrap.dedent(
    """
    import http.server, os, subprocess, sys
    escaped = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"], start_new_session=True)
    with open(sys.argv[2], "w") as f:
        f.write(f"{os.getpid()} {escaped.pid}")
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.BaseHTTPRequestHandler).serve_forever()
    """
)

HOG = textwrap.dedent(
    """
    import signal
    print("allocating 200 MB", flush=True)
    hog = b"x" * (200 * 1024 * 1024)
    print("still alive", flush=True)
    signal.pause()
    """
)


def workload(code: str, *args: str, cpu: str | None = None, memory: str | None = None) -> Workload:
    return Workload(
        key=KEY,
        service="limited",
        configuration="limited",
        image=None,
        command=(sys.executable, "-c", code),
        args=("$(PORT)", *args),
        working_dir=None,
        env=(),
        container_port=8080,
        readiness_probe=None,
        liveness_probe=None,
        termination_grace_seconds=5,
        container_concurrency=0,
        timeout_seconds=300,
        cpu_limit=cpu,
        memory_limit=memory,
    )


def machine_cgroups() -> cgroups.Cgroups:
    found = cgroups.probe()
    if not found.available:
        pytest.skip(f"this machine has no usable cgroups (run as root on a v1 or v2 host): {found.reason}")
    return found


async def until(
    runtime: LocalRuntime, predicate: Callable[[WorkloadStatus], bool], timeout: float = 30.0
) -> WorkloadStatus:
    return await status_until(runtime, KEY, predicate, timeout)


def dead(pid: int) -> bool:
    stat = supervisor.read_stat(pid)
    return stat is None or stat.state in ("Z", "X")


def cgroup_of(pid: int, controller: str) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (controllers == "" and controller == "unified"):
            return path
    raise AssertionError(f"no {controller} cgroup for {pid}")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    runtime = LocalRuntime(tmp_path / "data")
    yield runtime
    await runtime.close()


async def test_instance_runs_in_its_own_cgroup_with_its_limits(runtime: LocalRuntime, tmp_path: Path) -> None:
    found = machine_cgroups()
    pids = tmp_path / "pids"
    await runtime.ensure(workload(SERVER, str(pids), cpu="500m", memory="64Mi"), 1)
    status = await until(runtime, lambda s: s.ready == 1)
    assert status.warnings == ()
    await eventually(pids.exists, timeout=30.0)
    leader, escaped = map(int, pids.read_text().split())
    controller = "memory" if found.version == "v1" else "unified"
    path = cgroup_of(leader, controller)
    instance_id = path.rsplit("/", 1)[1]
    assert path == f"/{cgroups.PARENT}/{instance_id}" and instance_id.startswith(KEY.revision)
    assert cgroup_of(escaped, controller) == path, "children are born inside the cgroup"
    directory = dict(found.parents)[controller] / instance_id
    if found.version == "v1":
        assert (directory / "memory.limit_in_bytes").read_text().strip() == str(64 * 1024**2)
        assert (
            directory.parents[2] / "cpu" / cgroups.PARENT / instance_id / "cpu.cfs_quota_us"
        ).read_text() == "50000\n"
    else:
        assert (directory / "memory.max").read_text().strip() == str(64 * 1024**2)
        assert (directory / "cpu.max").read_text().split() == ["50000", "100000"]
    (usage,) = runtime.usage(KEY)
    assert usage.memory_bytes is not None and usage.memory_bytes > 0
    assert usage.pids is None or usage.pids >= 2
    assert usage.oom_kills == 0

    await runtime.remove(KEY)
    assert dead(leader)
    await eventually(lambda: dead(escaped) and not directory.exists(), timeout=30.0)
    assert runtime.usage(KEY) == ()


async def test_an_instance_without_limits_is_accounted_for(runtime: LocalRuntime, tmp_path: Path) -> None:
    found = machine_cgroups()
    pids = tmp_path / "pids"
    await runtime.ensure(workload(SERVER, str(pids)), 1)
    status = await until(runtime, lambda s: s.ready == 1)
    assert status.warnings == ()
    await eventually(pids.exists, timeout=30.0)
    leader = int(pids.read_text().split()[0])
    controller = "memory" if found.version == "v1" else "unified"
    assert cgroup_of(leader, controller).startswith(f"/{cgroups.PARENT}/")
    (usage,) = runtime.usage(KEY)  # what the HPA class scales on
    assert usage.memory_bytes is not None and usage.memory_bytes > 0
    cpu = usage.cpu_seconds
    assert cpu is not None and cpu >= 0
    if found.version == "v1":
        directory = dict(found.parents)["memory"] / cgroup_of(leader, controller).rsplit("/", 1)[1]
        assert int((directory / "memory.limit_in_bytes").read_text()) > 2**60  # no limit written


async def test_memory_hog_is_oom_killed(runtime: LocalRuntime) -> None:
    machine_cgroups()
    await runtime.ensure(workload(HOG, memory="64Mi"), 1)
    status = await until(runtime, lambda s: s.failure is not None)
    assert status.failure is not None
    assert status.failure.reason == "ExitCode137"
    assert status.failure.message.startswith("OOMKilled")
    assert "allocating 200 MB" in status.failure.message
    assert "still alive" not in status.failure.message


async def test_without_cgroups_limits_are_reported_not_enforced(tmp_path: Path) -> None:
    empty = tmp_path / "no-cgroups"
    empty.mkdir()
    runtime = LocalRuntime(tmp_path / "data", cgroup_root=empty)
    try:
        assert not runtime.cgroups.available
        pids = tmp_path / "pids"
        await runtime.ensure(workload(SERVER, str(pids), cpu="1", memory="64Mi"), 1)
        status = await until(runtime, lambda s: s.ready == 1)
        (warning,) = status.warnings
        assert warning.startswith(f"cpu/memory limits not enforced: no cgroup v2 under {empty}")
        assert warning.endswith("(cpu=1, memory=64Mi)")
        await eventually(pids.exists, timeout=30.0)
        leader = int(pids.read_text().split()[0])
        assert f"/{cgroups.PARENT}/" not in Path(f"/proc/{leader}/cgroup").read_text()
        assert runtime.usage(KEY) == ()
        assert list(empty.iterdir()) == []
    finally:
        await runtime.close()
        if pids.exists():  # nothing kills a process that left its group when there is no cgroup
            os.kill(int(pids.read_text().split()[1]), signal.SIGKILL)


async def test_leftover_cgroups_of_recorded_instances_are_removed(tmp_path: Path) -> None:
    found = machine_cgroups()
    data = tmp_path / "data"
    data.mkdir()
    record = supervisor.InstanceRecord("limited-00001-leftover", str(KEY), pid=2**22 + 1, start_ticks=1)
    recorded = supervisor.InstanceRecords(data / "instances.jsonl")  # a crashed runtime's journal
    recorded.add(record)
    recorded.close()
    leftover = found.create(record.id, cgroups.Limits(memory_bytes=64 * 1024**2))
    directories = list(leftover.dirs.values())
    assert all(path.is_dir() for path in directories)
    await LocalRuntime(data).close()
    assert not any(path.exists() for path in directories)


def favour_mounts() -> list[str]:
    lines = cgroups.MOUNTINFO.read_text().splitlines()
    return [line for line in lines if f"name={cgroups.FAVOR_NAME}" in line.partition(" - ")[2]]


async def test_the_runtime_makes_cgroup_moves_favor_dynamic_changes_once(tmp_path: Path) -> None:
    machine_cgroups()
    first = LocalRuntime(tmp_path / "one")
    second = LocalRuntime(tmp_path / "two")
    try:
        assert cgroups.favoring(cgroups.MOUNTINFO.read_text())
        assert len(favour_mounts()) <= 1  # two runtimes (or `up`s): one mount, kept
        assert cgroups.favor_dynmods() is None
        assert len(favour_mounts()) <= 1
    finally:
        await first.close()
        await second.close()
    assert cgroups.favoring(cgroups.MOUNTINFO.read_text())  # a machine setting: it stays
