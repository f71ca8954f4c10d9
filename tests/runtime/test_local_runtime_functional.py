"""LocalRuntime against real processes on 127.0.0.1 (a stdlib http.server app)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.polling import eventually
from zeroserve.api.podspec import HTTPGetAction, HTTPHeader, Probe
from zeroserve.runtime import supervisor
from zeroserve.runtime.base import Workload, WorkloadKey, WorkloadStatus
from zeroserve.runtime.local import IMAGE_NOT_SUPPORTED, LocalRuntime

APP = textwrap.dedent(
    """
    import http.server, json, os, signal, subprocess, sys

    state = os.environ["STATE_DIR"]

    def note(name, text=""):
        with open(os.path.join(state, name), "a") as f:
            f.write(text)

    note("started", f"{os.getpid()}\\n")
    if os.environ.get("CRASH_FIRST") and not os.path.exists(os.path.join(state, "crashed")):
        note("crashed")
        print("boom: the first start always fails", file=sys.stderr, flush=True)
        sys.exit(3)
    if "EXIT_CODE" in os.environ:
        print("going down", flush=True)
        sys.exit(int(os.environ["EXIT_CODE"]))
    on_term = os.environ.get("ON_TERM")
    if on_term:
        def handler(signum, frame):
            note("term")
            if on_term == "exit":
                os._exit(0)
        signal.signal(signal.SIGTERM, handler)
    if os.environ.get("GRANDCHILD"):
        child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
        note("grandchild", str(child.pid))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/healthz":
                note("probes", (self.headers.get("X-Probe") or "-") + "\\n")
                ok = os.path.exists(os.path.join(state, "healthy"))
                self.send_response(200 if ok else 503)
                self.end_headers()
                return
            body = json.dumps({"env": dict(os.environ), "argv": sys.argv}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ["PORT"])
    print(f"serving on {port}", flush=True)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
    """
)

KEY = WorkloadKey("default", "hello-00001")


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "app.py"
    path.write_text(APP)
    (tmp_path / "state").mkdir()
    return path


def workload(app: Path, *, env: dict[str, str] | None = None, **changes: Any) -> Workload:
    base = Workload(
        key=KEY,
        service="hello",
        configuration="hello-config",
        image=None,
        command=(sys.executable, str(app)),
        args=("$(PORT)",),
        working_dir=str(app.parent),
        env=tuple({"STATE_DIR": str(app.parent / "state"), **(env or {})}.items()),
        container_port=8080,
        readiness_probe=None,
        liveness_probe=None,
        termination_grace_seconds=5,
        container_concurrency=0,
        timeout_seconds=300,
    )
    return replace(base, **changes)


class Watch:
    """Waits, with a deadline, for a runtime status to satisfy a predicate (woken by subscribe)."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.changed = asyncio.Event()
        self.seen: list[WorkloadStatus | None] = []
        runtime.subscribe(self._on_change)

    def _on_change(self, key: WorkloadKey) -> None:
        self.seen.append(self.runtime.status(key))
        self.changed.set()

    async def until(self, predicate: Callable[[WorkloadStatus], bool], timeout: float = 30.0) -> WorkloadStatus:
        async with asyncio.timeout(timeout):
            while True:
                self.changed.clear()
                status = self.runtime.status(KEY)
                if status is not None and predicate(status):
                    return status
                await self.changed.wait()


def dead(pid: int) -> bool:
    stat = supervisor.read_stat(pid)
    return stat is None or stat.state in ("Z", "X")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    runtime = LocalRuntime(tmp_path / "data")
    yield runtime
    await runtime.close()


@pytest.fixture
def watch(runtime: LocalRuntime) -> Watch:
    return Watch(runtime)


async def get_json(port: int, path: str = "/") -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as response:
        assert response.status == 200
        result: dict[str, Any] = await response.json(content_type=None)
        return result


def state(app: Path, name: str) -> Path:
    return app.parent / "state" / name


