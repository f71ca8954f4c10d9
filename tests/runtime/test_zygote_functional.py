"""Instances forked from a per-revision zygote (``Workload.python_app``), real processes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.runtime.test_local_runtime_functional import KEY, Watch, dead
from tests.support.polling import eventually
from zeroserve.runtime import supervisor, zygote
from zeroserve.runtime.base import Workload
from zeroserve.runtime.local import LocalRuntime

APP = textwrap.dedent(
    """
    import json, os
    with open(os.path.join(os.environ["STATE_DIR"], "imports"), "a") as f:
        f.write(f"{os.getpid()}\\n")
    AT_IMPORT = {"PORT": os.environ.get("PORT"), "K_REVISION": os.environ.get("K_REVISION")}

    def application(environ, start_response):
        size = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.dumps({
            "pid": os.getpid(), "env": dict(os.environ), "at_import": AT_IMPORT,
            "echo": environ["wsgi.input"].read(size).decode(), "path": environ["PATH_INFO"],
        }).encode()
        start_response("200 OK", [("Content-Type", "application/json")])  # no length: chunked
        return [body]
    """
)


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "zapp.py").write_text(APP)
    (tmp_path / "state").mkdir()
    return tmp_path


def workload(app: Path, target: str = "zapp:application") -> Workload:
    return Workload(
        key=KEY,
        service="hello",
        configuration="hello-config",
        image=None,
        command=(sys.executable, "-c", "raise SystemExit('the command must not run')"),
        args=(),
        working_dir=str(app),
        env=(("STATE_DIR", str(app / "state")),),
        container_port=8080,
        readiness_probe=None,
        liveness_probe=None,
        termination_grace_seconds=5,
        container_concurrency=0,
        timeout_seconds=300,
        python_app=target,
    )


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    runtime = LocalRuntime(tmp_path / "data")
    yield runtime
    await runtime.close()


async def call(port: int, body: str = "") -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        for _ in range(2):  # two requests on one keep-alive connection
            async with session.post(f"http://127.0.0.1:{port}/x?y=1", data=body) as response:
                assert response.status == 200
                result: dict[str, Any] = json.loads(await response.read())
    return result


def imports(app: Path) -> list[str]:
    return (app / "state" / "imports").read_text().split()


async def test_scale_0_1_3_0_children_crash_and_zygote_death(runtime: LocalRuntime, app: Path) -> None:
    watch = Watch(runtime)
    await runtime.ensure(workload(app), 0)
    assert runtime.status(KEY) is not None and not (app / "state" / "imports").exists()  # nothing at zero
    await runtime.ensure(workload(app), 1)
    first = await watch.until(lambda s: s.ready == 1)
    reply = await call(first.endpoints[0].port, "hello")
    assert reply["echo"] == "hello" and reply["path"] == "/x"
    assert reply["env"]["PORT"] == str(first.endpoints[0].port)
    assert (reply["env"]["K_SERVICE"], reply["env"]["K_REVISION"]) == ("hello", "hello-00001")
    assert reply["at_import"]["K_REVISION"] == "hello-00001"

    await runtime.ensure(workload(app), 3)
    three = await watch.until(lambda s: s.ready == 3)
    replies = [await call(endpoint.port) for endpoint in three.endpoints]
    pids = {r["pid"] for r in replies}
    assert len(pids) == 3 and {r["env"]["PORT"] for r in replies} == {str(e.port) for e in three.endpoints}
    assert len(imports(app)) == 1  # one import, three forks
    zygote_pid = int(imports(app)[0])
    assert zygote_pid not in pids
    for pid in pids:  # each child leads a process group of its own, child of the zygote
        stat = supervisor.read_stat(pid)
        assert stat is not None and stat.ppid == zygote_pid and os.getpgid(pid) == pid
        if runtime.cgroups.available:
            assert any("-deployment-" in line for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines())

    victim, port = replies[0]["pid"], int(replies[0]["env"]["PORT"])  # a child crashes: restarted
    os.kill(victim, signal.SIGKILL)
    await eventually(lambda: dead(victim), 10)
    await watch.until(lambda s: port not in {e.port for e in s.endpoints}, 10)
    again = await watch.until(lambda s: s.ready == 3, 30)
    after = {(await call(e.port))["pid"] for e in again.endpoints}
    assert victim not in after and len(after) == 3 and len(imports(app)) == 1

    os.killpg(os.getpgid(zygote_pid), signal.SIGKILL)  # the zygote dies: its children with it, then restarted
    await eventually(lambda: all(dead(pid) for pid in after), 10)
    await watch.until(lambda s: s.ready == 0, 10)
    restarted = await watch.until(lambda s: s.ready == 3, 60)
    final = {(await call(e.port))["pid"] for e in restarted.endpoints}
    assert not final & after and len(imports(app)) == 2

    await runtime.ensure(workload(app), 0)
    await watch.until(lambda s: s.ready == 0 and not runtime.instances(KEY))
    await eventually(lambda: all(dead(pid) for pid in final), 10)
    assert not dead(int(imports(app)[1]))  # the zygote stays for the next scale-up
    await runtime.remove(KEY)
    await eventually(lambda: dead(int(imports(app)[1])), 10)


async def test_the_imports_output_goes_to_the_zygote_log_a_requests_to_the_instance_log(
    runtime: LocalRuntime, app: Path
) -> None:
    extra = "\nprint('imported', flush=True)\nimport sys\nprint('to stderr', file=sys.stderr)\n"
    extra += "inner = application\ndef application(e, s):\n    print('served', flush=True)\n    return inner(e, s)\n"
    (app / "zapp.py").write_text(APP + extra)
    watch = Watch(runtime)
    await runtime.ensure(workload(app), 1)
    status = await watch.until(lambda s: s.ready == 1)
    await call(status.endpoints[0].port)
    [instance] = runtime.instances(KEY)
    instance_log = runtime.data_dir / "logs" / KEY.path / f"{instance.name}.log"  # (a spare's may be there too)
    await runtime.ensure(workload(app), 0)
    await watch.until(lambda s: not runtime.instances(KEY))
    assert instance_log.read_text().count("served") == 2
    zygote_log = (runtime.data_dir / "logs" / KEY.path / "zygote.log").read_text()
    assert "imported" in zygote_log and "to stderr" in zygote_log


async def test_a_target_that_cannot_be_imported_is_a_failure_not_a_crash_of_up(
    runtime: LocalRuntime, app: Path
) -> None:
    watch = Watch(runtime)
    await runtime.ensure(workload(app, "nosuchmodule:application"), 1)
    status = await watch.until(lambda s: s.failure is not None, 30)
    assert status.failure is not None and "nosuchmodule" in status.failure.message
    assert "ModuleNotFoundError" in status.failure.message


async def test_an_import_that_starts_a_thread_is_refused(runtime: LocalRuntime, app: Path) -> None:
    (app / "threaded.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
        "application = None\n"
    )
    watch = Watch(runtime)
    await runtime.ensure(workload(app, "threaded:application"), 1)
    status = await watch.until(lambda s: s.failure is not None, 30)
    assert status.failure is not None and "started threads" in status.failure.message


def children_of(parent: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        stat = supervisor.read_stat(int(entry)) if entry.isdigit() else None
        if stat is not None and stat.ppid == parent and stat.state not in ("Z", "X"):
            found.add(int(entry))
    return found


def records(runtime: LocalRuntime) -> list[supervisor.InstanceRecord]:
    return supervisor.InstanceRecords(runtime.data_dir / "instances.jsonl").load()


def recorded_pids(runtime: LocalRuntime) -> set[int]:
    return {r.pid for r in records(runtime)}


def recorded_ids(runtime: LocalRuntime) -> set[str]:
    return {r.id for r in records(runtime)}


def spares(zygote_pid: int, serving: set[int]) -> set[int]:
    return children_of(zygote_pid) - serving


async def test_a_spare_is_forked_ahead_and_the_next_scale_up_starts_it(runtime: LocalRuntime, app: Path) -> None:
    watch = Watch(runtime)
    await runtime.ensure(workload(app), 1)
    first = await watch.until(lambda s: s.ready == 1)
    serving = {(await call(first.endpoints[0].port))["pid"]}
    zygote_pid = int(imports(app)[0])
    await eventually(lambda: len(spares(zygote_pid, serving)) == 1, 10)  # forked once the scale-up settled
    [spare] = spares(zygote_pid, serving)
    await eventually(lambda: spare in recorded_pids(runtime), 10)  # recorded: a crashed up's next start kills it
    if runtime.cgroups.available:  # in the cgroup of the instance it will be, already
        assert any("-deployment-" in line for line in Path(f"/proc/{spare}/cgroup").read_text().splitlines())

    await runtime.ensure(workload(app), 0)
    await watch.until(lambda s: not runtime.instances(KEY))
    assert spare in children_of(zygote_pid)  # the spare waits at zero too
    assert runtime.scale(KEY, 1)
    again = runtime.status(KEY)  # ready when the scale returns: the spare listened on its port already
    assert again is not None and again.ready == 1
    reply = await call(again.endpoints[0].port)
    assert reply["pid"] == spare and reply["env"]["PORT"] == str(again.endpoints[0].port)  # started, not forked
    assert reply["env"]["K_REVISION"] == "hello-00001" and len(imports(app)) == 1
    [instance] = runtime.instances(KEY)
    assert instance.name in recorded_ids(runtime)
    await eventually(lambda: len(spares(zygote_pid, {spare})) == 1, 10)  # and the next one is forked

    changed = workload(app)
    changed = replace(changed, env=(*changed.env, ("NEW", "1")))  # a new generation
    [old_spare] = spares(zygote_pid, {spare})
    await runtime.ensure(changed, 1)
    await eventually(lambda: dead(old_spare), 10)  # the old generation's spare goes with its zygote
    await eventually(lambda: len(imports(app)) == 2, 30)  # the new generation's zygote, forked from on the rollout
    await eventually(lambda: dead(spare), 30)  # which replaced the old generation's instance


LISTEN, ESTABLISHED = "0A", "01"


def tcp_sockets() -> list[tuple[int, str, int, str]]:
    """Each IPv4 TCP socket of ``/proc/net/tcp``: (local port, state, receive queue, inode); the
    receive queue of a listener is the connections waiting to be accepted, else the bytes unread."""
    return [
        (int(fields[1].rsplit(":", 1)[1], 16), fields[3], int(fields[4].split(":")[1], 16), fields[9])
        for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
    ]


def queued(port: int, state: str) -> list[int]:
    """The receive queue of each socket on local ``port`` in ``state``."""
    return [queue for local, st, queue, _ in tcp_sockets() if local == port and st == state]


def listening_port(pid: int) -> int:
    """The TCP port ``pid`` listens on (one: a spare's instance port), from ``/proc``."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    [port] = [local for local, state, _, inode in tcp_sockets() if state == LISTEN and inode in inodes]
    return port


async def test_a_connection_to_a_spare_is_served_once_it_is_the_instance(runtime: LocalRuntime, app: Path) -> None:
    served = "\ninner = application\ndef application(e, s):\n    print('served', flush=True)\n    return inner(e, s)\n"
    (app / "zapp.py").write_text(APP + served)
    watch = Watch(runtime)
    await runtime.ensure(workload(app), 1)
    first = await watch.until(lambda s: s.ready == 1)
    serving = {(await call(first.endpoints[0].port))["pid"]}
    await runtime.ensure(workload(app), 0)
    await watch.until(lambda s: not runtime.instances(KEY))
    zygote_pid = int(imports(app)[0])
    await eventually(lambda: len(spares(zygote_pid, serving)) == 1, 10)
    [spare] = spares(zygote_pid, serving)
    await eventually(lambda: spare in recorded_pids(runtime), 10)  # the runtime's spare now, not just forked
    port = listening_port(spare)
    request = b"GET /early HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(request)
        await eventually(lambda: queued(port, LISTEN) == [0], 10)  # its threads accept already
        # and hold it unread (so unanswered) until it is an instance: the proof, at no instant's mercy
        assert queued(port, ESTABLISHED) == [len(request)]
        assert runtime.scale(KEY, 1)
        conn.settimeout(10)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200 ") and f'"pid": {spare},'.encode() in reply
    assert f'"PORT": "{port}"'.encode() in reply and b'"path": "/early"' in reply
    [instance] = runtime.instances(KEY)
    [log] = (runtime.data_dir / "logs" / KEY.path).glob(f"{instance.name}*.log")
    await eventually(lambda: log.read_text().count("served") == 1, 10)  # with its log pipe in place
    assert "served" not in (runtime.data_dir / "logs" / KEY.path / "zygote.log").read_text()


def exited_unreaped(pid: int) -> bool:
    """``pid`` has exited, all its threads too, and waits for its parent to reap it."""
    stat = supervisor.read_stat(pid)
    return stat is not None and stat.state == "Z" and os.listdir(f"/proc/{pid}/task") == [str(pid)]


async def test_a_dead_spare_is_not_started_the_scale_up_forks(runtime: LocalRuntime, app: Path) -> None:
    watch = Watch(runtime)
    await runtime.ensure(workload(app), 1)
    first = await watch.until(lambda s: s.ready == 1)
    serving = {(await call(first.endpoints[0].port))["pid"]}
    zygote_pid = int(imports(app)[0])
    await eventually(lambda: len(spares(zygote_pid, serving)) == 1, 10)
    [spare] = spares(zygote_pid, serving)
    await runtime.ensure(workload(app), 0)
    await watch.until(lambda s: not runtime.instances(KEY))
    os.kill(zygote_pid, signal.SIGSTOP)  # the zygote neither reaps it nor says it exited
    try:
        os.kill(spare, signal.SIGKILL)
        await eventually(lambda: exited_unreaped(spare), 10)  # a zombie, every thread gone
        await runtime.ensure(workload(app), 1)
    finally:
        os.kill(zygote_pid, signal.SIGCONT)
    again = await watch.until(lambda s: s.ready == 1)
    reply = await call(again.endpoints[0].port)
    assert reply["pid"] != spare and reply["env"]["PORT"] == str(again.endpoints[0].port)
    assert not runtime.status(KEY).failure  # type: ignore[union-attr]


async def test_scale_sets_the_replicas_of_what_runs(runtime: LocalRuntime, app: Path) -> None:
    watch = Watch(runtime)
    assert runtime.scale(KEY, 1) is False and runtime.status(KEY) is None  # nothing to scale yet
    await runtime.ensure(workload(app), 0)
    assert runtime.scale(KEY, 2) is True
    assert runtime.status(KEY) is not None and runtime.status(KEY).desired == 2  # type: ignore[union-attr]
    await watch.until(lambda s: s.ready == 2)
    assert runtime.workload(KEY) == workload(app)
    assert runtime.scale(KEY, 0) is True
    await watch.until(lambda s: s.ready == 0 and not runtime.instances(KEY))


def bare_zygote(app: Path) -> zygote.Zygote:
    """A zygote of the test app without a runtime around it (no sandbox, no cgroups)."""
    spec = zygote.ZygoteSpec(
        target="zapp:application",
        python=sys.executable,
        env={"STATE_DIR": str(app / "state")},
        cwd=str(app),
        jail=None,
        log_path=app / "zygote.log",
        owner="default/hello-00001",
    )
    return zygote.Zygote(spec, started=lambda pid: None, gone=lambda pid: None)


def control_queue_capacity() -> int:
    """How many fork requests (with their socket) a fresh control socket takes before EAGAIN."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sent, passed = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours, theirs, sent, passed:
        ours.setblocking(False)
        request = json.dumps({"id": "hello-00001-deployment-0123456789-abcde", "host": "127.0.0.1", "port": 0})
        count = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                socket.send_fds(ours, [request.encode()], [passed.fileno()])
                count += 1
        return count


async def test_more_forks_at_once_than_the_control_queue_holds_all_get_made(app: Path) -> None:
    """The zygote's control socket holds as many fork requests as its send buffer does (~280 with
    the kernel's default 208 KiB): more asked for at once (a scale-up by more) wait for room, none
    fails with BlockingIOError."""
    forks = control_queue_capacity() + 8
    forker = bare_zygote(app)
    try:
        (await forker.prepare("first", (), "127.0.0.1", 0)).discard()  # port 0: any free one
        assert forker.pid is not None
        os.kill(forker.pid, signal.SIGSTOP)  # it reads nothing: the requests stay queued on its socket
        try:
            asked = [asyncio.ensure_future(forker.prepare(f"i-{n}", (), "127.0.0.1", 0)) for n in range(forks)]
            for _ in range(2 * forks):  # every request sent, or waiting for room
                await asyncio.sleep(0)  # wait-ok: a turn of the loop, no clock (the zygote is stopped)
            assert not any(task.done() for task in asked)  # none failed
        finally:
            os.kill(forker.pid, signal.SIGCONT)
        spares = await asyncio.gather(*asked)
        assert len({spare.pid for spare in spares}) == forks and all(spare.alive() for spare in spares)
        for spare in spares:
            spare.discard()
    finally:
        await forker.close()


async def test_a_spares_log_opened_ahead_goes_with_it_or_is_its_instances(app: Path) -> None:
    forker = bare_zygote(app)
    logs = app / "logs"
    try:
        dropped = await forker.prepare("dropped", (), "127.0.0.1", 0)
        dropped.open_log(logs / "dropped.log")
        assert (logs / "dropped.log").exists()
        dropped.discard()
        assert not (logs / "dropped.log").exists()  # no log of an instance that never was

        spare = await forker.prepare("kept", (), "127.0.0.1", 0)
        spare.open_log(logs / "kept.log")
        assert spare.take_log(logs / "other.log") is None  # another file: this one goes
        assert not (logs / "kept.log").exists()
        spare.open_log(logs / "kept.log")
        log = spare.take_log(logs / "kept.log")
        assert log is not None and log.path == logs / "kept.log"
        spare.discard()
        log.write(b"the instance's\n")
        log.close()
        assert (logs / "kept.log").read_bytes() == b"the instance's\n"  # taken: the spare leaves it
    finally:
        await forker.close()


@contextlib.contextmanager
def open_files_soft_limit(at_least: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(soft, at_least) if hard == resource.RLIM_INFINITY else max(soft, min(at_least, hard))
    assert wanted >= at_least, f"the hard limit of open files ({hard}) is below {at_least}"
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_a_zygote_keeps_forking_past_a_thousand_descriptors(app: Path) -> None:
    """It holds two descriptors per child (a pidfd, a socket): 520 children pass FD_SETSIZE (1,024),
    where a zygote waiting with select() raised and died, and every instance with it."""
    with open_files_soft_limit(4096):
        forker = bare_zygote(app)
        spares: list[zygote.Spare] = []
        try:
            for n in range(520):
                spares.append(await forker.prepare(f"i-{n}", (), "127.0.0.1", 0))
            assert forker.running and all(spare.alive() for spare in spares)
            spares.pop().discard()  # a child exits: the zygote reaps it (its pidfd is one of the high ones)
            spares.append(await forker.prepare("after", (), "127.0.0.1", 0))
            assert forker.running and spares[-1].alive()
        finally:
            for spare in spares:
                spare.discard()
            await forker.close()


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


async def test_connections_at_once_each_get_a_thread_and_at_most_eight_stay_idle(
    runtime: LocalRuntime, app: Path
) -> None:
    watch = Watch(runtime)
    await runtime.ensure(workload(app), 1)
    status = await watch.until(lambda s: s.ready == 1)
    port = status.endpoints[0].port
    pid = (await call(port))["pid"]
    for _ in range(2):  # the second round is served by the first round's idle threads
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

            async def one(session: aiohttp.ClientSession = session) -> int:
                async with session.get(f"http://127.0.0.1:{port}/") as response:
                    await response.read()
                    return response.status

            assert await asyncio.gather(*(one() for _ in range(12))) == [200] * 12
            assert threads_of(pid) >= 12  # each open keep-alive connection has its thread
        # closed: the threads that served them wait for the next connection, eight at most
        await eventually(lambda: threads_of(pid) <= 1 + 8, 10)
    assert (await call(port))["pid"] == pid
