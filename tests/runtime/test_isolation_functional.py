"""Isolation and spawn failures with real processes: LocalRuntime, spawn and runtime.isolation.

The spawn-failure tests run anywhere. The isolation tests need root (to switch users) and
bubblewrap (``apt-get install bubblewrap``; CI installs it): elsewhere they are skipped, and what
the runtime says instead is checked by the pure tests (test_isolation.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.support.polling import eventually
from tests.support.runtime import status_until
from zeroserve.runtime import isolation, probes, spawn
from zeroserve.runtime.base import Workload, WorkloadKey, WorkloadStatus
from zeroserve.runtime.isolation import Isolation, Policy
from zeroserve.runtime.local import LocalRuntime
from zeroserve.runtime.process import Instance, InstanceSpec

REPO = Path(__file__).resolve().parents[2]
ATTACKER = "tests/runtime/apps/attacker.py"
SANDBOX = isolation.probe(Policy())
needs_sandbox = pytest.mark.skipif(
    not (SANDBOX.can_switch_users and SANDBOX.bwrap), reason=f"needs root and bubblewrap: {SANDBOX.no_sandbox}"
)
CONTRACT = {"PATH", "LANG", "HOME", "PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"}


def workload(revision: str, *, env: dict[str, str] | None = None, **changes: Any) -> Workload:
    base = Workload(
        key=WorkloadKey("default", revision),
        service=revision.rsplit("-", 1)[0],
        configuration=revision.rsplit("-", 1)[0],
        image=None,
        command=(sys.executable, ATTACKER),
        args=(),
        working_dir=str(REPO),
        env=tuple((env or {}).items()),
        container_port=8080,
        readiness_probe=None,
        liveness_probe=None,
        termination_grace_seconds=5,
        container_concurrency=0,
        timeout_seconds=300,
    )
    return replace(base, **changes)


async def until(runtime: LocalRuntime, key: WorkloadKey, predicate: Any, timeout: float = 30.0) -> WorkloadStatus:
    return await status_until(runtime, key, predicate, timeout)


def get(status: WorkloadStatus, path: str) -> Any:
    endpoint = status.endpoints[0]
    with urllib.request.urlopen(f"http://{endpoint.host}:{endpoint.port}{path}", timeout=10) as response:
        return json.load(response)


# -- item 1: a spawn that raises is a failure, never a hang -------------------------------------


def spec_for(tmp_path: Path, argv: tuple[str, ...], env: dict[str, str]) -> InstanceSpec:
    return InstanceSpec(
        argv=argv,
        env=env,
        cwd=None,
        host="127.0.0.1",
        port=1,
        readiness=probes.ProbeSpec("tcp", "127.0.0.1", 1),
        liveness=None,
        grace=5.0,
        log_path=tmp_path / "logs" / "x.log",
    )


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        pytest.param(("/bin/true",), {"A": "x\0y"}, id="nul-in-env"),
        pytest.param(("/bin/true", "a\0b"), {}, id="nul-in-args"),
        pytest.param(("/bin/true", "\ud800"), {}, id="lone-surrogate"),
        pytest.param(("/bin/true",), {"A=B": "x"}, id="equals-in-env-name"),
    ],
)
async def test_a_spawn_that_raises_ends_the_instance_and_stop_returns(
    tmp_path: Path, argv: tuple[str, ...], env: dict[str, str]
) -> None:
    """Popen raises ValueError for these (only OSError was caught: the instance stayed "starting"
    for ever and ``stop()`` waited for a spawn that never came)."""
    changes: list[str] = []
    gone: list[Instance] = []

    class Recorder:
        def started(self, instance: Instance) -> None:
            raise AssertionError("no process should have started")

        def gone(self, instance: Instance) -> None:
            gone.append(instance)

        def probing(self, delta: int) -> int:
            raise AssertionError("nothing started, nothing to probe")

    spec = spec_for(tmp_path, argv, env)
    instance = Instance("x-1", spec, 1, tracker=Recorder(), on_change=lambda i: changes.append(i.state))
    instance.start()
    async with asyncio.timeout(10):
        await instance.wait()
        await instance.stop()
    assert instance.state == "exited" and changes == ["exited"] and gone == [instance]
    assert instance.exit_code == 128 and instance.start_error is not None
    assert instance.start_error.startswith(("ValueError", "UnicodeEncodeError"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"env": {"TARGET": "a\0b"}}, "env 'TARGET' holds a NUL byte", id="nul-in-env"),
        pytest.param(
            {"args": ("ok", "\udcff\ud800")},
            "args[1] holds a character no encoding can carry (a lone surrogate)",
            id="surrogate",
        ),
        pytest.param({"command": ("python3\0",)}, "command[0] holds a NUL byte", id="nul-in-command"),
        pytest.param({"env": {"A=B": "x"}}, "env name 'A=B' is not a variable name", id="bad-env-name"),
        pytest.param({"working_dir": "/srv\0"}, "workingDir holds a NUL byte", id="nul-in-working-dir"),
    ],
)
async def test_a_workload_no_process_can_be_given_is_a_permanent_failure(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    runtime = LocalRuntime(tmp_path / "data")
    try:
        bad = workload("bad-00001", **changes)
        async with asyncio.timeout(10):
            await runtime.ensure(bad, 1)
            status = await until(runtime, bad.key, lambda s: s.failure is not None)
            assert status.failure is not None
            assert status.failure.reason == "CreateContainerConfigError" and status.failure.permanent
            assert status.failure.message == f"The container cannot be started: {message}."
            await runtime.remove(bad.key)
    finally:
        async with asyncio.timeout(10):
            await runtime.close()


async def test_a_spec_that_cannot_be_made_is_reported_and_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = LocalRuntime(tmp_path / "data")
    real, calls = runtime.make_spec, []

    def flaky(w: Workload, instance_id: str, *, port: int | None = None) -> InstanceSpec:
        calls.append(instance_id)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real(w, instance_id, port=port)

    monkeypatch.setattr(runtime, "make_spec", flaky)
    good = workload("good-00001")
    try:
        await runtime.ensure(good, 1)
        failed = await until(runtime, good.key, lambda s: s.failure is not None)
        assert failed.failure is not None and failed.failure.reason == "CreateContainerError"
        assert failed.failure.message == "OSError: [Errno 28] No space left on device"
        await until(runtime, good.key, lambda s: s.ready == 1)  # after the back-off
    finally:
        await runtime.close()


# -- item 4: apps cannot reach the platform, nor each other -------------------------------------


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data dir outside the private /tmp (which would hide it anyway), as ~/.zeroserve is."""
    path = Path(tempfile.mkdtemp(prefix="zeroserve-test-", dir="/run" if os.access("/run", os.W_OK) else None))
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.fixture
async def isolated(data_dir: Path) -> AsyncIterator[LocalRuntime]:
    runtime = LocalRuntime(data_dir, isolation=Policy(), environ={**os.environ, "UP_SECRET": "s3cr3t"})
    try:
        yield runtime
    finally:
        await runtime.close()


