"""One instance: a process group running a container's command (a pod, for the process runtime).

An :class:`Instance` goes ``starting -> ready <-> unready -> stopping -> exited``:

* it spawns ``argv`` with no shell, in its own session (so its whole process group can be
  signalled), stdin from /dev/null, stdout and stderr into its :class:`~.logs.LogFile`,
  and ``PR_SET_PDEATHSIG`` (see :mod:`.supervisor`); with ``limits``, in a cgroup of its own
  that the child joins before exec (see :mod:`.cgroups`);
* it probes readiness every millisecond for the first 100 ms of its life, then every 50 ms,
  until the probe passes (MEASURED.md section 3: an app binds after its imports, 60-250 ms,
  and a refused loopback connect costs almost nothing); from then on every ``periodSeconds``,
  turning unready after ``failureThreshold`` failures in a row;
* a liveness probe, when given, runs on its own schedule; ``failureThreshold`` failures stop
  the instance (its owner sees an exit and restarts it);
* ``stop`` sends SIGTERM to the process group and SIGKILL after the grace period; when the
  first process ends, whatever remains of its group is killed (kubelet kills a container's
  cgroup).

With a :class:`SidecarSpec` the instance is a pod of two: the app and its queue-proxy, spawned
right after it (both import in parallel) in a session of its own (so the runtime's reaper of
the app's group never takes its exit status), tied to the instance: it dies with the runtime
(``PR_SET_PDEATHSIG`` and the lifeline), it is killed when the app ends, and if it dies first
the app is killed (the owner restarts the instance). Readiness then probes the queue-proxy
(which holds a probe until the app is ready), and :meth:`Instance.drain_sidecar` drains it
before the app gets SIGTERM.

A *container* instance (``own_network``; :mod:`.container`) is a pod: a network namespace of its
own (:mod:`zeroserve.net.netns`), made before anything starts, into which every process of the
instance is spawned; its :class:`~.base.Endpoint` is a reserved loopback port that leads into it
(two with a queue-proxy: serving and admin), and every probe connects inside. Init containers
run there first, one after the other, each to completion; one that fails ends the instance with
its exit code. Then the serving container, its sidecar containers (:class:`ContainerSpec`, which
share the network and the lifecycle: one that exits ends the instance) and the queue-proxy
start. Readiness waits for the startup probes, then is the serving container's probe and, with
``multi-container-probing``, every sidecar's too; each container's liveness probe restarts the
instance. A stop sends SIGTERM to every container's app at once (the kubelet's order), SIGKILL
to all after the grace; the namespace and the reserved ports go with the instance. With a
:class:`ContainedProxy` (``zeroserve up`` passes its gateway) and ``InstanceSpec.proxy_port``, a
socket listening on ``127.0.0.1:proxy_port`` inside the namespace is made before anything starts
and handed to it (the instance's ``http_proxy``), and closed when the instance is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from zeroserve.net import netns
from zeroserve.runtime import cgroups, container, isolation, probes, spawn, supervisor
from zeroserve.runtime import zygote as zygotes
from zeroserve.runtime.logs import LogFile, open_private

logger = logging.getLogger(__name__)

FAST_PROBE_INTERVAL = 0.001
FAST_PROBE_WINDOW = 0.1
WARM_PROBE_INTERVAL = 0.002
WARM_PROBE_WINDOW = 2.0
SLOW_PROBE_INTERVAL = 0.05
PROBE_RATE = 2000.0
"""Readiness probes per second of all starting instances together, at most: the runtime's loop
spends ~30 us on a probe of a closed port, so 6 % of a core at most, however many start at once."""
LONGEST_PROBE_INTERVAL = 1.0


def probe_interval(age: float, probing: int = 1) -> float:
    """Readiness probing of a starting instance (pure): every 1 ms for its first 100 ms, every 2 ms
    until 2 s (most apps boot by then; a TCP probe of a closed port costs the loop ~30 us), then
    every 50 ms (MEASURED.md section 3); but with ``probing`` instances waiting for their first
    readiness at once, no more than :data:`PROBE_RATE` probes a second between them (0 -> 100
    spawned instances probed each every 1-2 ms took 3-4 s of the loop's CPU on 2 cores, from
    the apps' own boots), and at least once a second."""
    if age < FAST_PROBE_WINDOW:
        own = FAST_PROBE_INTERVAL
    else:
        own = WARM_PROBE_INTERVAL if age < WARM_PROBE_WINDOW else SLOW_PROBE_INTERVAL
    return max(own, min(probing / PROBE_RATE, LONGEST_PROBE_INTERVAL))


"""Readiness polling before the first success: 1 ms for 100 ms, then 50 ms."""

LOG_DRAIN_TIMEOUT = 1.0
"""How long to wait for the last output of an exited instance before reading its log tail."""

State = Literal["starting", "ready", "unready", "stopping", "exited"]


@dataclass(frozen=True)
class InstanceSpec:
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: str | None
    host: str
    port: int
    readiness: probes.ProbeSpec
    liveness: probes.ProbeSpec | None
    grace: float
    log_path: Path
    owner: str = ""
    """The workload key (``namespace/revision``) the instance belongs to, for records and logs."""
    limits: cgroups.Limits | None = None
    """cgroup limits to run under (set when the runtime has usable cgroups; empty = accounting only)."""
    sidecar: SidecarSpec | None = None
    """The queue-proxy in front of the app, if any (then ``readiness`` probes it, not the app)."""
    jail: isolation.Jail | None = None
    """Who the app runs as and in what sandbox (:mod:`.isolation`); None: as we run, unconfined."""
    own_network: bool = False
    """A container instance: a network namespace of its own, reached through reserved ports."""
    name: str = ""
    """The serving container's name (in messages)."""
    startup: probes.ProbeSpec | None = None
    containers: tuple[ContainerSpec, ...] = ()
    """Sidecar containers, started with the app."""
    init_containers: tuple[ContainerSpec, ...] = ()
    """Init containers, run to completion one after the other before anything else starts."""
    proxy_port: int | None = None
    """A container instance's HTTP proxy: the port it listens on inside the namespace (None: none)."""
    zygote: zygotes.Zygote | None = None
    """Fork the app from its revision's zygote (``argv`` and ``jail`` are then the zygote's; :mod:`.zygote`)."""
    spare: zygotes.Spare | None = None
    """The zygote's child forked ahead for this instance (its id and cgroup): started, not forked."""


@dataclass(frozen=True)
class ContainerSpec:
    """Another container of a container instance: a sidecar or an init container."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    jail: isolation.Jail | None
    log_path: Path
    readiness: probes.ProbeSpec | None = None
    """Gates the instance's readiness (``multi-container-probing``); None: it does not."""
    liveness: probes.ProbeSpec | None = None
    startup: probes.ProbeSpec | None = None


class InitContainerFailed(Exception):
    """An init container exited with a code other than 0 (or could not start)."""

    def __init__(self, name: str, code: int, details: str) -> None:
        super().__init__(f"init container {name!r} exited with code {code}" + (f": {details}" if details else ""))
        self.code = code


@dataclass(frozen=True)
class SidecarSpec:
    """A queue-proxy process started with the app; traffic enters the instance on ``serving_port``."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    serving_port: int
    admin_port: int
    log_path: Path


SIDECAR_EXIT_TIMEOUT = 5.0
"""How long to wait for a SIGKILLed queue-proxy to be reaped."""


class ContainedProxy(Protocol):
    """Serves the platform's HTTP proxy on a socket listening inside a container instance's network
    namespace (the gateway's contained listener)."""

    async def listen_contained(self, key: str, sock: socket.socket, namespace: netns.NetNs) -> None: ...

    async def close_contained(self, key: str, grace: float = 0.0) -> None: ...


class Tracker(Protocol):
    """Told when an instance's process exists and when it (and its group) is gone; counts the
    instances probing for their first readiness (:func:`probe_interval` shares a rate between them)."""

    def started(self, instance: Instance) -> None: ...

    def gone(self, instance: Instance) -> None: ...

    def probing(self, delta: int) -> int:
        """Add ``delta`` to the count of instances probing for their first readiness; the count."""
        ...


class Instance:
    def __init__(
        self,
        instance_id: str,
        spec: InstanceSpec,
        generation: int,
        *,
        tracker: Tracker,
        on_change: Callable[[Instance], None],
        machine_cgroups: cgroups.Cgroups | None = None,
        proxy: ContainedProxy | None = None,
    ) -> None:
        self.id = instance_id
        self.spec = spec
        self.generation = generation
        self.state: State = "starting"
        self.pid: int | None = None
        self.start_ticks = 0
        self.started_at = 0.0
        self.exit_code: int | None = None
        self.start_error: str | None = None
        self.liveness_failed = False
        self.oom_killed = False
        self.cgroup: cgroups.InstanceCgroup | None = None
        """The instance's cgroup; whoever is told :meth:`Tracker.gone` removes it."""
        self.stop_requested = False
        opened = spec.spare.take_log(spec.log_path) if spec.spare is not None else None
        self.log = opened if opened is not None else LogFile(spec.log_path)
        self._tracker = tracker
        self._on_change = on_change
        self._cgroups = machine_cgroups
        self._process: spawn.Child | zygotes.ForkedChild | None = None
        self._spawned = asyncio.Event()
        self._done = asyncio.Event()
        self._drained = asyncio.Event()
        self._log_pipe: asyncio.ReadTransport | None = None
        self._task: asyncio.Task[None] | None = None
        self._sidecar: spawn.Child | None = None
        self.sidecar_pid: int | None = None
        self.netns: netns.NetNs | None = None
        """A container instance's network namespace (from the start until the instance is gone)."""
        self._reserved: list[netns.Reservation] = []
        self._proxy = proxy
        self._proxy_open = False
        self._containers: list[_Container] = []
        self._init: _Container | None = None
        self._container_failed: str | None = None
        self._started_up = asyncio.Event()
        self._handed: tuple[int, Exception | None] | None = None

    @property
    def serving_port(self) -> int:
        """Where traffic enters the instance: its queue-proxy's serving port, else the app's (for a
        container instance, the reserved port that leads there)."""
        if self._reserved:
            return self._reserved[0].port
        return self.spec.sidecar.serving_port if self.spec.sidecar is not None else self.spec.port

    @property
    def admin_port(self) -> int | None:
        if len(self._reserved) > 1:
            return self._reserved[1].port
        return self.spec.sidecar.admin_port if self.spec.sidecar is not None else None

    @property
    def ports(self) -> tuple[int, ...]:
        """The machine's ports the instance uses (none of the machine's for a container instance:
        its reserved ports stay bound for as long as it lives)."""
        if self.spec.own_network:
            return ()
        sidecar = self.spec.sidecar
        return (self.spec.port,) if sidecar is None else (self.spec.port, sidecar.serving_port, sidecar.admin_port)

    @property
    def other_pids(self) -> tuple[int, ...]:
        """The first processes of the instance's other containers (each leads a process group)."""
        running = [c.child.pid for c in self._containers if c.child is not None]
        if self._init is not None and self._init.child is not None:
            running.append(self._init.child.pid)
        return tuple(running)

    @property
    def port(self) -> int:
        return self.spec.port

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def stopping(self) -> bool:
        return self.state in ("stopping", "exited")

    def start(self) -> None:
        """Start it (a task); an instance started from its zygote's spare with nothing else to wait
        for is ready when this returns (the caller's ``notify`` tells the routers)."""
        if self.spec.spare is not None:
            self._hand_spare(self.spec.spare)
        self._task = asyncio.create_task(self._run(), name=f"instance {self.id}")

    def _hand_spare(self, spare: zygotes.Spare) -> None:
        """Give the zygote's spare its instance now, not when the task first runs (its log pipe's
        read end waits in ``_handed`` for :meth:`_spawn`). It listens on the instance's port already:
        with the default readiness and nothing else to start, the instance is ready at once."""
        self.cgroup = spare.cgroup  # made with it
        read_fd, write_fd = os.pipe()
        try:
            self._process = spare.start(self.spec.env, write_fd)
        except Exception as err:  # raised by _spawn: the instance failed to start
            os.close(read_fd)
            self._handed = (-1, err)
            return
        finally:
            os.close(write_fd)
        self._handed = (read_fd, None)
        self.pid = self._process.pid
        if self._ready_once_listening():
            self._started(asyncio.get_running_loop())
            self.state = "ready"  # not _set_state: the runtime is converging, and notifies after

    def mark_stopping(self) -> None:
        """Leave the ready endpoints now (subscribers hear of it) without signalling the process yet."""
        self.stop_requested = True
        if self.state != "stopping":
            self._set_state("stopping")

    async def stop(self, grace: float | None = None) -> None:
        """SIGTERM the group, SIGKILL it after ``grace`` (default: the spec's), wait for the end.

        Whatever became of the start (a spawn that raised, a cancelled task), this returns: ``_run``
        sets ``_spawned`` and ``_done`` on every way out."""
        if self._task is None or self.state == "exited":
            return
        self.mark_stopping()
        if self._init is not None:  # an init container runs: it will not be waited for
            self._init.signal(signal.SIGKILL)
        await self._spawned.wait()
        self._terminate()
        try:
            async with asyncio.timeout(self.spec.grace if grace is None else grace):
                await self._done.wait()
        except TimeoutError:
            self._signal(signal.SIGKILL)
            await self._done.wait()

    async def wait(self) -> None:
        await self._done.wait()

    def kill(self) -> None:
        """SIGKILL the group now (no grace) - for shutdown paths that cannot wait."""
        self._signal(signal.SIGKILL)
        self._kill_sidecar()

    async def drain_sidecar(self) -> None:
        """Ask the queue-proxy to drain (``POST /drain``) and wait until it has (no-op without one).

        It answers once requests stopped arriving for its quiet period and every request in
        flight completed; then it exits by itself.
        """
        sidecar, admin = self.spec.sidecar, self.admin_port
        if sidecar is None or admin is None or self._sidecar is None or self._sidecar.returncode is not None:
            return
        try:
            reader, writer = await netns.open_connection(self.spec.host, admin)
        except OSError as err:
            logger.warning("instance %s: cannot reach its queue-proxy to drain it: %s", self.id, err)
            return
        try:
            writer.write(b"POST /drain HTTP/1.1\r\nHost: queue-proxy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            status = await reader.readline()
            await reader.read()
        except OSError as err:
            logger.warning("instance %s: queue-proxy drain failed: %s", self.id, err)
            return
        finally:
            writer.close()
        if not status.startswith(b"HTTP/1.1 200"):
            logger.warning("instance %s: queue-proxy drain answered %r", self.id, status.strip())

    async def _run(self) -> None:
        try:
            await self._start_and_watch()
        finally:
            self._spawned.set()
            if self.state != "exited":  # an error escaped (or a cancel): never leave a waiter behind
                self._signal(signal.SIGKILL)
                self._kill_sidecar()
                if self.exit_code is None:
                    self.exit_code = 128
                self._finish()
            try:
                if self._proxy_open and self._proxy is not None:
                    self._proxy_open = False
                    await self._proxy.close_contained(self.id)
            finally:
                self._release_network()  # once out of every table (``_finish``)

    async def _start_and_watch(self) -> None:
        try:
            await self._spawn()
        except InitContainerFailed as failed:
            logger.warning("instance %s: %s", self.id, failed)
            self.start_error, self.exit_code = str(failed), failed.code
            self._signal(signal.SIGKILL)
            self._finish()
            return
        except Exception as err:  # OSError, ValueError (a NUL byte), anything: the instance failed to start
            logger.warning("instance %s failed to start: %s: %s", self.id, type(err).__name__, err)
            self.start_error = f"{type(err).__name__}: {err}"
            self.exit_code = 128
            self._signal(signal.SIGKILL)  # if it got as far as a process
            self._finish()
            return
        self._spawned.set()
        assert self._process is not None
        exit_task = asyncio.create_task(self._process.wait())
        watchers = [asyncio.create_task(self._watch_readiness(exit_task))]
        if self._sidecar is not None:
            watchers.append(asyncio.create_task(self._watch_sidecar(self._sidecar, exit_task)))
        watchers += [asyncio.create_task(self._watch_container(c, exit_task)) for c in self._containers]
        watchers += self._probe_watchers(exit_task)
        try:
            returncode = await asyncio.shield(exit_task)
        except asyncio.CancelledError:
            self._signal(signal.SIGKILL)
            self._kill_sidecar()
            self._finish()
            raise
        finally:
            for watcher in watchers:
                watcher.cancel()
            self._signal(signal.SIGKILL, containers=False)
        await self._end_containers()
        await self._end_sidecar()
        self.exit_code = 128 - returncode if returncode < 0 else returncode
        if self._container_failed is not None:
            self.start_error = self._container_failed
        if self.cgroup is not None and self.exit_code == 128 + signal.SIGKILL:
            self.oom_killed = self.cgroup.usage().oom_kills > 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LOG_DRAIN_TIMEOUT):
                await self._drained.wait()
        self._finish()

    async def _spawn(self) -> None:
        loop = asyncio.get_running_loop()
        limits = self.spec.limits
        if self.spec.spare is None and limits is not None and self._cgroups is not None:  # (a spare's: made with it)
            self.cgroup = self._cgroups.create(self.id, limits)
        if self.spec.own_network:
            await self._make_network()
        for init in self.spec.init_containers:
            await self._run_init(init)
        if self._handed is not None:
            read_fd = self._spare_handed(self._handed)
        else:
            read_fd = await self._start_process()
        assert self._process is not None
        self.pid = self._process.pid
        pipe = os.fdopen(read_fd, "rb", buffering=0)
        if self._ready_once_listening():  # running and ready now; its log pipe is read from the next turn on
            if self.state == "starting":  # (a spare's is ready since start)
                self._started(loop)
                self._set_state("ready")
            self._log_pipe, _ = await loop.connect_read_pipe(lambda: _LogPipe(self.log, self._drained), pipe)
            return
        self._log_pipe, _ = await loop.connect_read_pipe(lambda: _LogPipe(self.log, self._drained), pipe)
        for spec in self.spec.containers:
            sidecar_container = _Container(spec)
            self._containers.append(sidecar_container)
            try:
                await sidecar_container.start(self._procs(), self.netns)
            except Exception as err:
                self.start_error = f"container {spec.name!r} failed to start: {type(err).__name__}: {err}"
                self._signal(signal.SIGKILL)
                break
        if self.spec.sidecar is not None:
            try:
                await self._spawn_sidecar(self.spec.sidecar)
            except Exception as err:
                self.start_error = f"the queue-proxy failed to start: {type(err).__name__}: {err}"
                self._signal(signal.SIGKILL)
        self._started(loop)

    def _started(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self.pid is not None
        if self.spec.spare is not None and self.spec.spare.start_ticks:  # read when it was forked
            self.start_ticks = self.spec.spare.start_ticks
        else:
            stat = supervisor.read_stat(self.pid)
            self.start_ticks = stat.start_ticks if stat is not None else 0
        self.started_at = loop.time()
        self._tracker.started(self)

    def _ready_once_listening(self) -> bool:
        """A forked child alone in its instance (no queue-proxy, no other container), listening, with
        the default readiness and no startup probe or initial delay: ready as soon as it is known."""
        readiness = self.spec.readiness
        return (
            self.spec.sidecar is None
            and not self.spec.containers
            and self.spec.startup is None
            and not readiness.initial_delay
            and self._listening_proves_ready(readiness)
        )

    def _spare_handed(self, handed: tuple[int, Exception | None]) -> int:
        """The log pipe's read end of the spare handed its instance in :meth:`start` (or why not)."""
        self._handed = None
        read_fd, error = handed
        if error is not None:
            raise error
        return read_fd

    async def _start_process(self) -> int:
        """Fork the app from its zygote, or spawn it: the log pipe's read end."""
        read_fd, write_fd = os.pipe()
        try:
            if self.spec.zygote is not None:
                self._process = await self.spec.zygote.fork(
                    self.id, self.spec.env, self.spec.host, self.spec.port, write_fd, self._procs()
                )
            else:
                self._process = spawn.spawn(
                    self.spec.argv,
                    env=self.spec.env,
                    cwd=None if self.spec.cwd is None else str(self.spec.cwd),
                    stdout=write_fd,
                    stderr=write_fd,
                    cgroup_procs=() if self.cgroup is None else self.cgroup.procs_files,
                    jail=self.spec.jail,
                    netns=self.netns,
                )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        return read_fd

    async def _spawn_sidecar(self, sidecar: SidecarSpec) -> None:
        log = open_private(sidecar.log_path)
        try:
            self._sidecar = spawn.spawn(sidecar.argv, env=sidecar.env, stdout=log, stderr=log, netns=self.netns)
        finally:
            os.close(log)
        self.sidecar_pid = self._sidecar.pid

    async def _watch_sidecar(self, sidecar: spawn.Child, exit_task: asyncio.Task[int]) -> None:
        """A queue-proxy that dies on its own takes the instance down (its owner restarts it)."""
        code = await sidecar.wait()
        if not self.stop_requested and not exit_task.done():
            logger.warning("instance %s: its queue-proxy exited with %s; killing the instance", self.id, code)
            self.start_error = f"the queue-proxy exited with code {code}"
            self._signal(signal.SIGKILL)

    def _kill_sidecar(self) -> None:
        if self._sidecar is not None and self._sidecar.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._sidecar.pid, signal.SIGKILL)

    async def _end_sidecar(self) -> None:
        """Kill the queue-proxy if it still runs once the app ended, and reap it."""
        if self._sidecar is None:
            return
        self._kill_sidecar()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SIDECAR_EXIT_TIMEOUT):
                await self._sidecar.wait()

    async def _watch_readiness(self, exit_task: asyncio.Task[int]) -> None:
        spec = self.spec.readiness
        loop = asyncio.get_running_loop()
        if not self._started_up.is_set() and not await _happens_before(self._started_up, exit_task):
            return
        if spec.initial_delay and await _exits_within(exit_task, spec.initial_delay):
            return
        first_probe, successes = loop.time(), 0
        if self._listening_proves_ready(spec):
            successes = spec.success_threshold
        tracker = self._tracker
        tracker.probing(1)
        try:
            while successes < spec.success_threshold:
                successes = successes + 1 if await self._ready_now() else 0
                if successes < spec.success_threshold and await _exits_within(
                    exit_task, probe_interval(loop.time() - first_probe, tracker.probing(0))
                ):
                    return
        finally:
            tracker.probing(-1)
        self._set_state("ready")
        successes = failures = 0
        while not await _exits_within(exit_task, spec.period):
            if await self._ready_now():
                successes, failures = successes + 1, 0
                if self.state == "unready" and successes >= spec.success_threshold:
                    self._set_state("ready")
            else:
                successes, failures = 0, failures + 1
                if self.state == "ready" and failures >= spec.failure_threshold:
                    self._set_state("unready")

    def _listening_proves_ready(self, spec: probes.ProbeSpec) -> bool:
        """A forked child listens on its port before it is an instance: a first TCP probe of that port
        would pass now (with a success threshold of 1, nothing else to probe), so it is not run."""
        process = self._process
        return (
            isinstance(process, zygotes.ForkedChild)
            and (spec.kind, spec.host, spec.port, spec.success_threshold) == ("tcp", self.spec.host, self.spec.port, 1)
            and not self._containers
        )

    async def _ready_now(self) -> bool:
        """The serving container's readiness probe and, with multi-container probing, every sidecar's."""
        if not await probes.check(self.spec.readiness, netns=self.netns, run=self._runner(self._process, self.spec)):
            return False
        for sidecar in self._containers:
            readiness = sidecar.spec.readiness
            if readiness is not None and not await probes.check(readiness, netns=self.netns, run=sidecar.run):
                return False
        return True

    def _probe_watchers(self, exit_task: asyncio.Task[int]) -> list[asyncio.Task[Any]]:
        """Liveness of every container (after its startup probe), and the startup probes."""
        main = (self.spec.name or "app", self.spec.liveness, self.spec.startup, self._runner(self._process, self.spec))
        others = [(c.spec.name, c.spec.liveness, c.spec.startup, c.run) for c in self._containers]
        startups: list[asyncio.Task[bool]] = []
        watchers: list[asyncio.Task[Any]] = []
        for name, liveness, startup, run in (main, *others):
            started = None
            if startup is not None:
                started = asyncio.create_task(self._watch_startup(name, startup, exit_task, run))
                startups.append(started)
            if liveness is not None:
                watchers.append(asyncio.create_task(self._watch_liveness(liveness, exit_task, run, started)))
        if startups:
            watchers.append(asyncio.create_task(self._all_started(startups)))
        else:
            self._started_up.set()
        return [*startups, *watchers]

    async def _all_started(self, startups: list[asyncio.Task[bool]]) -> None:
        if all(await asyncio.gather(*startups)):
            self._started_up.set()

    async def _watch_startup(
        self, name: str, spec: probes.ProbeSpec, exit_task: asyncio.Task[int], run: probes.Run | None
    ) -> bool:
        """kubelet's startup probe: until it passes, no readiness or liveness; ``failureThreshold``
        failures in a row restart the instance."""
        failures, delay = 0, spec.initial_delay
        while not await _exits_within(exit_task, delay):
            delay = spec.period
            if await probes.check(spec, netns=self.netns, run=run):
                return True
            failures += 1
            if failures >= spec.failure_threshold and not self.stopping:
                logger.info("instance %s: container %s failed its startup probe %d times", self.id, name, failures)
                self._container_failed = f"container {name!r} failed its startup probe"
                await self._restart(exit_task)
                return False
        return False

    async def _watch_liveness(
        self,
        spec: probes.ProbeSpec,
        exit_task: asyncio.Task[int],
        run: probes.Run | None = None,
        started: asyncio.Task[bool] | None = None,
    ) -> None:
        if started is not None and not await started:
            return
        failures = 0
        delay = spec.initial_delay
        while not await _exits_within(exit_task, delay):
            delay = spec.period
            failures = 0 if await probes.check(spec, netns=self.netns, run=run) else failures + 1
            if failures >= spec.failure_threshold and not self.stopping:
                logger.info("instance %s failed its liveness probe %d times: restarting", self.id, failures)
                self.liveness_failed = True
                await self._restart(exit_task)
                return

    async def _restart(self, exit_task: asyncio.Task[int]) -> None:
        """End the instance as a failed probe does (its owner starts another)."""
        self._terminate()
        if not await _exits_within(exit_task, self.spec.grace):
            self._signal(signal.SIGKILL)

    def _runner(self, process: spawn.Child | zygotes.ForkedChild | None, spec: InstanceSpec) -> probes.Run | None:
        """How an ``exec`` probe of the serving container runs (inside it), None for a process instance."""
        if process is None or spec.jail is None or not spec.jail.container:
            return None
        return _exec_in(process.pid, spec.jail.user, spec.env, self._procs())

    async def _watch_container(self, sidecar: _Container, exit_task: asyncio.Task[int]) -> None:
        """A sidecar container that exits ends the instance (its owner starts another)."""
        code = await sidecar.wait()
        if not self.stop_requested and not exit_task.done():
            tail = sidecar.log.tail()
            logger.warning("instance %s: container %s exited with %s; ending the instance", self.id, sidecar.name, code)
            self._container_failed = f"container {sidecar.spec.name!r} exited with code {code}" + (
                f"\n{tail}" if tail else ""
            )
            self._signal(signal.SIGKILL)

    async def _make_network(self) -> None:
        self.netns = await asyncio.to_thread(netns.create)
        ports = [self.spec.port] if self.spec.sidecar is None else [self.spec.sidecar.serving_port]
        if self.spec.sidecar is not None:
            ports.append(self.spec.sidecar.admin_port)
        self._reserved = [netns.reserve(self.netns, port, self.spec.host) for port in ports]
        if self._proxy is not None and self.spec.proxy_port is not None:  # before any app can take the port
            await self._proxy.listen_contained(self.id, self.netns.listener(self.spec.proxy_port), self.netns)
            self._proxy_open = True

    def _release_network(self) -> None:
        for reservation in self._reserved:
            reservation.release()
        if self.netns is not None:
            self.netns.close()

    def _procs(self) -> tuple[bytes, ...]:
        return () if self.cgroup is None else self.cgroup.procs_files

    async def _run_init(self, spec: ContainerSpec) -> None:
        """Run one init container to completion; :class:`InitContainerFailed` unless it exits 0."""
        if self.stop_requested:
            raise InitContainerFailed(spec.name, 128 + signal.SIGKILL, "stopped before it ran")
        init = self._init = _Container(spec)
        try:
            try:
                await init.start(self._procs(), self.netns)
            except Exception as err:
                raise InitContainerFailed(spec.name, 128, f"{type(err).__name__}: {err}") from err
            code = await init.wait()
            await init.drained()
        finally:
            self._init = None
            init.close()
        if code != 0:
            raise InitContainerFailed(spec.name, code, init.log.tail())

    async def _end_containers(self) -> None:
        """The serving container ended: the others get the rest of a stop's grace (the stop's timer
        SIGKILLs them), or are killed now when it ended by itself."""
        if not self._containers:
            return
        if not self.stop_requested:
            for sidecar in self._containers:
                sidecar.signal(signal.SIGKILL)
        await asyncio.gather(*(sidecar.wait() for sidecar in self._containers if sidecar.child is not None))
        for sidecar in self._containers:
            await sidecar.drained()
            sidecar.close()

    def _finish(self) -> None:
        if self.state == "exited":
            return
        if self._log_pipe is not None:  # still open when an escaped descendant holds the pipe's write end
            self._log_pipe.close()
        self.log.close()
        self._tracker.gone(self)
        self._set_state("exited")
        self._done.set()

    def _set_state(self, state: State) -> None:
        if self.state == state or self.state == "exited" or (self.state == "stopping" and state != "exited"):
            return
        self.state = state
        self._on_change(self)

    def _terminate(self) -> None:
        """SIGTERM the group; SIGKILL while a sandboxed app has not started yet: its SIGTERM is ignored
        until the jail restores it, and the stop would wait the whole grace for nothing (isolation).
        A container instance: SIGTERM to each container's app (see the module docstring)."""
        jail, pid = self.spec.jail, self.pid
        if jail is not None and jail.container and pid is not None:
            if not container.signal_apps(pid, signal.SIGTERM):
                logger.info("instance %s: stopped before its app started: SIGKILL", self.id)
                self._signal(signal.SIGKILL)
                return
            for sidecar in self._containers:
                sidecar.terminate()
            return
        monitored = jail is not None and jail.monitored and pid is not None
        if monitored and pid is not None and not supervisor.sandbox_hears(pid, signal.SIGTERM):
            logger.info("instance %s: stopped before its app started: SIGKILL", self.id)
            self._signal(signal.SIGKILL)
        else:
            self._signal(signal.SIGTERM)

    def _signal(self, signum: int, *, containers: bool = True) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signum)
        if containers:
            for sidecar in self._containers:
                sidecar.signal(signum)


