"""Per-revision zygotes: instances of a Python app forked from a process that imported it already.

A revision annotated ``zeroserve.dev/python-app: "MODULE:CALLABLE"`` (a WSGI callable, or an ASGI one
where uvicorn is installed) whose instances are plain processes (no image, no other containers, no
volumes) gets one zygote per revision: a Python process started like an instance (the revision's
user, its bubblewrap sandbox, its working directory, the environment of an instance) that imports
``MODULE`` once, with no thread and no event loop, and then forks an instance whenever the runtime
wants one (:mod:`.zygote_main` is its program). A forked instance is an :class:`~.process.Instance`
like any other: its own process group, its log, its own cgroup (the runtime moves it there before
it binds), the contract's ``PORT`` and ``K_*`` in ``os.environ``, readiness and liveness probes,
the drain, SIGTERM and the grace, the restart when it crashes, its pod in the mirror.

What differs, and what an app must know:

* module-level code runs once, in the zygote: what it reads of the environment at import is the
  zygote's. ``K_SERVICE``, ``K_CONFIGURATION``, ``K_REVISION`` and the revision's env are the same
  for every instance, but ``PORT`` at import is not the instance's port (the server binds it; read
  ``os.environ`` in a request if the app needs it), nor is anything per instance (the downward API's
  pod name). Start threads, pools and connections lazily (the zygote refuses an import that started a
  thread: a forked child would inherit its locks, never the thread);
* the instances of a revision share the zygote's sandbox (one PID namespace, one private ``/tmp``):
  they can see and signal each other, and when the zygote dies they all die with it (the runtime
  restarts them, with a new zygote, as crashed instances);
* an app that starts its own server under ``if __name__ == "__main__"`` is not served this way:
  leave the annotation off and it runs its command as before.

The protocol (SOCK_SEQPACKET, see :mod:`.zygote_main`): the zygote says ``ready KIND`` or ``error
TEXT``; a fork request (the instance's host and port) carries a socket of the child's own, on which
the child sends its pid (``SCM_CREDENTIALS``: translated into our PID namespace by the kernel), says
``listening`` once it listens on the port (or ``error TEXT``), gets its instance (env and the log
pipe) once it is in its cgroup, and the zygote says ``exit CODE`` when it reaped it. The two halves
are :meth:`Zygote.prepare` (fork, listen, cgroup: a :class:`Spare`) and :meth:`Spare.start`; the
runtime keeps one spare per forkable revision, prepared ahead, so that a scale-up is only the second
half, which waits for nothing: the port listens already (the default TCP readiness holds), so the
instance is ready the moment it is made, and a request sent to it waits in the listen backlog for
the child's first ``accept`` (the first ``cgroup.procs`` write of a move costs 6-16 ms on a host whose
cgroups do not favour dynamic changes, 0.1 ms on one that does: :func:`.cgroups.favor_dynmods`; the
fork 1-3 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import signal
import socket
import struct
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from zeroserve.runtime import cgroups, isolation, spawn
from zeroserve.runtime.base import PYTHON_APP_ANNOTATION
from zeroserve.runtime.logs import LogFile, open_private

logger = logging.getLogger(__name__)

ANNOTATION = PYTHON_APP_ANNOTATION
PROGRAM = Path(__file__).with_name("zygote_main.py")
START_TIMEOUT = 60.0
"""How long the zygote may take to import the app."""
FORK_TIMEOUT = 10.0
"""How long a forked child may take to report its pid and to bind."""
CREDENTIALS = struct.calcsize("3i")


class ZygoteFailed(Exception):
    """The zygote could not import the app (or died before it was ready)."""


def parse_target(value: str) -> str | None:
    """Why ``value`` is not ``MODULE:CALLABLE`` (pure), None when it is."""
    module, sep, attr = value.partition(":")
    names = [*module.split("."), *attr.split(".")]
    if not sep or not module or not attr or not all(n.isidentifier() for n in names):
        return f'{ANNOTATION}: {value!r} is not "module:callable" (e.g. "app:application")'
    return None


def python_of(argv: tuple[str, ...]) -> str:
    """The interpreter the app's command names (``python3 app.py``), else ours."""
    if argv and os.path.basename(argv[0]).startswith("python"):
        return argv[0]
    return sys.executable