def app_pid(monitor: int) -> int:
    """The app's host pid: the leaf under the instance's first process (bubblewrap's monitor)."""
    pid = monitor
    while children := Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        pid = int(children[0])
    return pid


@needs_sandbox
async def test_instances_run_as_users_of_their_revisions_in_a_sandbox(isolated: LocalRuntime) -> None:
    first, second = workload("one-00001"), workload("two-00001")
    await isolated.ensure(first, 1)
    await isolated.ensure(second, 1)
    one = get(await until(isolated, first.key, lambda s: s.ready == 1), "/whoami")
    two = get(await until(isolated, second.key, lambda s: s.ready == 1), "/whoami")
    for me in (one, two):
        assert isolation.UID_BASE <= me["uid"] < isolation.UID_BASE + isolation.UID_SLOTS
        assert me["gid"] == me["uid"] and me["groups"] == []
        assert me["pid"] == 2  # bubblewrap's init is 1: a PID namespace of its own
        assert set(me["env"]) == CONTRACT and me["env"]["HOME"] == "/"  # nothing of ours (UP_SECRET, TMPDIR...)
        assert me["sigterm_default"]  # the shell's ignored SIGTERM is not inherited
    assert one["uid"] != two["uid"]
    assert not isolated.status(first.key).warnings  # type: ignore[union-attr]
    monitor = isolated._deployments[first.key].instances[0].pid
    assert monitor is not None
    init = int(Path(f"/proc/{monitor}/task/{monitor}/children").read_text().split()[0])
    for root in (monitor, init):  # bubblewrap's own processes do not carry the app's environment
        assert b"K_REVISION" not in Path(f"/proc/{root}/environ").read_bytes()