class _Container:
    """One sidecar or init container of a container instance: its process, its own log file."""

    def __init__(self, spec: ContainerSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.log = LogFile(spec.log_path)
        self.child: spawn.Child | None = None
        self.run: probes.Run | None = None
        self._drained = asyncio.Event()
        self._pipe: asyncio.ReadTransport | None = None

    async def start(self, cgroup_procs: tuple[bytes, ...], network: netns.NetNs | None) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self.child = spawn.spawn(
                self.spec.argv,
                env=self.spec.env,
                stdout=write_fd,
                stderr=write_fd,
                cgroup_procs=cgroup_procs,
                jail=self.spec.jail,
                netns=network,
            )
        except BaseException:
            os.close(read_fd)
            self._drained.set()
            raise
        finally:
            os.close(write_fd)
        pipe = os.fdopen(read_fd, "rb", buffering=0)
        loop = asyncio.get_running_loop()
        self._pipe, _ = await loop.connect_read_pipe(lambda: _LogPipe(self.log, self._drained), pipe)
        if self.spec.jail is not None and self.spec.jail.container:
            self.run = _exec_in(self.child.pid, self.spec.jail.user, self.spec.env, cgroup_procs)

    async def wait(self) -> int:
        """The exit code (128 + N for a signal N)."""
        if self.child is None:
            return 128
        code = await self.child.wait()
        return 128 - code if code < 0 else code

    async def drained(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LOG_DRAIN_TIMEOUT):
                await self._drained.wait()

    def terminate(self) -> None:
        if self.child is not None and not container.signal_apps(self.child.pid, signal.SIGTERM):
            self.signal(signal.SIGKILL)

    def signal(self, signum: int) -> None:
        if self.child is not None and self.child.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.child.pid, signum)

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
        self.log.close()