async def test_app_gets_port_and_knative_env(
    runtime: LocalRuntime, watch: Watch, app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZEROSERVE_TOKEN", "do-not-leak")
    monkeypatch.setenv("HOME", "/home/tester")
    isolated = LocalRuntime(app.parent / "data2")  # reads os.environ as it is now
    try:
        isolated_watch = Watch(isolated)
        await isolated.ensure(workload(app, env={"GREETING": "hi $(HOME)"}), 1)
        status = await isolated_watch.until(lambda s: s.ready == 1)
        port = status.endpoints[0].port
        assert status.endpoints[0].host == "127.0.0.1"
        reply = await get_json(port)
    finally:
        await isolated.close()
    env = reply["env"]
    assert reply["argv"][1:] == [str(port)]  # $(PORT) expanded in args
    assert env["PORT"] == str(port)
    assert (env["K_SERVICE"], env["K_CONFIGURATION"], env["K_REVISION"]) == ("hello", "hello-config", "hello-00001")
    assert env["GREETING"] == "hi /home/tester"
    assert "ZEROSERVE_TOKEN" not in env
    allowed = {"PATH", "HOME", "LANG", "TMPDIR", "STATE_DIR", "GREETING", "PORT", "K_SERVICE", "K_CONFIGURATION"}
    allowed |= {"K_REVISION", "LC_CTYPE"}  # LC_CTYPE: Python's own locale coercion in the child
    assert set(env) <= allowed


async def test_two_replicas_two_endpoints_and_idempotent_ensure(runtime: LocalRuntime, watch: Watch, app: Path) -> None:
    await runtime.ensure(workload(app), 2)
    status = await watch.until(lambda s: s.ready == 2)
    ports = {endpoint.port for endpoint in status.endpoints}
    assert len(ports) == 2
    assert set(runtime.ready_endpoints(KEY)) == set(status.endpoints)  # what the autoscaler scrapes
    assert runtime.ready_endpoints(dataclasses.replace(KEY, revision="other")) == ()
    assert runtime.serving() == [(KEY.namespace, KEY.revision)]  # the scrape round's list
    for port in ports:
        assert (await get_json(port))["env"]["PORT"] == str(port)
    notifications = len(watch.seen)
    await runtime.ensure(workload(app), 2)
    assert len(watch.seen) == notifications
    assert len(state(app, "started").read_text().split()) == 2
    assert runtime.keys() == [KEY]
    assert status.desired == 2 and status.failure is None and status.warnings == ()
    records = supervisor.InstanceRecords(runtime.data_dir / "instances.jsonl").load()
    assert sorted(record.pid for record in records) == sorted(map(int, state(app, "started").read_text().split()))


async def test_changed_workload_replaces_instances(runtime: LocalRuntime, watch: Watch, app: Path) -> None:
    await runtime.ensure(workload(app, env={"VERSION": "1"}), 1)
    old = (await watch.until(lambda s: s.ready == 1)).endpoints[0]
    await runtime.ensure(workload(app, env={"VERSION": "2"}), 1)
    status = await watch.until(lambda s: s.ready == 1 and s.endpoints[0] != old)
    assert (await get_json(status.endpoints[0].port))["env"]["VERSION"] == "2"
    # the old instance kept serving until the new one was ready: never a moment with nothing ready
    ready_counts = [s.ready for s in watch.seen if s is not None]
    assert 0 not in ready_counts[ready_counts.index(1) :]


async def test_scale_to_zero_sends_sigterm(runtime: LocalRuntime, watch: Watch, app: Path) -> None:
    await runtime.ensure(workload(app, env={"ON_TERM": "exit"}), 1)
    await watch.until(lambda s: s.ready == 1)
    pid = int(state(app, "started").read_text())
    await runtime.ensure(workload(app, env={"ON_TERM": "exit"}), 0)
    await watch.until(lambda s: s.ready == 0)
    assert runtime.serving() == []
    await eventually(lambda: dead(pid), timeout=30.0)
    assert state(app, "term").exists()
    assert runtime.status(KEY) == WorkloadStatus(desired=0)


async def test_sigkill_after_grace_for_an_app_ignoring_sigterm(runtime: LocalRuntime, watch: Watch, app: Path) -> None:
    wl = workload(app, env={"ON_TERM": "ignore"}, termination_grace_seconds=1)
    await runtime.ensure(wl, 1)
    await watch.until(lambda s: s.ready == 1)
    pid = int(state(app, "started").read_text())
    await runtime.remove(KEY)  # returns once the instance is gone
    assert state(app, "term").exists()  # it got SIGTERM, ignored it...
    assert dead(pid)  # ...and was killed
    assert runtime.status(KEY) is None
    assert runtime.keys() == []


async def test_crash_reports_exit_code_with_log_tail_then_recovers(
    runtime: LocalRuntime, watch: Watch, app: Path
) -> None:
    await runtime.ensure(workload(app, env={"CRASH_FIRST": "1"}), 1)
    failed = await watch.until(lambda s: s.failure is not None)
    assert failed.failure is not None
    assert failed.failure.reason == "ExitCode3"
    assert failed.failure.message == "boom: the first start always fails"
    assert not failed.failure.permanent
    recovered = await watch.until(lambda s: s.ready == 1)
    assert recovered.failure is None
    assert len(state(app, "started").read_text().split()) == 2
    logs = sorted((runtime.data_dir / "logs" / "default" / "hello-00001").iterdir())
    assert len(logs) == 2
    assert any("boom" in log.read_text() for log in logs)


async def test_clean_exit_is_a_failure_too(runtime: LocalRuntime, watch: Watch, app: Path) -> None:
    await runtime.ensure(workload(app, env={"EXIT_CODE": "0"}), 1)
    status = await watch.until(lambda s: s.failure is not None)
    assert status.failure is not None
    assert (status.failure.reason, status.failure.message) == ("ExitCode0", "")
    await eventually(
        lambda: len(state(app, "started").read_text().split()) >= 2, timeout=30.0
    )  # restarted after back-off


async def test_missing_executable_fails_with_exit_code_128(runtime: LocalRuntime, watch: Watch, app: Path) -> None:
    await runtime.ensure(workload(app, command=("/nonexistent/zeroserve-app",)), 1)
    status = await watch.until(lambda s: s.failure is not None)
    assert status.failure is not None
    assert status.failure.reason == "ExitCode128"
    assert "FileNotFoundError" in status.failure.message


async def test_image_only_workload_fails_permanently(runtime: LocalRuntime, watch: Watch, app: Path) -> None:
    await runtime.ensure(workload(app, command=(), image="ghcr.io/knative/helloworld-go", cpu_limit="1"), 1)
    status = runtime.status(KEY)
    assert status is not None
    assert status.failure is not None
    assert status.failure.reason == IMAGE_NOT_SUPPORTED
    assert status.failure.permanent
    assert "give the container a command" in status.failure.message
    assert status.ready == 0 and status.desired == 1
    if runtime.cgroups.available:
        assert status.warnings == ()
    else:
        assert status.warnings == (f"cpu/memory limits not enforced: {runtime.cgroups.reason} (cpu=1)",)
    assert not (runtime.data_dir / "logs").exists()


async def test_http_get_readiness(runtime: LocalRuntime, watch: Watch, app: Path) -> None:
    probe = Probe(http_get=HTTPGetAction(path="/healthz", http_headers=[HTTPHeader(name="X-Probe", value="rt")]))
    await runtime.ensure(workload(app, readiness_probe=probe), 1)
    await eventually(
        lambda: state(app, "probes").exists() and len(state(app, "probes").read_text().split()) >= 3, timeout=30.0
    )
    status = runtime.status(KEY)
    assert status is not None and status.ready == 0  # probed three times, 503 each time
    state(app, "healthy").touch()
    await watch.until(lambda s: s.ready == 1)
    assert set(state(app, "probes").read_text().split()) == {"rt"}


async def test_failing_liveness_probe_restarts(runtime: LocalRuntime, watch: Watch, app: Path) -> None:
    liveness = Probe(http_get=HTTPGetAction(path="/healthz"), period_seconds=1, failure_threshold=1)
    await runtime.ensure(workload(app, liveness_probe=liveness, termination_grace_seconds=1), 1)
    status = await watch.until(lambda s: s.failure is not None)
    assert status.failure is not None
    assert status.failure.reason in ("ExitCode143", "ExitCode137")
    assert status.failure.message.startswith("liveness probe failed")


async def test_changes_of_a_key_within_one_loop_turn_are_told_at_once_then_once_more(
    runtime: LocalRuntime, watch: Watch, app: Path
) -> None:
    await runtime.ensure(workload(app), 1)
    await watch.until(lambda s: s.ready == 1)
    await asyncio.sleep(0)  # wait-ok: one turn of the loop, no time: the turn that told of the readiness ends
    told: list[int] = []
    runtime.subscribe(lambda key: told.append(status.desired if (status := runtime.status(key)) else -1))
    # Three changes in one turn (a burst of instances becoming ready is many such changes): the
    # first is told before scale returns, the last when the turn's callbacks have run, the middle
    # one never (each telling lists every instance to every subscriber: n changes cost n^2).
    assert runtime.scale(KEY, 2) and runtime.scale(KEY, 3) and runtime.scale(KEY, 4)
    assert told == [2]
    await eventually(lambda: len(told) >= 2, 10)  # the turn's end
    assert told[:2] == [2, 4]
    status = await watch.until(lambda s: s.ready == 4)
    assert told[-1] == 4 and status.desired == 4 and 3 not in told  # the middle change was never told


SUPERVISOR = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from zeroserve.runtime.base import Workload, WorkloadKey
    from zeroserve.runtime.local import LocalRuntime

    async def main():
        runtime = LocalRuntime(Path(sys.argv[1]))
        ready = asyncio.Event()
        key = WorkloadKey("default", "hello-00001")
        runtime.subscribe(lambda k: runtime.status(k).ready and ready.set())
        await runtime.ensure(Workload(
            key=key, service="s", configuration="c", image=None,
            command=(sys.executable, sys.argv[2]), args=(), working_dir=None,
            env=(("STATE_DIR", sys.argv[3]), ("GRANDCHILD", "1")), container_port=8080,
            readiness_probe=None, liveness_probe=None, termination_grace_seconds=5,
            container_concurrency=0, timeout_seconds=300), 1)
        await ready.wait()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def test_instances_die_with_a_sigkilled_supervisor(tmp_path: Path, app: Path) -> None:
    script = tmp_path / "supervisor.py"
    script.write_text(SUPERVISOR)
    data = tmp_path / "sup-data"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(data), str(app), str(app.parent / "state"), stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    async with asyncio.timeout(30):
        assert await process.stdout.readline() == b"ready\n"
    instance = int(state(app, "started").read_text())
    await eventually(
        lambda: state(app, "grandchild").exists() and state(app, "grandchild").read_text() != "", timeout=30.0
    )
    grandchild = int(state(app, "grandchild").read_text())
    assert not dead(instance) and not dead(grandchild)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    await eventually(lambda: dead(instance) and dead(grandchild), timeout=30.0)
    for pid in (instance, grandchild):  # they may have been re-parented to us (subreaper): reap them
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    # the record of the dead supervisor is still there; a new runtime finds nothing left to kill
    records = supervisor.InstanceRecords(data / "instances.jsonl")
    assert [record.pid for record in records.load()] == [instance]
    await LocalRuntime(data).close()
    assert records.load() == [] and (data / "instances.jsonl").read_text() == ""


async def test_new_runtime_kills_leftovers_from_its_record(tmp_path: Path) -> None:
    leftover = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"], start_new_session=True)
    try:
        stat = supervisor.read_stat(leftover.pid)
        assert stat is not None
        records = supervisor.InstanceRecords(tmp_path / "instances.jsonl")
        records.add(supervisor.InstanceRecord("hello-00001-abc", "default/hello-00001", leftover.pid, stat.start_ticks))
        runtime = LocalRuntime(tmp_path)
        await eventually(lambda: leftover.poll() is not None, timeout=30.0)
        assert leftover.returncode == -signal.SIGKILL
        await runtime.close()
    finally:
        leftover.kill()
        leftover.wait()


async def test_readiness_flips_with_the_probe_after_ready(runtime: LocalRuntime, watch: Watch, app: Path) -> None:
    probe = Probe(http_get=HTTPGetAction(path="/healthz"), period_seconds=1, failure_threshold=1)
    state(app, "healthy").touch()
    await runtime.ensure(workload(app, readiness_probe=probe), 1)
    await watch.until(lambda s: s.ready == 1)
    state(app, "healthy").unlink()
    unready = await watch.until(lambda s: s.ready == 0)
    assert unready.failure is None and unready.endpoints == ()
    state(app, "healthy").touch()
    await watch.until(lambda s: s.ready == 1)
    assert len(state(app, "started").read_text().split()) == 1  # the same instance throughout


async def test_scale_down_keeps_the_rest_serving(runtime: LocalRuntime, watch: Watch, app: Path) -> None:
    await runtime.ensure(workload(app), 3)
    before = await watch.until(lambda s: s.ready == 3)
    await runtime.ensure(workload(app), 1)
    after = await watch.until(lambda s: s.ready == 1)
    assert set(after.endpoints) < set(before.endpoints)
    assert (await get_json(after.endpoints[0].port))["env"]["PORT"] == str(after.endpoints[0].port)


async def test_removed_workload_takes_its_logs_and_close_keeps_them(
    runtime: LocalRuntime, watch: Watch, app: Path
) -> None:
    """A deleted Revision's logs go with it (as a pod's); `up` stopping keeps them for the next."""
    log_dir = runtime.data_dir / "logs" / KEY.path
    await runtime.ensure(workload(app), 1)
    await watch.until(lambda s: s.ready == 1)
    assert list(log_dir.iterdir())
    await runtime.remove(KEY)
    assert not log_dir.exists()
    kept = LocalRuntime(app.parent / "data2")
    try:
        await kept.ensure(workload(app), 1)
        await Watch(kept).until(lambda s: s.ready == 1)
    finally:
        await kept.close()
    assert list((kept.data_dir / "logs" / KEY.path).iterdir())