@needs_sandbox
async def test_attacks_from_an_instance_fail(isolated: LocalRuntime, data_dir: Path) -> None:
    """Even with the data dir left open (0755, a 0644 token), the sandbox hides it."""
    data = data_dir
    data.chmod(0o755)
    for name in ("token", "zeroserve.db"):
        (data / name).write_text("the platform's secret")
        (data / name).chmod(0o644)
    victim = workload("victim-00001", env={"SECRET": "victim's secret"})
    spy = workload("spy-00001")
    await isolated.ensure(victim, 1)
    await isolated.ensure(spy, 1)
    await until(isolated, victim.key, lambda s: s.ready == 1)
    status = await until(isolated, spy.key, lambda s: s.ready == 1)
    monitor = isolated._deployments[victim.key].instances[0].pid
    assert monitor is not None
    target = app_pid(monitor)
    assert "victim's secret" in Path(f"/proc/{target}/environ").read_text()  # the right process
    query = f"data={data}&up={os.getpid()}&victim={target}&file=/tmp/secret-victim-00001"
    results = get(status, f"/attack?{query}")
    assert set(results) == {
        "token",
        "db",
        "parent_cmdline",
        "up_cmdline",
        "up_environ",
        "signal_victim",
        "victim_environ",
        "victim_file",
    }
    assert {name: outcome for name, outcome in results.items() if not outcome.startswith("denied")} == {}


@needs_sandbox
async def test_sigterm_reaches_the_sandboxed_app_and_it_ends_gracefully(tmp_path: Path) -> None:
    """bubblewrap's monitor gets the group's SIGTERM too: it must outlive it while the app cleans up."""
    code = (
        "import signal, sys, time\n"
        "def bye(*_):\n    time.sleep(0.3); print('graceful', flush=True); sys.exit(0)  # wait-ok: a slow cleanup\n"
        "signal.signal(signal.SIGTERM, bye)\nprint('ready', flush=True)\nsignal.pause()\n"
    )
    iso = Isolation(Policy(), SANDBOX, hidden=[tmp_path])
    # In the checkout: its venv's interpreter is there in the sandbox even when the checkout is in /tmp.
    jail = iso.jail(isolation.User(isolation.UID_BASE + 7, isolation.UID_BASE + 7), str(REPO))
    out = tmp_path / "out"
    with out.open("wb") as sink:
        argv = [sys.executable, "-c", code]
        child = spawn.spawn(argv, env={}, cwd=str(REPO), stdout=sink.fileno(), stderr=2, jail=jail)
    await eventually(lambda: "ready" in out.read_text(), timeout=30.0)
    os.killpg(child.pid, signal.SIGTERM)
    async with asyncio.timeout(10):
        assert await child.wait() == 0
    assert out.read_text().split() == ["ready", "graceful"]