def _exec_in(monitor: int, user: isolation.User, env: Mapping[str, str], cgroup_procs: tuple[bytes, ...]) -> probes.Run:
    """An ``exec`` probe's runner for the container whose bwrap monitor is ``monitor``."""

    async def run(command: tuple[str, ...], timeout: float) -> int:
        apps = container.app_pids(monitor)
        if not apps or NSENTER is None:
            return -1
        child = spawn.spawn(
            container.exec_argv(NSENTER, apps[0], user, command),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cgroup_procs=cgroup_procs,
        )
        try:
            async with asyncio.timeout(timeout):
                return await child.wait()
        finally:
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGKILL)
                await child.wait()

    return run


NSENTER = shutil.which("nsenter")
"""util-linux's nsenter: how an exec probe gets into a running container."""


async def _happens_before(event: asyncio.Event, exit_task: asyncio.Task[int]) -> bool:
    """Wait for ``event``; False if the process exits first."""
    waiter = asyncio.create_task(event.wait())
    try:
        done, _ = await asyncio.wait({waiter, exit_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    return waiter in done and event.is_set()


class _LogPipe(asyncio.Protocol):
    def __init__(self, log: LogFile, drained: asyncio.Event) -> None:
        self._log = log
        self._drained = drained

    def data_received(self, data: bytes) -> None:
        self._log.write(data)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._drained.set()


async def _exits_within(exit_task: asyncio.Task[int], seconds: float) -> bool:
    """Wait up to ``seconds`` for the process to exit; True if it did."""
    if exit_task.done():
        return True
    done, _ = await asyncio.wait({exit_task}, timeout=seconds)
    return bool(done)