@dataclass(frozen=True)
class ZygoteSpec:
    target: str
    python: str
    env: Mapping[str, str]
    cwd: str | None
    jail: isolation.Jail | None
    log_path: Path
    owner: str


class ForkedChild:
    """An instance forked by a zygote (the :class:`~.spawn.Child` interface: ``pid``, ``wait``)."""

    def __init__(self, pid: int, own: socket.socket) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._own = own
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._watch(), name=f"zygote child {pid}")

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    async def _watch(self) -> None:
        """``exit CODE`` from the zygote, or EOF (the zygote died: so did the child), then the pid gone."""
        code = -signal.SIGKILL
        try:
            message = await _recv(self._own)
            if message.startswith(b"exit "):
                code = int(message[5:])
        except (OSError, ValueError):
            pass
        finally:
            self._own.close()
        with contextlib.suppress(OSError):
            await _gone(self.pid)
        self.returncode = code
        self._exited.set_result(code)


class Spare:
    """A forked child listening on its instance's ``host:port``, waiting for its instance: its pid,
    in its cgroups already (``cgroup``, the runtime's), its own socket. :meth:`start` makes it the
    instance, :meth:`discard` kills it."""

    def __init__(self, instance_id: str, pid: int, own: socket.socket, port: int) -> None:
        self.id = instance_id
        self.pid = pid
        self.port = port
        self._own = own
        self._pidfd = os.pidfd_open(pid)  # ProcessLookupError: dead already
        self._watch = select.poll()
        """Its socket and its pidfd: either readable, it is gone (:meth:`alive`, one syscall)."""
        self._watch.register(own.fileno(), select.POLLIN)
        self._watch.register(self._pidfd, select.POLLIN)
        self.cgroup: cgroups.InstanceCgroup | None = None
        self.generation = 0
        self.start_ticks = 0
        """When it started (``/proc/PID/stat``), read once it is forked (the runtime's)."""
        self._env: dict[str, str] | None = None
        self._log: LogFile | None = None
        """Its instance's log, opened ahead (:meth:`open_log`); the instance takes it when started."""

    def open_log(self, path: Path) -> None:
        """Open (create) its instance's log now: a file made on ext4 took ~0.15 ms of the cold start
        that starts it, where the instance would open it. It goes (empty) if the spare does."""
        self._log = LogFile(path)

    def take_log(self, path: Path) -> LogFile | None:
        """The log opened ahead for ``path``, now the instance's (None: none, or another file)."""
        log, self._log = self._log, None
        if log is not None and log.path != path:
            _drop_log(log)
            return None
        return log

    def prepare_env(self, env: Mapping[str, str]) -> None:
        """Send it its instance's environment ahead (it takes it while it waits): :meth:`start` with the
        same one then sends only the log pipe."""
        self._env = dict(env)
        try:
            self._own.send(json.dumps({"env": self._env}).encode())
        except OSError:  # dead: the scale-up finds it so (alive) and forks
            self._env = None

    def alive(self) -> bool:
        """Still waiting: nothing came on its socket (``exit CODE`` when it died, EOF with the zygote)
        and its process runs (the zygote reaps a child before it sends its ``exit``: in between, its
        pidfd says it is gone). One ``poll`` of both: the scale-up that starts it asks first (a read
        of ``/proc/PID/stat`` took ~0.25 ms there, on a loop woken from idle). A pidfd is readable
        once every thread of the process has exited: a spare killed a moment ago whose threads are
        still being torn down (``/proc`` shows it a zombie already) passes; started, it exits at once
        and is restarted, as an instance that crashed."""
        return self._pidfd >= 0 and not self._watch.poll(0)

    def start(self, env: Mapping[str, str], log_fd: int) -> ForkedChild:
        """Send it its instance (its environment, its output to ``log_fd``) and return the instance at
        once: it listens already, and serves what waits in its backlog once it has them."""
        request = b"{}" if self._env is not None and self._env == env else json.dumps({"env": dict(env)}).encode()
        try:
            socket.send_fds(self._own, [request], [log_fd])
        except BaseException:
            self.discard()
            raise
        self._close_pidfd()
        return ForkedChild(self.pid, self._own)

    def discard(self) -> None:
        """Kill it (the zygote reaps it); its cgroup is the caller's to remove."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGKILL)
        self._close_pidfd()
        self._own.close()
        log, self._log = self._log, None
        if log is not None:
            _drop_log(log)

    def _close_pidfd(self) -> None:
        """Not a spare any more (started or discarded): :meth:`alive` is False."""
        if self._pidfd >= 0:
            self._watch.unregister(self._own.fileno())
            self._watch.unregister(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1


class Zygote:
    """One revision's zygote (started on the first fork, again after it died)."""

    def __init__(self, spec: ZygoteSpec, *, started: Callable[[int], None], gone: Callable[[int], None]) -> None:
        self.spec = spec
        self._started = started
        self._gone = gone
        self._lock = asyncio.Lock()
        self._sending = asyncio.Lock()
        """One request on the control socket at a time while its queue is full (:func:`_send_fds`)."""
        self._control: socket.socket | None = None
        self._process: spawn.Child | None = None
        self.kind = ""
        self.closed = False

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        """Started, imported, and not dead: a spare can be forked without starting it."""
        return self._control is not None and self._process is not None and self._process.returncode is None

    async def fork(
        self,
        instance_id: str,
        env: Mapping[str, str],
        host: str,
        port: int,
        log_fd: int,
        cgroup_procs: tuple[bytes, ...],
    ) -> ForkedChild:
        """A new instance listening on ``host:port`` (ZygoteFailed: the app cannot be imported;
        OSError: the port cannot be listened on)."""
        spare = await self.prepare(instance_id, cgroup_procs, host, port)
        return spare.start(env, log_fd)

    async def prepare(self, instance_id: str, cgroup_procs: tuple[bytes, ...], host: str, port: int) -> Spare:
        """A child forked, listening on ``host:port`` and moved into ``cgroup_procs``, waiting for
        :meth:`Spare.start` (OSError: it cannot listen there)."""
        control = await self._ready()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            ours.setblocking(False)
            request = json.dumps({"id": instance_id, "host": host, "port": port}).encode()
            async with self._sending:
                await _send_fds(control, request, theirs.fileno())
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        pid = None
        try:
            async with asyncio.timeout(FORK_TIMEOUT):
                pid = await _recv_pid(ours)
                if cgroup_procs:  # off the loop: without favordynmods the first move blocks 6-16 ms
                    await asyncio.to_thread(_join, pid, cgroup_procs)
                said = await _recv(ours)
            if said != b"listening":
                text = said[6:].decode(errors="replace") if said.startswith(b"error ") else "it exited first"
                raise OSError(f"the forked child cannot serve: {text}")
            return Spare(instance_id, pid, ours, port)
        except BaseException:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            ours.close()
            raise

    async def close(self) -> None:
        """Kill the zygote (and so its children) and reap it."""
        self.closed = True
        control, self._control = self._control, None
        if control is not None:
            control.close()
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()

    async def _ready(self) -> socket.socket:
        async with self._lock:
            if self.closed:
                raise ZygoteFailed("the revision's zygote was shut down")
            process = self._process
            if self._control is not None and process is not None and process.returncode is None:
                return self._control
            if self._control is not None:
                self._control.close()
                self._control = None
            return await self._start()

    async def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log = open_private(self.spec.log_path)
        fd = theirs.fileno()
        try:
            source = PROGRAM.read_text()
            argv = (self.spec.python, "-c", source, self.spec.target, str(fd))
            os.set_inheritable(fd, True)
            process = spawn.spawn(
                argv,
                env=self.spec.env,
                cwd=self.spec.cwd,
                stdout=log,
                stderr=log,
                jail=self.spec.jail,
                pass_fds=(fd,),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            os.close(log)
            theirs.close()
        self._process = process
        self._started(process.pid)
        asyncio.get_running_loop().create_task(self._reap(process))
        ours.setblocking(False)
        try:
            async with asyncio.timeout(START_TIMEOUT):
                message = await _recv(ours)
        except TimeoutError:
            message = b"error the import took longer than %d s" % START_TIMEOUT
        if not message.startswith(b"ready "):
            ours.close()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            text = message[6:].decode(errors="replace") if message else "the zygote exited"
            raise ZygoteFailed(f"{ANNOTATION} {self.spec.target}: {text} (see {self.spec.log_path.name})")
        self.kind = message[6:].decode()
        logger.info("zygote of %s: %s imported (%s), pid %d", self.spec.owner, self.spec.target, self.kind, process.pid)
        self._control = ours
        return ours

    async def _reap(self, process: spawn.Child) -> None:
        code = await process.wait()
        self._gone(process.pid)
        if not self.closed:
            logger.warning("zygote of %s exited with %s: its instances die with it", self.spec.owner, code)


def _join(pid: int, cgroup_procs: tuple[bytes, ...]) -> None:
    """Move ``pid`` into each cgroup (run in a thread: the first write of a move blocks in the kernel)."""
    for procs in cgroup_procs:
        Path(os.fsdecode(procs)).write_text(str(pid))


async def _send_fds(sock: socket.socket, message: bytes, fd: int) -> None:
    """``socket.send_fds`` of one message on a non-blocking SEQPACKET socket, waiting while its send
    buffer is full: it holds ~280 fork requests (the kernel's default 208 KiB), and a scale-up by
    more asks for its forks faster than the zygote forks (0 -> 500: some failed with
    BlockingIOError, and the revision went into its crash back-off). One caller at a time (the loop
    keeps one writer callback per socket)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            socket.send_fds(sock, [message], [fd])
            return
        except BlockingIOError:
            pass
        writable: asyncio.Future[None] = loop.create_future()
        loop.add_writer(sock.fileno(), _settle, writable)
        try:
            await writable
        finally:
            loop.remove_writer(sock.fileno())


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _recv(sock: socket.socket) -> bytes:
    """One message (b"" at EOF) from a non-blocking socket."""
    return await asyncio.get_running_loop().sock_recv(sock, 65536)


async def _recv_pid(sock: socket.socket) -> int:
    """The pid a child sent with SCM_CREDENTIALS, as our PID namespace sees it."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()

    def readable() -> None:
        try:
            message, ancillary, _, _ = sock.recvmsg(64, socket.CMSG_SPACE(CREDENTIALS))
        except BlockingIOError:
            return
        except OSError as err:
            future.set_exception(err)
            return
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and message == b"pid":
                future.set_result(struct.unpack("3i", data[:CREDENTIALS])[0])
                return
        future.set_exception(ZygoteFailed(f"the forked child said {message!r} instead of its pid"))

    loop.add_reader(sock.fileno(), readable)
    try:
        return await future
    finally:
        loop.remove_reader(sock.fileno())


def _drop_log(log: LogFile) -> None:
    """Close a log opened ahead for an instance that never was, and remove it (empty)."""
    log.close()
    with contextlib.suppress(OSError):
        if log.path.stat().st_size == 0:
            log.path.unlink()


async def _gone(pid: int) -> None:
    """Until ``pid`` (not our child) has exited."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    loop.add_reader(pidfd, _settle, done)
    try:
        await done
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