@needs_sandbox
async def test_a_program_the_app_user_cannot_run_fails_at_once(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    program = closed / "app"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    user = isolation.User(isolation.UID_BASE + 7, isolation.UID_BASE + 7)
    jail = Isolation(Policy(), SANDBOX).jail(user, str(tmp_path))  # its working dir: there in the sandbox
    with pytest.raises(PermissionError, match=r"not executable by the app's user \(uid 1879048199\)"):
        spawn.spawn([str(program)], env={}, cwd=str(tmp_path), stdout=1, stderr=2, jail=jail)
    path = {"PATH": f"{closed}:{os.path.dirname(shutil.which('true') or '/bin/true')}"}
    assert spawn.resolve("true", path, "/", jail) == shutil.which("true", path=path["PATH"].split(":", 1)[1])


@needs_sandbox
async def test_a_program_the_sandbox_replaces_is_not_found_before_any_spawn(tmp_path: Path) -> None:
    """A program under the host's /tmp is not in the sandbox's own /tmp: said at once, not by a failed exec."""
    program = Path(tempfile.mkdtemp(dir="/tmp")) / "app"
    try:
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
        program.parent.chmod(0o755)
        jail = Isolation(Policy(), SANDBOX).jail(isolation.User(isolation.UID_BASE + 7, isolation.UID_BASE + 7), "/")
        assert jail is not None and not jail.shows(str(program)) and jail.shows("/usr/bin/env")
        with pytest.raises(FileNotFoundError, match=r"in the app's sandbox .* is in a directory it replaces"):
            spawn.spawn([str(program)], env={}, cwd="/", stdout=1, stderr=2, jail=jail)
    finally:
        shutil.rmtree(program.parent)


@needs_sandbox
async def test_run_as_non_root_with_uid_0_is_refused(isolated: LocalRuntime) -> None:
    refused = workload("root-00001", run_as_user=0, run_as_non_root=True)
    await isolated.ensure(refused, 1)
    status = await until(isolated, refused.key, lambda s: s.failure is not None)
    assert status.failure is not None and status.failure.permanent
    assert status.failure.reason == "CreateContainerConfigError"
    assert "runAsUser breaks non-root policy" in status.failure.message
    root = workload("root-00002", run_as_user=0)
    await isolated.ensure(root, 1)
    me = get(await until(isolated, root.key, lambda s: s.ready == 1), "/whoami")
    assert me["uid"] == 0 and me["pid"] == 2  # root when asked, in the sandbox all the same


@needs_sandbox
async def test_an_instance_stopped_while_its_sandbox_starts_ends_at_once(isolated: LocalRuntime) -> None:
    """A SIGTERM sent before the app runs its own code finds it still ignoring SIGTERM (as the monitor
    must): it would be lost and the stop would wait the whole grace. Then the group gets SIGKILL."""
    slow = workload("slow-00001", termination_grace_seconds=300)
    for _ in range(3):
        await isolated.ensure(slow, 1)
        async with asyncio.timeout(20):
            await isolated.remove(slow.key)


NOT_ROOT = """
import asyncio, json, logging, sys, urllib.request
from pathlib import Path
from zeroserve.runtime.base import Workload, WorkloadKey
from zeroserve.runtime.isolation import Policy
from zeroserve.runtime.local import LocalRuntime

logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

async def main():
    runtime = LocalRuntime(Path(sys.argv[1]), isolation=Policy(), subreaper=False)
    key = WorkloadKey("default", "plain-00001")
    workload = Workload(key, "plain", "plain", None, (sys.executable, sys.argv[2]), (), sys.argv[3], (), 8080,
                        None, None, 5, 0, 300, run_as_user=1000)
    changed = asyncio.Event()
    runtime.subscribe(lambda _key: changed.set())
    await runtime.ensure(workload, 1)
    while not (status := runtime.status(key)).ready:
        changed.clear()
        await asyncio.wait_for(changed.wait(), 30)
    endpoint = status.endpoints[0]
    with urllib.request.urlopen(f"http://{endpoint.host}:{endpoint.port}/whoami") as response:
        print(json.dumps({"warnings": status.warnings, "whoami": json.load(response)}), flush=True)
    await runtime.close()

asyncio.run(main())
"""


@pytest.mark.skipif(not SANDBOX.can_switch_users, reason="needs root, to run the runtime as another user")
async def test_without_root_instances_run_as_up_and_every_condition_says_so(data_dir: Path) -> None:
    """`up` run by an unprivileged user (65534 here): it cannot switch users; it says so once in the log
    and in the status every Revision's condition shows; the sandbox still works where user namespaces do."""
    os.chown(data_dir, isolation.NOBODY, isolation.NOBODY)
    process = await asyncio.create_subprocess_exec(
        SANDBOX.setpriv or "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
        sys.executable,
        "-c",
        NOT_ROOT,
        str(data_dir),
        ATTACKER,
        str(REPO),
        cwd=REPO,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    report = json.loads(out)
    not_root = "instances run as zeroserve up's own user (uid 65534), not as users of their own: it is not root."
    assert report["warnings"][-2:] == [not_root, "securityContext runAsUser 1000 not honoured."]
    assert err.decode().count(not_root) == 1  # once in the log
    assert report["whoami"]["uid"] == 65534
    if SANDBOX.bwrap is not None and not any("PID and mount namespaces" in w for w in report["warnings"]):
        assert report["whoami"]["pid"] == 2  # bubblewrap in a user namespace of its own


GRACEFUL = """
import http.server, os, signal, sys, time
server = http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), http.server.BaseHTTPRequestHandler)
def bye(*_):
    time.sleep(0.2)  # wait-ok: the app's cleanup takes a while; the test waits for its output
    print("graceful", flush=True)
    os._exit(0)
signal.signal(signal.SIGTERM, bye)
server.serve_forever()
"""


@needs_sandbox
async def test_a_ready_sandboxed_instance_gets_sigterm_and_its_grace(isolated: LocalRuntime, data_dir: Path) -> None:
    app = workload("term-00001", command=(sys.executable, "-c", GRACEFUL), termination_grace_seconds=30)
    await isolated.ensure(app, 1)
    await until(isolated, app.key, lambda s: s.ready == 1)
    # the log goes with the removed workload: read it through a handle opened before
    (log,) = (data_dir / "logs" / "default" / "term-00001").glob("*.log")
    with log.open() as handle:
        async with asyncio.timeout(10):
            await isolated.remove(app.key)
        assert handle.read() == "graceful\n"
    assert not log.exists()
