"""The process runtime: each instance of a Revision is a local process group (the default).

:class:`LocalRuntime` plays Kubernetes' Deployment controller and kubelet for one machine. Per
workload key it keeps ``replicas`` :class:`~.process.Instance` s of the newest workload; a
changed workload starts new instances and stops the old ones once the new are all ready (a
rolling update with surge). Everything it does is level-triggered: ``converge`` compares what
runs with what is wanted and is re-run on every ``ensure``, every instance state change and
when a crash back-off expires.

Crash loops back off 0.5 s, doubling to 30 s (kubelet's 10 s to 5 min is made for image pulls
and pods; ours start in ~100 ms and a user is waiting). An instance that ran for 10 s before
dying starts the back-off afresh.

With ``queue_proxy=True`` every instance is the app plus a queue-proxy sidecar
(:mod:`zeroserve.queue`, started with it): the app listens on ``PORT`` (the user port), the
instance's :class:`~.base.Endpoint` is the queue-proxy's serving port (with its admin port),
readiness is the queue-proxy's network probe, and removal goes, in Knative's order: out of the
endpoints, the ``drain`` callback, then the queue-proxy drains (quiet period, in-flight
requests complete), and only then SIGTERM to the app.

Resource limits (``resources.limits.cpu``/``memory``) put each instance in a cgroup of its own
(:mod:`.cgroups`, probed once at start: v2, then v1). Where the machine allows neither, the
limits are not enforced and ``WorkloadStatus.warnings`` says why.

With an ``isolation`` policy (``zeroserve up`` gives one) every instance runs as an unprivileged
user of its revision's, in a bubblewrap sandbox where the machine allows it (:mod:`.isolation`);
what the machine does not allow is in ``WorkloadStatus.warnings``. Its environment is its own env,
``PATH`` and ``LANG``, the runtime contract (``PORT``, ``K_SERVICE``, ``K_CONFIGURATION``,
``K_REVISION``) and the platform's ``ZEROSERVE_INTERNAL_URL``; ``HOME`` is ``/`` for another user
(kubelet's for a uid without a passwd entry).

A workload with an image in any container runs as *container instances* (:mod:`.pod`,
:mod:`.container`): its images are pulled once per workload through the ``images`` store
(``ImageStore.ensure``; a failure is the kubelet's reason, retried with the crash back-off), and
every instance is a pod in a network namespace of its own, reached through reserved loopback ports
(:mod:`zeroserve.net.netns`). A container without an image runs as a process, as before. With a
``contained_proxy``, every container instance gets the platform's HTTP proxy inside its namespace
(on :data:`.pod.PROXY_PORT`) and its containers ``container_env`` (the proxy variables).

Volumes (:mod:`.volumes`) are made per instance before it starts and bound at their mount paths in
its sandbox; a workload whose ConfigMap or Secret data changed (:func:`~.base.template` unchanged) is
not rolled: running instances get the new files in place and keep their env, new instances get both.
A ``config_error`` (a missing ConfigMap, Secret or key) keeps new instances from being made while
running ones go on, as the kubelet leaves a running pod alone. Instances are named as Knative's pods
(``REVISION-deployment-HASH-XXXXX``, :func:`.volumes.pod_name`), which the downward API shows.

No workload can wedge the runtime: one that can never start (an image, no command, a NUL byte or a
lone surrogate in its command, args or env, uid 0 with ``runAsNonRoot``) is a permanent
:class:`~.base.Failure` before any spawn; anything a spawn raises ends the instance with a start
error (a crash, with back-off), never a start that is waited for in vain.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from pathlib import Path

from zeroserve.api.base import to_wire
from zeroserve.images.base import ImageError, ImageStore, PullPolicy
from zeroserve.net import netns
from zeroserve.runtime import cgroups, container, isolation, logs, pod, probes, supervisor, volumes, zygote
from zeroserve.runtime.base import (
    Endpoint,
    Failure,
    InstanceView,
    OnChange,
    Workload,
    WorkloadKey,
    WorkloadStatus,
    instance_env,
    template,
)
from zeroserve.runtime.envexpand import build_env, expand_argv
from zeroserve.runtime.isolation import Isolation, User
from zeroserve.runtime.process import ContainedProxy, ContainerSpec, Instance, InstanceSpec, SidecarSpec

logger = logging.getLogger(__name__)

CRASH_BACKOFF_INITIAL = 0.5
CRASH_BACKOFF_MAX = 30.0
CRASH_BACKOFF_RESET_AFTER = 10.0
"""Restart delays after a crash: 0.5 s doubling to 30 s, reset by 10 s of uptime."""

SPARE_DELAY = 0.1
"""How long after a forkable workload's last converge its next spare is forked (:class:`_Deployment`):
after the scale-up that used the last one has served its first request. It also waits this long after
the last instance start of any workload (:func:`spare_wait`)."""
SPARE_MAX_WAIT = 10.0
"""How long a wanted spare waits at most for the runtime to be quiet (:func:`spare_wait`)."""


def spare_wait(now: float, wanted_since: float, last_start: float) -> float:
    """Seconds a spare wanted since ``wanted_since`` waits still (pure): until :data:`SPARE_DELAY`
    after the runtime's last instance start, of any revision (a spare is made for a later cold
    start: forking it now would take the CPUs from the cold start under way and its first request),
    but no longer than :data:`SPARE_MAX_WAIT` after it was wanted (a runtime that never goes quiet
    still gets its spares)."""
    return max(0.0, min(last_start + SPARE_DELAY, wanted_since + SPARE_MAX_WAIT) - now)


LOGS_KEPT_PER_REVISION = 20
REAP_INTERVAL = 1.0
REAP_AFTER_EXIT = 10.0
"""Collect orphans of an instance's group every second while it runs and for 10 s after."""

CGROUP_REMOVE_TIMEOUT = 2.0
CGROUP_REMOVE_RETRY = 0.01
"""On close, how long to wait for killed processes to leave their cgroups, and how often to look."""

QUEUE_PROXY_ARGV = (sys.executable, "-S", "-m", "zeroserve.queue")
"""The smallest import graph for the sidecar (``zeroserve queue-proxy`` would load the whole CLI).
``-S`` skips ``site`` (30-50 ms: .pth files, the editable-install finder); :func:`queue_proxy_path`
gives it the few directories it needs instead."""
QUEUE_PROBE_TIMEOUT = 11.0
"""A network probe is held by the queue-proxy until the app is ready, for up to 10 s."""
QUEUE_PROBE_HEADERS = (("K-Network-Probe", "queue"),)

IMAGE_NOT_SUPPORTED = "ImageNotSupported"
COMMAND_MISSING = "CommandMissing"
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
"""kubelet's waiting reason of a container that ended and waits for its restart."""
CREATE_CONTAINER_ERROR = "CreateContainerError"
"""kubelet's reason when creating a container failed: here, building an instance's spec raised."""
FAILED_MOUNT = "FailedMount"
"""kubelet's reason (an event's) when a volume cannot be set up."""


def mounts_volumes(workload: Workload) -> bool:
    """Whether some container of ``workload`` mounts one of its volumes (pure)."""
    names = {v.name for v in workload.volumes}
    return any(m.name in names for c in pod.all_containers(workload) for m in c.volume_mounts)


def workload_failure(workload: Workload, containers: str | None = "no image store is configured") -> Failure | None:
    """The permanent failure of a workload this runtime can never run, or None (pure). ``containers``:
    why this runtime cannot run images (None: it can)."""
    if pod.uses_containers(workload) and containers is not None:
        return Failure(
            IMAGE_NOT_SUPPORTED,
            f"Container images cannot run here ({containers}; image {workload.image!r}): "
            "give the container a command (and args) to run on this machine",
            permanent=True,
        )
    if workload.command or pod.uses_containers(workload):
        why = unpassable_strings(workload)
        if why is None:
            return None
        return Failure(isolation.CREATE_CONFIG_ERROR, f"The container cannot be started: {why}.", permanent=True)
    if workload.image:
        return Failure(
            IMAGE_NOT_SUPPORTED,
            f"The process runtime cannot run container images (image {workload.image!r}): "
            "give the container a command (and args) to run on this machine, "
            "or use a container runtime",
            permanent=True,
        )
    return Failure(COMMAND_MISSING, "The container has neither a command nor an image: give it a command.", True)


def unpassable_strings(workload: Workload) -> str | None:
    """What of ``workload``'s command, args, env or workingDir no process can be given, or None (pure).

    ``execve`` takes NUL-terminated bytes: a NUL byte cannot be passed, nor a lone surrogate
    (no encoding for it), nor an env name with ``=``. Checked before a spawn: ``$(VAR)`` expansion
    only joins strings checked here to the inherited environment, which holds none of them."""
    fields: list[tuple[str, str]] = []
    for c in pod.all_containers(workload):
        where = "" if c.name == workload.container_name else f"container {c.name!r}: "
        fields += [(f"{where}command[{i}]", part) for i, part in enumerate(c.command)]
        fields += [(f"{where}args[{i}]", part) for i, part in enumerate(c.args)]
        fields += [(f"{where}workingDir", c.working_dir)] if c.working_dir is not None else []
        for name, value in c.env:
            if not name or "=" in name:
                return f"{where}env name {name!r} is not a variable name"
            fields += [(f"{where}env name {name!r}", name), (f"{where}env {name!r}", value)]
    for where, text in fields:
        if "\0" in text:
            return f"{where} holds a NUL byte"
        try:
            os.fsencode(text)
        except UnicodeEncodeError:
            return f"{where} holds a character no encoding can carry (a lone surrogate)"
    return None


def workload_limits(workload: Workload) -> cgroups.Limits | str:
    """The instance's ``resources`` (its cgroup is the pod's: the limits of its containers added up
    where every one has one, as the kubelet sizes a pod's cgroup; the requests added up), or why they
    cannot be parsed (pure)."""
    running = (pod.serving_container(workload), *workload.sidecars)
    try:
        limits = [cgroups.limits_of(c.cpu_limit, c.memory_limit) for c in running]
        requests = [cgroups.limits_of(workload.cpu_request, workload.memory_request)]
    except cgroups.QuantityError as err:
        return str(err)
    cpu = [limit.cpu_millis for limit in limits]
    memory = [limit.memory_bytes for limit in limits]
    return cgroups.Limits(
        cpu_millis=sum(c for c in cpu if c) if all(cpu) else None,
        memory_bytes=sum(m for m in memory if m) if all(memory) else None,
        cpu_request_millis=requests[0].cpu_millis,
        memory_request_bytes=requests[0].memory_bytes,
    )


def workload_warnings(workload: Workload, machine: cgroups.Cgroups) -> tuple[str, ...]:
    """What of ``workload`` this runtime accepts but does not honour on ``machine``'s cgroups (pure)."""
    warnings: list[str] = []
    limits = workload_limits(workload)
    why = limits if isinstance(limits, str) else cgroups.unenforced(machine, limits)
    if why is not None:
        pairs = (("cpu", workload.cpu_limit), ("memory", workload.memory_limit))
        set_limits = ", ".join(f"{name}={value}" for name, value in pairs if value)
        warnings.append(f"cpu/memory limits not enforced: {why} ({set_limits})")
    in_container = pod.uses_containers(workload)
    for what, probe in (("readiness", workload.readiness_probe), ("liveness", workload.liveness_probe)):
        warnings.extend(probes.resolve(probe, "127.0.0.1", 0, what=what, container=in_container)[1])
    return tuple(warnings)


def exit_failure(instance: Instance) -> Failure:
    """``ExitCode<N>`` and the termination message (the log's tail) of an instance that ended.

    The Revision reconciler words it as Knative does (``Container failed with: ...``); an exit
    with code 0 has an empty message there ("container exited with no error").
    """
    code = instance.exit_code if instance.exit_code is not None else 128
    if instance.start_error is not None:
        details = instance.start_error
    elif code == 0:
        details = ""
    else:
        details = instance.log.tail() or f"exit code {code}"
        if instance.oom_killed:
            details = f"OOMKilled: the instance used more memory than its limit\n{details}"
        if instance.liveness_failed:
            details = f"liveness probe failed\n{details}"
    return Failure(f"ExitCode{code}", details)


class LocalRuntime:
    """Runs workloads as process groups on ``host`` (see the module docstring)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        environ: Mapping[str, str] | None = None,
        subreaper: bool = True,
        cgroup_root: Path = cgroups.DEFAULT_ROOT,
        platform_env: Mapping[str, str] | None = None,
        drain: Callable[[Endpoint], Awaitable[None]] | None = None,
        queue_proxy: bool = False,
        drain_quiet_period: float = 1.0,
        isolation: isolation.Policy | None = None,
        images: ImageStore | None = None,
        contained_proxy: ContainedProxy | None = None,
        container_env: Mapping[str, str] | None = None,
        queue_proxy_env: Mapping[str, str] | None = None,
    ) -> None:
        """``platform_env``: variables the platform gives every instance after its own env (e.g.
        ``ZEROSERVE_INTERNAL_URL``, where service-to-service calls go); ``PORT`` and ``K_*`` win.
        ``drain(endpoint)``: awaited after a ready instance has left the endpoints and before its
        SIGTERM, so whoever routes to it can let in-flight requests finish (bounded by the grace).
        ``queue_proxy``: run a queue-proxy sidecar with every instance (see the module docstring);
        ``drain_quiet_period`` is its ``QUEUE_DRAIN_QUIET_PERIOD``.
        ``isolation``: run instances as users of their own, sandboxed (probed once; :mod:`.isolation`,
        the data dir hidden from them); None: as we run, unconfined (tests of the runtime itself).
        ``images``: where container images come from (None: containers with an image cannot run);
        containers always run isolated (the default policy when ``isolation`` is None).
        ``contained_proxy``: serves the HTTP proxy each container instance gets inside its namespace
        (on :data:`.pod.PROXY_PORT`); ``container_env``: what the platform gives every container of
        a container instance (the proxy's variables; ``platform_env`` is the host's view);
        ``queue_proxy_env``: more variables for every queue-proxy sidecar (``OBSERVABILITY_CONFIG``)."""
        self.drain = drain
        self.contained_proxy = contained_proxy
        self._container_env = tuple((container_env or {}).items())
        self._queue_proxy_env = dict(queue_proxy_env or {})
        self.images = images
        self._container_isolation: Isolation | None = None
        self._containers_problem: str | None = None
        self._views: container.Views | None = None
        self._volumes: volumes.VolumeManager | None = None
        self._volumes_problem: str | None = None
        self.queue_proxy = queue_proxy
        self._queue_proxy_path = queue_proxy_path() if queue_proxy else ""
        self.drain_quiet_period = drain_quiet_period
        self.data_dir = data_dir
        self._platform_env = tuple((platform_env or {}).items())
        self._policy = isolation
        self.host = host
        self._environ = os.environ if environ is None else environ
        self._deployments: dict[WorkloadKey, _Deployment] = {}
        self._callbacks: list[OnChange] = []
        self._last: dict[WorkloadKey, WorkloadStatus] = {}
        self._last_views: dict[WorkloadKey, tuple[InstanceView, ...]] = {}
        self._turn: dict[WorkloadKey, bool] | None = None
        """The keys told of in this turn of the loop, each with whether it changed again since."""
        self._started_wall: dict[str, float] = {}
        """Unix time each running instance's process started (its pod's ``startedAt``)."""
        self._spares: set[int] = set()
        """Pids of the zygotes' spares, registered with the lifeline (and recorded) when forked."""
        self._probing = 0
        """Instances probing for their first readiness now (:func:`~zeroserve.runtime.process.probe_interval`)."""
        self._shown: dict[Instance, tuple[object, InstanceView]] = {}
        """Each instance's last view and what it showed (:meth:`_view`); dropped when it is gone."""
        self._endpoints: dict[Instance, Endpoint] = {}
        """Each ready instance's endpoint (:meth:`endpoint`); dropped when it is gone."""
        self.last_start = -float("inf")
        """When (loop time) an instance of any workload was last started: spares wait for quiet (:func:`spare_wait`)."""
        self._spare_ports: set[int] = set()
        """The ports the spares listen on (or will: being forked)."""
        self._reapable: dict[int, float] = {}
        self._reaper: asyncio.Task[None] | None = None
        self._removals: set[asyncio.Task[None]] = set()
        """Workloads being stopped (``remove(wait=False)``); ``close`` waits for them."""
        data_dir.mkdir(parents=True, exist_ok=True)
        self.isolation = None if isolation is None else Isolation.probe(isolation, hidden=[data_dir])
        self.cgroups = cgroups.probe(cgroup_root)
        if self.cgroups.available:
            logger.info("enforcing cpu/memory limits with cgroup %s under %s", self.cgroups.version, cgroup_root)
            favor = cgroup_root == cgroups.DEFAULT_ROOT and self._environ.get(cgroups.FAVOR_VARIABLE) != "off"
            if favor and (why := cgroups.favor_dynmods()) is not None:
                logger.info("instances join their cgroups after an RCU grace period (favordynmods: %s)", why)
        else:
            logger.warning("cpu/memory limits will not be enforced: %s", self.cgroups.reason)
        self._cgroup_trash: list[cgroups.InstanceCgroup] = []
        self._records = supervisor.InstanceRecords(data_dir / "instances.jsonl")
        leftovers = self._records.load()
        supervisor.kill_leftovers(leftovers)
        for record in leftovers:
            if (cgroup := self.cgroups.existing(record.id)) is not None:
                self._cgroup_trash.append(cgroup)
        self._empty_cgroup_trash()
        self._records.save()
        volumes.remove_leftovers(data_dir)  # a crashed runtime's Secret files go now, not on first use
        if subreaper and not supervisor.set_child_subreaper():
            logger.warning("PR_SET_CHILD_SUBREAPER failed: orphans of instances will be reaped by init")
        self._lifeline = supervisor.Lifeline()

    # -- Runtime protocol -------------------------------------------------------------------

    async def ensure(self, workload: Workload, replicas: int) -> None:
        deployment = self._deployments.get(workload.key)
        if deployment is None:
            deployment = self._deployments[workload.key] = _Deployment(self, workload, replicas)
        elif deployment.workload == workload and deployment.replicas == replicas:
            return
        else:
            deployment.update(workload, replicas)
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_forever(), name="local runtime reaper")
        deployment.converge()
        self.notify(workload.key)

    def scale(self, key: WorkloadKey, replicas: int) -> bool:
        deployment = self._deployments.get(key)
        if deployment is None:
            return False
        if deployment.replicas != replicas:
            deployment.replicas = replicas
            deployment.converge()
            self.notify(key)
        return True

    async def remove(self, key: WorkloadKey, *, wait: bool = True) -> None:
        """The workload is deleted (its Revision is): once its instances are gone, so are their
        logs (DATA/logs/KEY, DATA/queue-proxy-logs/KEY), as a pod's logs go with the pod."""
        await self._remove(key, wait=wait, discard_logs=True)

    async def _remove(self, key: WorkloadKey, *, wait: bool, discard_logs: bool) -> None:
        deployment = self._deployments.pop(key, None)
        if deployment is None:
            return
        removal = asyncio.create_task(self._shut_down(key, deployment, discard_logs), name=f"remove {key}")
        self._removals.add(removal)
        removal.add_done_callback(self._removals.discard)
        if wait:
            await removal

    async def _shut_down(self, key: WorkloadKey, deployment: _Deployment, discard_logs: bool) -> None:
        await deployment.shutdown()
        if self.isolation is not None and key not in self._deployments:
            self.isolation.release(str(key))
        if discard_logs and key not in self._deployments:
            for root in ("logs", "queue-proxy-logs"):
                await asyncio.to_thread(shutil.rmtree, self.data_dir / root / key.path, ignore_errors=True)
        self.notify(key)

    def status(self, key: WorkloadKey) -> WorkloadStatus | None:
        deployment = self._deployments.get(key)
        return deployment.status() if deployment is not None else None

    def ready_endpoints(self, key: WorkloadKey) -> tuple[Endpoint, ...]:
        """``status(key).endpoints`` without the rest of the status: what the autoscaler scrapes of
        each revision :meth:`serving` lists, each second."""
        deployment = self._deployments.get(key)
        if deployment is None or not deployment.workload.serving:
            return ()
        return tuple(self.endpoint(i) for i in deployment.instances if i.ready)

    def serving(self) -> list[tuple[str, str]]:
        """``(namespace, name)`` of each serving workload with a ready instance (one pass over the
        workloads, most of them at zero: the autoscaler's scrape round asks it each second)."""
        return [
            (key.namespace, key.revision)
            for key, deployment in self._deployments.items()
            if deployment.instances and deployment.workload.serving and any(i.ready for i in deployment.instances)
        ]

    def instances(self, key: WorkloadKey) -> tuple[InstanceView, ...]:
        """Each instance of ``key`` as its pod shows it (the pod mirror's snapshot)."""
        deployment = self._deployments.get(key)
        if deployment is None:
            return ()
        running = tuple(self._view(instance, deployment.restarts.get(instance.id)) for instance in deployment.instances)
        return running + tuple(
            InstanceView(name, False, False, False, restarts=count, waiting=CRASH_LOOP_BACK_OFF, last_exit=last)
            for name in deployment.crashed
            for count, last in (deployment.restarts[name],)
        )

    def _view(self, instance: Instance, restarted: tuple[int, tuple[int, str]] | None) -> InstanceView:
        """:func:`instance_view`, made again only when what it shows changed: :meth:`notify` asks for
        every instance's on each change of one (a burst of n instances made n^2 views; 0 -> 500
        forked instances spent ~1 s of the loop in them)."""
        started = self._started_wall.get(instance.id)
        shown = (started, instance.state, restarted)
        cached = self._shown.get(instance)
        if cached is not None and cached[0] == shown:
            return cached[1]
        view = instance_view(instance, started, restarted)
        self._shown[instance] = (shown, view)
        return view

    def endpoint(self, instance: Instance) -> Endpoint:
        """:func:`endpoint_of` a ready instance, made once (its ports are set once it is ready; the
        status of its revision lists every ready instance's on each change of one)."""
        endpoint = self._endpoints.get(instance)
        if endpoint is None:
            endpoint = self._endpoints[instance] = endpoint_of(self.host, instance)
        return endpoint

    def workload(self, key: WorkloadKey) -> Workload | None:
        """What ``key`` runs now (None: nothing)."""
        deployment = self._deployments.get(key)
        return deployment.workload if deployment is not None else None

    def instance_names(self, key: WorkloadKey) -> dict[tuple[str, int], str]:
        """The pod name of each ready instance of ``key`` by the address of its endpoint."""
        deployment = self._deployments.get(key)
        if deployment is None:
            return {}
        return {(self.host, i.serving_port): i.id for i in deployment.instances if i.ready}

    def keys(self) -> list[WorkloadKey]:
        return list(self._deployments)

    def subscribe(self, callback: OnChange) -> None:
        self._callbacks.append(callback)

    async def close(self) -> None:
        # up stops: the instances go, their logs stay (`zeroserve logs` after the next up)
        await asyncio.gather(*(self._remove(key, wait=True, discard_logs=False) for key in list(self._deployments)))
        while self._removals:
            await asyncio.gather(*list(self._removals))
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        self._records.close()
        lifeline = self._lifeline.close()
        if lifeline is not None:
            await asyncio.to_thread(lifeline.wait)
        self._reap_once()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CGROUP_REMOVE_TIMEOUT):
                while self._cgroup_trash:
                    await asyncio.sleep(CGROUP_REMOVE_RETRY)
                    self._reap_once()
        for cgroup in self._cgroup_trash:
            logger.warning("cgroup %r still holds processes %s: left in place", cgroup, cgroup.pids())
        if self._views is not None:
            self._views.close()
        if self._volumes is not None:
            self._volumes.close()

    def usage(self, key: WorkloadKey) -> tuple[cgroups.Usage, ...]:
        """The cgroup usage (memory, cpu time, pids) of each running instance of ``key``."""
        deployment = self._deployments.get(key)
        if deployment is None:
            return ()
        return tuple(i.cgroup.usage() for i in deployment.instances if i.cgroup is not None and not i.stopping)

    # -- used by deployments and instances ----------------------------------------------------

    def notify(self, key: WorkloadKey) -> None:
        """Call the subscribers if ``status(key)`` or ``instances(key)`` differs from what they last saw.

        The first change of a key in a turn of the event loop is told at once (a cold start's
        instance reaches the gateway before ``scale`` returns); later changes of the same key in
        that turn are told once, when the turn's callbacks have run. Each telling lists the
        workload's instances to every subscriber, so a burst of n instances becoming ready in the
        same turns (a scale from 0 to 1,000) would otherwise cost n tellings of n instances."""
        turn = self._turn
        if turn is not None and key in turn:
            turn[key] = True
            return
        if turn is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a synchronous caller): nothing to wait for
                self._tell(key)
                return
            turn = self._turn = {}
            loop.call_soon(self._end_turn)
        turn[key] = False
        self._tell(key)

    def _end_turn(self) -> None:
        turn, self._turn = self._turn, None
        for key, again in (turn or {}).items():
            if again:
                self._tell(key)

    def _tell(self, key: WorkloadKey) -> None:
        status, views = self.status(key), self.instances(key)
        if status == self._last.get(key) and views == self._last_views.get(key, ()):
            return
        if status is None:
            self._last.pop(key, None)
        else:
            self._last[key] = status
        if views:
            self._last_views[key] = views
        else:
            self._last_views.pop(key, None)
        for callback in self._callbacks:
            try:
                callback(key)
            except Exception:
                logger.exception("runtime subscriber %r failed for %s", callback, key)

    def refusal(self, workload: Workload) -> Failure | None:
        """Why ``workload`` can never run here (permanent), or None."""
        if pod.uses_containers(workload):
            failure = workload_failure(workload, self.containers_problem())
        else:
            failure = workload_failure(workload)
            if failure is None and isinstance(user := self._user(workload), Failure):
                return user
        if failure is None and mounts_volumes(workload) and (why := self.volumes_problem(workload)) is not None:
            return Failure(FAILED_MOUNT, f"Volumes cannot be mounted here: {why}", permanent=True)
        return failure

    def volumes_problem(self, workload: Workload) -> str | None:
        """Why ``workload``'s volumes cannot be mounted here (None: they can)."""
        if not pod.uses_containers(workload) or any(not c.image for c in pod.all_containers(workload)):
            if self.isolation is None:
                return "instances run without a sandbox (no isolation policy)"
            if not self.isolation.sandboxed:
                return f"instances share zeroserve up's mount namespace: {self.isolation.machine.no_sandbox}"
        self._volume_manager()
        return self._volumes_problem

    def _volume_manager(self) -> volumes.VolumeManager | None:
        """The instances' volumes and own files (made on first use; None when they cannot be)."""
        if self._volumes is None and self._volumes_problem is None:
            try:
                self._volumes = volumes.VolumeManager(self.data_dir, group=container.IMAGES_GID)
            except OSError as err:
                self._volumes_problem = f"their tmpfs cannot be made ({err}; zeroserve up must run as root)"
                logger.warning("volumes cannot be mounted here: %s", self._volumes_problem)
        return self._volumes

    def warnings(self, workload: Workload) -> tuple[str, ...]:
        """What of ``workload`` is accepted but not honoured here, for its Revision's condition."""
        found = workload_warnings(workload, self.cgroups) + workload.config_warnings
        found += tuple(
            f"emptyDir {v.name}: sizeLimit is not enforced on disk (it is with medium: Memory)."
            for v in workload.volumes
            if v.kind == "emptyDir" and v.medium != volumes.MEMORY_MEDIUM and v.size_limit is not None
        )
        if self.isolation is not None and not pod.uses_containers(workload):
            found += self.isolation.warnings + self.isolation.notes(workload.run_as_user, workload.run_as_group)
        if workload.python_app and not forkable(workload):
            problem = zygote.parse_target(workload.python_app) or (
                f"{zygote.ANNOTATION} is ignored: an image, other containers or volumes need an instance of their own"
            )
            found += (f"{problem}; the command runs instead.",)
        return found

    def containers_problem(self) -> str | None:
        """Why container instances cannot run here (None: they can); looked into once."""
        if self.images is None:
            return "no image store is configured"
        if self._container_isolation is None:
            self._container_isolation = self.isolation or Isolation.probe(isolation.Policy(), hidden=[self.data_dir])
            self._containers_problem = container.unavailable(self._container_isolation.machine, netns.available())
            if self._containers_problem is None:
                try:
                    self._views = container.Views(self.data_dir)
                except OSError as err:
                    self._containers_problem = f"the images cannot be shown to the sandboxes: {err}"
            if self._containers_problem is not None:
                logger.warning("container images cannot run here: %s", self._containers_problem)
        return self._containers_problem

    async def pull(self, workload: Workload) -> dict[str, pod.Pulled]:
        """Every image of ``workload``, pulled (``ImageStore.ensure``), its rootfs opened and prepared."""
        assert self.images is not None and self._views is not None
        pulled: dict[str, pod.Pulled] = {}
        try:
            for ref, policy in pod.images_of(workload).items():
                image = await self.images.ensure(ref, _pull_policy(policy), workload.image_pull_keyring)
                view = self._views.view(image.rootfs)
                rootfs = await asyncio.to_thread(_open_rootfs, view, pod.working_dirs(workload, ref, image))
                pulled[ref] = pod.Pulled(image, rootfs)
        except BaseException:
            for done in pulled.values():
                done.rootfs.close()
            raise
        return pulled

    def _user(self, workload: Workload) -> User | Failure | None:
        if self.isolation is None:
            return None
        return self.isolation.user_for(
            str(workload.key), workload.run_as_user, workload.run_as_group, workload.run_as_non_root
        )

    def make_spec(
        self,
        workload: Workload,
        instance_id: str,
        pulled: Mapping[str, pod.Pulled] | None = None,
        *,
        port: int | None = None,
    ) -> InstanceSpec:
        """What an instance runs; ``port``: the app's (a spare's, which listens on it), else a free one."""
        if pod.uses_containers(workload):
            return self._container_spec(workload, instance_id, pulled or {})
        user = self._user(workload)
        if isinstance(user, Failure):
            raise ValueError(user.message)
        # a relative workingDir is the app's below the directory up runs in; made absolute here, since
        # inside the sandbox that directory may not exist (under the private /tmp, only the working
        # directory is bound back)
        cwd = None if workload.working_dir is None else os.path.join(os.getcwd(), workload.working_dir)
        jail = None
        inherited: Mapping[str, str] = self._environ
        dirs, values = self._instance_volumes(instance_id)
        if self.isolation is not None and user is not None:
            keep_pwd = any(name == "PWD" for name, _ in workload.env)
            binds = volumes.binds(workload.volume_mounts, dirs)
            jail = self.isolation.jail(user, os.path.join(os.getcwd(), cwd or ""), keep_pwd=keep_pwd, binds=binds)
            inherited = {name: value for name, value in self._environ.items() if name != "TMPDIR"}
            if user.uid != self.isolation.machine.own.uid:
                inherited["HOME"] = "/"
        in_use = self._ports_in_use()
        if port is None:
            port = _free_port(self.host, in_use) if workload.serving else 0
        runtime_env = self._platform_env
        if workload.serving:
            runtime_env += (
                ("PORT", str(port)),
                ("K_SERVICE", workload.service),
                ("K_CONFIGURATION", workload.configuration),
                ("K_REVISION", workload.key.revision),
            )
        env = build_env(inherited, instance_env(workload.env, workload.instance_fields, values), runtime_env)
        liveness = None
        if workload.liveness_probe is not None:
            liveness = probes.resolve(
                workload.liveness_probe, self.host, port, what="liveness", declared_port=not workload.serving
            )[0]
        log_dir = self.data_dir / "logs" / workload.key.path
        logs.prune(log_dir, keep=LOGS_KEPT_PER_REVISION)
        readiness = pod.readiness_of(workload, self.host, port)
        sidecar = None
        containers: tuple[ContainerSpec, ...] = ()
        inits: tuple[ContainerSpec, ...] = ()
        if workload.sidecars or workload.init_containers:  # process containers of one instance
            containers, inits = self._process_containers(workload, instance_id, inherited, log_dir)
        if self.queue_proxy and workload.serving:
            sidecar = self._sidecar_spec(workload, instance_id, port, in_use | {port})
            readiness = probes.ProbeSpec(
                "http",
                self.host,
                sidecar.serving_port,
                headers=QUEUE_PROBE_HEADERS,
                timeout=QUEUE_PROBE_TIMEOUT,
                period=readiness.period,
                failure_threshold=readiness.failure_threshold,
            )
        return InstanceSpec(
            argv=tuple(expand_argv(workload.command, workload.args, env)),
            env=env,
            cwd=cwd,
            host=self.host,
            port=port,
            readiness=readiness,
            liveness=liveness,
            sidecar=sidecar,
            grace=float(workload.termination_grace_seconds),
            log_path=log_dir / f"{instance_id}.log",
            owner=str(workload.key),
            limits=self.enforceable_limits(workload),
            jail=jail,
            name=workload.container_name,
            containers=containers,
            init_containers=inits,
        )

    def _process_containers(
        self, workload: Workload, instance_id: str, inherited: Mapping[str, str], log_dir: Path
    ) -> tuple[tuple[ContainerSpec, ...], tuple[ContainerSpec, ...]]:
        """The sidecar and init containers of a workload without images: processes (on our network)."""
        policy = self.isolation or Isolation(isolation.Policy(users="inherit", sandbox=False), _unconfined())
        dirs, values = self._instance_volumes(instance_id)
        planner = pod.Planner(workload, policy, {}, inherited, instance_id, dirs, values)
        spec = pod.instance_spec(
            workload,
            planner,
            log_dir=log_dir,
            instance_id=instance_id,
            base=InstanceSpec((), {}, None, self.host, 0, probes.ProbeSpec("tcp", self.host, 0), None, 0.0, log_dir),
        )
        return spec.containers, spec.init_containers

    def _container_spec(self, workload: Workload, instance_id: str, pulled: Mapping[str, pod.Pulled]) -> InstanceSpec:
        """A container instance (:mod:`.pod`): every container planned, a network namespace of its own."""
        box = self._container_isolation
        assert box is not None, "containers_problem() is asked before any container instance is made"
        log_dir = self.data_dir / "logs" / workload.key.path
        logs.prune(log_dir, keep=LOGS_KEPT_PER_REVISION)
        inside = pod.INSIDE
        readiness = probes.ProbeSpec("tcp", inside, workload.container_port)
        sidecar = None
        if self.queue_proxy and workload.serving:
            base_sidecar = self._sidecar_spec(workload, instance_id, workload.container_port, set())
            sidecar = pod.queue_sidecar(workload, base_sidecar)
            user_readiness = probes.resolve(workload.readiness_probe, inside, workload.container_port)[0]
            readiness = probes.ProbeSpec(
                "http",
                inside,
                sidecar.serving_port,
                headers=QUEUE_PROBE_HEADERS,
                timeout=QUEUE_PROBE_TIMEOUT,
                period=user_readiness.period,
                failure_threshold=user_readiness.failure_threshold,
            )
        inherited = {name: value for name, value in self._environ.items() if name != "TMPDIR"}
        base = InstanceSpec(
            argv=(),
            env={},
            cwd=None,
            host=self.host,
            port=workload.container_port,
            readiness=readiness,
            liveness=None,
            sidecar=sidecar,
            grace=float(workload.termination_grace_seconds),
            log_path=log_dir / f"{instance_id}.log",
            owner=str(workload.key),
            limits=self.enforceable_limits(workload),
            proxy_port=pod.PROXY_PORT if self.contained_proxy is not None else None,
        )
        dirs, values = self._instance_volumes(instance_id)
        files = self._volumes.files(instance_id) if self._volumes is not None and self._volumes.has(instance_id) else {}
        cgroup = container.CgroupView.of(self.cgroups, instance_id) if base.limits is not None else None
        hostname = container.hostname_of(instance_id)
        planner = pod.Planner(
            workload, box, pulled, inherited, hostname, dirs, values, self._container_env, files=files, cgroup=cgroup
        )
        return pod.instance_spec(workload, planner, log_dir=log_dir, instance_id=instance_id, base=base)

    def _instance_volumes(self, instance_id: str) -> tuple[Mapping[str, str], Mapping[str, str]]:
        """The instance's volume directories by name and its own field values (pod name, uid...)."""
        if self._volumes is not None and self._volumes.has(instance_id):
            return self._volumes.dirs(instance_id), self._volumes.values(instance_id)
        return {}, volumes.instance_values(instance_id)

    def create_volumes(self, workload: Workload, instance_id: str) -> None:
        """Make the instance's volumes (before its spec, which binds them); a container instance's own
        ``/etc/hosts`` and ``/etc/resolv.conf`` too."""
        contained = pod.uses_containers(workload)
        if not contained and (self._volumes is None or not mounts_volumes(workload)):
            return
        if (manager := self._volume_manager()) is not None:
            hostname = container.hostname_of(instance_id)
            files = container.etc_files(workload.key.namespace, hostname) if contained else None
            manager.create(instance_id, instance_id, workload.volumes, files)

    def own_volumes(self, instance_id: str, spec: InstanceSpec) -> None:
        """Hand the instance's volumes to the user its serving container runs as."""
        if self._volumes is not None and self._volumes.has(instance_id) and spec.jail is not None:
            self._volumes.own(instance_id, spec.jail.user)

    def reclaim(self, key: WorkloadKey, instance_id: str) -> None:
        """The name of a gone instance is used again (a restart): its cgroup, if still being removed, is
        left to the new instance (mkdir reuses it), never emptied under it; its log becomes
        ``<name>.previous.log`` (``kubectl logs --previous``), replacing the one before."""
        self._cgroup_trash = [c for c in self._cgroup_trash if all(p.name != instance_id for p in c.dirs.values())]
        log = self.data_dir / "logs" / key.path / f"{instance_id}.log"
        with contextlib.suppress(FileNotFoundError):
            os.replace(log, log.with_name(f"{instance_id}.previous.log"))

    def remove_volumes(self, instance_id: str) -> None:
        if self._volumes is not None:
            self._volumes.remove(instance_id)

    def update_volumes(self, instance_id: str, workload: Workload) -> None:
        """New data of the workload's files volumes, written in place into a running instance's."""
        if self._volumes is not None:
            try:
                self._volumes.update(instance_id, workload.volumes)
            except OSError as err:
                logger.warning("volumes of instance %s cannot be updated: %s", instance_id, err)

    def _sidecar_spec(self, workload: Workload, instance_id: str, user_port: int, in_use: set[int]) -> SidecarSpec:
        serving = _free_port(self.host, in_use)
        admin = _free_port(self.host, in_use | {serving})
        probe = "" if workload.readiness_probe is None else json.dumps(to_wire(workload.readiness_probe))
        env = {
            **self._environ,
            "PYTHONPATH": self._queue_proxy_path,
            "CONTAINER_CONCURRENCY": str(workload.container_concurrency),
            "USER_PORT": str(user_port),
            "QUEUE_SERVING_PORT": str(serving),
            "QUEUE_ADMIN_PORT": str(admin),
            "REVISION_TIMEOUT_SECONDS": str(workload.timeout_seconds),
            "REVISION_RESPONSE_START_TIMEOUT_SECONDS": str(workload.response_start_timeout_seconds),
            "REVISION_IDLE_TIMEOUT_SECONDS": str(workload.idle_timeout_seconds),
            "USER_PROTOCOL": "h2c" if workload.h2c else "http1",
            "SERVING_READINESS_PROBE": probe,
            "SERVING_NAMESPACE": workload.key.namespace,
            "SERVING_SERVICE": workload.service,
            "SERVING_CONFIGURATION": workload.configuration,
            "SERVING_REVISION": workload.key.revision,
            "SERVING_POD": instance_id,
            "QUEUE_DRAIN_QUIET_PERIOD": str(self.drain_quiet_period),
            **self._queue_proxy_env,
        }
        log_dir = self.data_dir / "queue-proxy-logs" / workload.key.path
        logs.prune(log_dir, keep=LOGS_KEPT_PER_REVISION)
        return SidecarSpec(QUEUE_PROXY_ARGV, env, serving, admin, log_dir / f"{instance_id}.log")

    def enforceable_limits(self, workload: Workload) -> cgroups.Limits | None:
        """The limits an instance's cgroup gets; empty Limits still give it a cgroup, for accounting
        (the HPA autoscaler reads its cpu/memory usage); None when cgroups are not usable here."""
        if not self.cgroups.available:
            return None
        limits = workload_limits(workload)
        if isinstance(limits, str) or cgroups.unenforced(self.cgroups, limits) is not None:
            return cgroups.Limits()
        return limits

    def started(self, instance: Instance) -> None:
        assert instance.pid is not None
        if instance.pid in self._spares:  # registered when it was forked (a write less on the cold path)
            self._spares.discard(instance.pid)
        else:
            self._lifeline.register(instance.pid)
        if instance.sidecar_pid is not None:
            self._lifeline.register(instance.sidecar_pid)
        for pid in instance.other_pids:
            self._lifeline.register(pid)
        record = supervisor.InstanceRecord(instance.id, instance.spec.owner, instance.pid, instance.start_ticks)
        self._records.add(record)
        self._started_wall[instance.id] = time.time()
        for key, deployment in self._deployments.items():  # its pod is Running now
            if instance in deployment.instances:
                asyncio.get_running_loop().call_soon(self.notify, key)

    def probing(self, delta: int) -> int:
        self._probing += delta
        return self._probing

    def _ports_in_use(self) -> set[int]:
        in_use = {port for d in self._deployments.values() for instance in d.instances for port in instance.ports}
        return in_use | self._spare_ports

    def spare_port(self) -> int:
        """A port for a spare to listen on, kept from instances until the spare is an instance or goes."""
        port = _free_port(self.host, self._ports_in_use())
        self._spare_ports.add(port)
        return port

    def spare_port_done(self, port: int) -> None:
        self._spare_ports.discard(port)

    def spare_made(self, spare: zygote.Spare, owner: str) -> None:
        """Recorded and registered with the lifeline as an instance is (a crashed up's next start kills it and
        removes its cgroup; the lifeline kills it when up dies), ahead of the scale-up that starts it."""
        stat = supervisor.read_stat(spare.pid)
        spare.start_ticks = stat.start_ticks if stat else 0
        self._records.add(supervisor.InstanceRecord(spare.id, owner, spare.pid, spare.start_ticks))
        self._lifeline.register(spare.pid)
        self._spares.add(spare.pid)

    def discard_spare(self, spare: zygote.Spare) -> None:
        spare.discard()
        self._spare_ports.discard(spare.port)
        self._records.discard(spare.id)
        if spare.pid in self._spares:
            self._spares.discard(spare.pid)
            self._lifeline.unregister(spare.pid)
        if spare.cgroup is not None:
            self.trash_cgroup(spare.cgroup)

    def trash_cgroup(self, cgroup: cgroups.InstanceCgroup) -> None:
        """Remove ``cgroup`` once its processes are gone (retried by the reaper)."""
        self._cgroup_trash.append(cgroup)
        self._empty_cgroup_trash()

    def zygote_started(self, pid: int) -> None:
        self._lifeline.register(pid)

    def zygote_gone(self, pid: int) -> None:
        self._lifeline.unregister(pid)
        self._reapable[pid] = asyncio.get_running_loop().time() + REAP_AFTER_EXIT

    def gone(self, instance: Instance) -> None:
        if instance.sidecar_pid is not None:
            self._lifeline.unregister(instance.sidecar_pid)
        for pid in instance.other_pids:
            self._lifeline.unregister(pid)
            self._reapable[pid] = asyncio.get_running_loop().time() + REAP_AFTER_EXIT
        if instance.pid is not None:
            self._lifeline.unregister(instance.pid)
            self._reapable[instance.pid] = asyncio.get_running_loop().time() + REAP_AFTER_EXIT
        if instance.cgroup is not None:
            self._cgroup_trash.append(instance.cgroup)
            self._empty_cgroup_trash()
        self.remove_volumes(instance.id)
        self._records.discard(instance.id)
        self._started_wall.pop(instance.id, None)
        self._shown.pop(instance, None)
        self._endpoints.pop(instance, None)

    def _empty_cgroup_trash(self) -> None:
        """Remove the cgroups of gone instances; SIGKILL what still runs in one (kubelet's way)."""
        busy: list[cgroups.InstanceCgroup] = []
        for cgroup in self._cgroup_trash:
            if not cgroup.remove():
                for pid in cgroup.pids():
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                busy.append(cgroup)
        self._cgroup_trash = busy

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(REAP_INTERVAL)
            self._reap_once()

    def _reap_once(self) -> None:
        now = asyncio.get_running_loop().time()
        for pgid, until in list(self._reapable.items()):
            supervisor.reap_group(pgid, pgid)
            if until < now:
                del self._reapable[pgid]
        for deployment in self._deployments.values():
            for instance in deployment.instances:
                for pid in (instance.pid, *instance.other_pids):
                    if pid is not None:
                        supervisor.reap_group(pid, pid)
        self._empty_cgroup_trash()


class _Deployment:
    """The instances of one workload key and the logic that converges them (kubelet + ReplicaSet)."""

    def __init__(self, runtime: LocalRuntime, workload: Workload, replicas: int) -> None:
        self.runtime = runtime
        self.key = workload.key
        self.workload = workload
        self.generation = 1
        self.replicas = replicas
        self.instances: list[Instance] = []
        self.failure: Failure | None = None
        self.warnings = runtime.warnings(workload)
        self.backoff = CRASH_BACKOFF_INITIAL
        self.not_before = 0.0
        self.removed = False
        self._timer: asyncio.TimerHandle | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        self.pulled: dict[str, pod.Pulled] | None = None
        """The images of the current workload, once pulled (container workloads)."""
        self._opened: list[pod.Pulled] = []
        self._pulling: asyncio.Task[None] | None = None
        self.restarts: dict[str, tuple[int, tuple[int, str]]] = {}
        """Per instance name: restarts so far and how it ended the last time."""
        self.crashed: list[str] = []
        """Names of crashed instances waiting for their restart: the next instances made take them (the
        kubelet restarts a pod's container in place, so its name and restart count go on)."""
        self.zygotes: dict[int, zygote.Zygote] = {}
        """Per generation, the zygote its instances fork from (``Workload.python_app``)."""
        self.spare: zygote.Spare | None = None
        """A child of the current generation's zygote forked ahead, in the cgroup of the instance it
        will be: the next scale-up starts it instead of forking (:meth:`_keep_spare`)."""
        self._sparing: asyncio.Task[None] | None = None
        self._spare_timer: asyncio.TimerHandle | None = None
        self._spare_wanted: float | None = None
        """Since when (loop time) the next spare is wanted: it waits for a quiet runtime, not forever."""
        self._spare_spec: tuple[Workload, InstanceSpec] | None = None
        """The spare's instance spec, made once it was forked, and the workload it was made from: a
        scale-up that starts it uses it while the workload is that one (not a thing to make then)."""

    def update(self, workload: Workload, replicas: int) -> None:
        if template(workload) != template(self.workload):
            self.workload = workload
            self.generation += 1
            self._forget_crashed(0)
            self.pulled = None
            self.failure = None
            self.warnings = self.runtime.warnings(workload)
            self.backoff, self.not_before = CRASH_BACKOFF_INITIAL, 0.0
        elif workload != self.workload:  # only the ConfigMaps' and Secrets' data: no rollout
            if self.failure is not None and self.failure == self.workload.config_error:
                self.failure = None
            self.workload = workload
            self.warnings = self.runtime.warnings(workload)
            for instance in self.instances:
                if instance.generation == self.generation and not instance.stopping:
                    self.runtime.update_volumes(instance.id, workload)
        self.replicas = replicas

    def status(self) -> WorkloadStatus:
        serving = [instance for instance in self.instances if instance.ready]
        endpoints = tuple(self.runtime.endpoint(instance) for instance in serving)
        return WorkloadStatus(
            desired=self.replicas,
            ready=len(serving),
            endpoints=endpoints if self.workload.serving else (),
            failure=self.failure,
            warnings=self.warnings,
        )

    def converge(self) -> None:
        if self.removed:
            return
        if (permanent := self.runtime.refusal(self.workload)) is not None:
            self.failure = permanent
            for instance in self.instances:
                self._stop(instance)
            return
        live = [instance for instance in self.instances if not instance.stopping]
        current = [instance for instance in live if instance.generation == self.generation]
        missing = self.replicas - len(current)
        blocked = self.workload.config_error
        if blocked is not None and not any(instance.ready for instance in current):
            self.failure = blocked  # reported at once, even at zero replicas (no instance could start)
        self._forget_crashed(max(missing, 0) if blocked is None else 0)
        if missing > 0 and blocked is None:
            self._scale_up(missing)
        elif missing < 0:
            surplus = sorted(current, key=lambda instance: (instance.ready, -self.instances.index(instance)))
            for instance in surplus[:-missing]:
                self._stop(instance)
        if sum(instance.ready for instance in current) >= self.replicas:
            for instance in live:
                if instance.generation != self.generation:
                    self._stop(instance)
        for generation in [g for g in self.zygotes if g != self.generation]:
            if not any(instance.generation == generation for instance in self.instances):
                self._close_zygote(self.zygotes.pop(generation))
        self._keep_spare()

    async def shutdown(self) -> None:
        self.removed = True
        if self._timer is not None:
            self._timer.cancel()
        if self._pulling is not None:
            self._pulling.cancel()
        if self._spare_timer is not None:
            self._spare_timer.cancel()
        if self._sparing is not None:
            self._sparing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sparing
        self._drop_spare()
        for instance in self.instances:
            self._stop(instance)
        while self._stopping:
            await asyncio.gather(*list(self._stopping))
        for generation in list(self.zygotes):
            await self.zygotes.pop(generation).close()
        for pulled in self._opened:
            pulled.rootfs.close()

    def _scale_up(self, count: int) -> None:
        if self._backing_off():
            return
        if self.pulled is None and pod.uses_containers(self.workload):
            if self._pulling is None:
                self._pulling = asyncio.create_task(self._pull(self.generation), name=f"pull {self.key}")
            return
        for _ in range(count):
            spare = None
            if self.crashed:  # restarted in place: the same name, its restart count goes on
                instance_id = self.crashed.pop(0)
                self.runtime.reclaim(self.key, instance_id)
            elif (spare := self._take_spare()) is not None:  # named when it was forked
                instance_id = spare.id
            else:
                instance_id = self._new_name()
            try:
                self.runtime.create_volumes(self.workload, instance_id)
                if spare is not None and (prepared := self._prepared(spare)) is not None:
                    spec = prepared
                elif self.pulled is None:  # a process workload
                    port = None if spare is None else spare.port  # it listens there already
                    spec = self.runtime.make_spec(self.workload, instance_id, port=port)
                else:
                    spec = self.runtime.make_spec(self.workload, instance_id, self.pulled)
                if forkable(self.workload) and spec.zygote is None:
                    spec = self._forked(spec, spare)
                self.runtime.own_volumes(instance_id, spec)
            except Exception as err:  # a failure to report (and retry after the back-off), never a raise
                if spare is not None:
                    self.runtime.discard_spare(spare)
                self.runtime.remove_volumes(instance_id)
                self.restarts.pop(instance_id, None)
                logger.warning("instance of %s cannot be made: %s: %s", self.key, type(err).__name__, err)
                self._failed(Failure(CREATE_CONTAINER_ERROR, f"{type(err).__name__}: {err}"), 0.0)
                self._backing_off()
                return
            instance = Instance(
                instance_id,
                spec,
                self.generation,
                tracker=self.runtime,
                on_change=self._instance_changed,
                machine_cgroups=self.runtime.cgroups,
                proxy=self.runtime.contained_proxy if spec.own_network else None,
            )
            self.instances.append(instance)
            self.runtime.last_start = asyncio.get_running_loop().time()
            instance.start()
            if spare is not None:  # the instance's now
                self.runtime.spare_port_done(spare.port)
            if instance.ready and not self._permanent():  # started from a spare: ready at once
                self.failure = None

    async def _pull(self, generation: int) -> None:
        """The kubelet's image pull before the first instance: a failure is reported with its reason
        (``ErrImagePull``...) and tried again after the back-off."""
        try:
            pulled = await self.runtime.pull(self.workload)
        except ImageError as err:
            logger.warning("images of %s: %s: %s", self.key, err.reason, err.message)
            if generation == self.generation and not self.removed:
                self._failed(Failure(err.reason, err.message), 0.0)
                self._backing_off()
                self.runtime.notify(self.key)
            return
        except Exception as err:  # an unpack that cannot be opened: reported, retried
            logger.warning("images of %s cannot be prepared: %s: %s", self.key, type(err).__name__, err)
            if generation == self.generation and not self.removed:
                self._failed(Failure(CREATE_CONTAINER_ERROR, f"{type(err).__name__}: {err}"), 0.0)
                self._backing_off()
                self.runtime.notify(self.key)
            return
        finally:
            self._pulling = None
        self._opened.extend(pulled.values())
        if self.removed:
            for done in pulled.values():
                done.rootfs.close()
            return
        if generation == self.generation:
            self.pulled = pulled
            if self.failure is not None and self.failure.reason.startswith("ErrImage"):
                self.failure = None
        self.converge()
        self.runtime.notify(self.key)

    def _new_name(self) -> str:
        return volumes.pod_name(self.key.revision, f"{self.key}/{self.generation}", secrets.token_bytes(8))

    def _prepared(self, spare: zygote.Spare) -> InstanceSpec | None:
        """The spec made for ``spare`` ahead, if the workload is still the one it was made from."""
        prepared, self._spare_spec = self._spare_spec, None
        if prepared is None or prepared[0] is not self.workload or prepared[1].spare is not spare:
            return None
        return prepared[1]

    def _take_spare(self) -> zygote.Spare | None:
        """The spare, if it is the current generation's and still waiting (else it goes)."""
        spare, self.spare = self.spare, None
        if spare is None:
            return None
        if spare.generation == self.generation and spare.alive():
            return spare
        self._spare_spec = None
        self.runtime.discard_spare(spare)
        return None

    def _drop_spare(self) -> None:
        spare, self.spare, self._spare_spec = self.spare, None, None
        if spare is not None:
            self.runtime.discard_spare(spare)

    def _keep_spare(self) -> None:
        """Fork the next spare of a forkable workload whose zygote runs, :data:`SPARE_DELAY` after the
        last scale-up settled (not while an instance starts or the request that woke it is served:
        the fork would compete with them for the CPUs). Never starts a zygote (the first scale-up
        does); an old generation's spare, or a dead one, goes."""
        if self.spare is not None and (self.spare.generation != self.generation or not self.spare.alive()):
            self._drop_spare()
        if self._spare_timer is not None:
            self._spare_timer.cancel()
            self._spare_timer = None
        if self._wants_spare() is None:
            self._spare_wanted = None
            return
        loop = asyncio.get_running_loop()
        if self._spare_wanted is None:
            self._spare_wanted = loop.time()
        self._spare_timer = loop.call_later(SPARE_DELAY, self._fork_spare)

    def _wants_spare(self) -> zygote.Zygote | None:
        """The zygote to fork a spare from now, if one is wanted."""
        if self.removed or self.spare is not None or self._sparing is not None or not forkable(self.workload):
            return None
        forker = self.zygotes.get(self.generation)
        if forker is None or not forker.running or self._backing_off():
            return None
        if any(instance.state == "starting" for instance in self.instances):
            return None
        return forker

    def _fork_spare(self) -> None:
        self._spare_timer = None
        forker = self._wants_spare()
        if forker is None:
            self._spare_wanted = None
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        wait = spare_wait(now, now if self._spare_wanted is None else self._spare_wanted, self.runtime.last_start)
        if wait > 0:  # another revision's cold start is under way: the spare forks after it
            self._spare_timer = loop.call_later(wait, self._fork_spare)
            return
        self._spare_wanted = None
        self._sparing = asyncio.create_task(self._make_spare(forker, self.generation), name=f"spare of {self.key}")

    async def _make_spare(self, forker: zygote.Zygote, generation: int) -> None:
        instance_id = self._new_name()
        cgroup = None
        port = self.runtime.spare_port()
        try:
            limits = self.runtime.enforceable_limits(self.workload)
            if limits is not None:
                cgroup = self.runtime.cgroups.create(instance_id, limits)
            procs = () if cgroup is None else cgroup.procs_files
            spare = await forker.prepare(instance_id, procs, self.runtime.host, port)
        except BaseException as err:  # the zygote died or cannot fork (the next scale-up forks, and says why)
            self.runtime.spare_port_done(port)
            if cgroup is not None:
                self.runtime.trash_cgroup(cgroup)
            if not isinstance(err, Exception):
                raise  # cancelled: the workload is being removed
            logger.info("no spare for %s: %s: %s", self.key, type(err).__name__, err)
            return
        finally:
            self._sparing = None
        spare.cgroup, spare.generation = cgroup, generation
        self.runtime.spare_made(spare, str(self.key))
        if self.removed or generation != self.generation or self.zygotes.get(generation) is not forker:
            self.runtime.discard_spare(spare)
            return
        self.spare = spare
        try:  # made now, not on the scale-up that starts it (as it would be made then: a failure waits for it)
            spec = self.runtime.make_spec(self.workload, spare.id, port=spare.port)
        except Exception:
            return
        self._spare_spec = (self.workload, self._forked(spec, spare))
        spare.prepare_env(spec.env)
        with contextlib.suppress(OSError):  # else the instance opens it (and says why it cannot)
            spare.open_log(spec.log_path)

    def _forked(self, spec: InstanceSpec, spare: zygote.Spare | None = None) -> InstanceSpec:
        """``spec`` forked from the generation's zygote (made now if there is none: it starts on the
        first fork, with this instance's environment, sandbox and working directory), or started
        from ``spare``, forked ahead."""
        forker = self.zygotes.get(self.generation)
        if forker is None:
            forker = self.zygotes[self.generation] = zygote.Zygote(
                zygote.ZygoteSpec(
                    target=self.workload.python_app,
                    python=zygote.python_of(spec.argv),
                    env=spec.env,
                    cwd=spec.cwd,
                    jail=spec.jail,
                    log_path=spec.log_path.with_name("zygote.log"),
                    owner=str(self.key),
                ),
                started=self.runtime.zygote_started,
                gone=self.runtime.zygote_gone,
            )
        return replace(spec, jail=None, zygote=forker, spare=spare)

    def _close_zygote(self, forker: zygote.Zygote) -> None:
        task = asyncio.create_task(forker.close(), name=f"close zygote of {self.key}")
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def _backing_off(self) -> bool:
        """True (and a timer to converge again) while a crash back-off lasts."""
        loop = asyncio.get_running_loop()
        delay = self.not_before - loop.time()
        if delay > 0 and self._timer is None:
            self._timer = loop.call_later(delay, self._backoff_expired)
        return delay > 0

    def _stop(self, instance: Instance) -> None:
        if instance.stop_requested or instance.state == "exited":
            return
        was_ready = instance.ready
        instance.mark_stopping()  # out of every routing table first (Knative's drain order)
        task = asyncio.create_task(self._drain_and_stop(instance, was_ready), name=f"stop {instance.id}")
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _drain_and_stop(self, instance: Instance, was_ready: bool) -> None:
        """Let requests already sent to the instance finish (bounded by its grace), then SIGTERM it.

        The routers' ``drain`` callback first, then the queue-proxy's own drain (both within the grace).
        """
        drain = self.runtime.drain
        if was_ready:
            try:
                async with asyncio.timeout(instance.spec.grace):
                    if drain is not None:
                        await drain(endpoint_of(self.runtime.host, instance))
                    await instance.drain_sidecar()
            except TimeoutError:
                logger.warning("instance %s: still busy after %ss of draining", instance.id, instance.spec.grace)
        await instance.stop()

    def _backoff_expired(self) -> None:
        self._timer = None
        self.converge()
        self.runtime.notify(self.key)

    def _forget_crashed(self, keep: int) -> None:
        """Keep at most ``keep`` crashed instances waiting for a restart (fewer are wanted now)."""
        for name in self.crashed[keep:]:
            self.restarts.pop(name, None)
        del self.crashed[keep:]

    def _instance_changed(self, instance: Instance) -> None:
        if instance.state == "exited":
            self.instances.remove(instance)
            if not instance.stop_requested and instance.generation == self.generation and not self.removed:
                count = self.restarts.get(instance.id, (0, (0, "")))[0]
                self.restarts[instance.id] = (count + 1, exit_reason(instance))
                self.crashed.append(instance.id)
                self._crashed(instance)
            else:
                self.restarts.pop(instance.id, None)
        elif instance.ready and instance.generation == self.generation and not self._permanent():
            self.failure = None
        self.converge()
        self.runtime.notify(self.key)

    def _crashed(self, instance: Instance) -> None:
        failure = exit_failure(instance)
        logger.warning("instance %s of %s: %s: %s", instance.id, self.key, failure.reason, failure.message)
        self._failed(failure, instance.started_at)

    def _failed(self, failure: Failure, started_at: float) -> None:
        """Report ``failure`` and start again after the back-off (reset by an instance that ran long)."""
        self.failure = failure
        now = asyncio.get_running_loop().time()
        if started_at and now - started_at >= CRASH_BACKOFF_RESET_AFTER:
            self.backoff = CRASH_BACKOFF_INITIAL
        self.not_before = now + self.backoff
        self.backoff = min(self.backoff * 2, CRASH_BACKOFF_MAX)

    def _permanent(self) -> bool:
        return self.failure is not None and self.failure.permanent


def forkable(workload: Workload) -> bool:
    """Whether the instances of ``workload`` fork from a zygote (pure): it names a Python app, and its
    instances are single processes that share everything but their env (no image, no other
    containers, no volumes: those are per instance, the zygote's sandbox is one)."""
    return bool(
        workload.python_app
        and workload.serving
        and zygote.parse_target(workload.python_app) is None
        and not pod.uses_containers(workload)
        and not workload.sidecars
        and not workload.init_containers
        and not workload.volume_mounts
    )


def queue_proxy_path() -> str:
    """``PYTHONPATH`` for the queue-proxy under ``-S``: where zeroserve, httptools, uvloop and h2 live."""
    import importlib.util

    import zeroserve

    roots = [str(Path(zeroserve.__file__).resolve().parent.parent)]
    for name in ("httptools", "uvloop", "h2", "hpack", "hyperframe"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin is not None:
            root = str(Path(spec.origin).resolve().parent.parent)
            if root not in roots:
                roots.append(root)
    return os.pathsep.join(roots)


def instance_view(
    instance: Instance, started_at: float | None, restarted: tuple[int, tuple[int, str]] | None = None
) -> InstanceView:
    """``instance`` as its pod shows it; ``started_at``: the unix time its process started (None: not yet);
    ``restarted``: how often its name was restarted and how it ended the last time."""
    return InstanceView(
        name=instance.id,
        started=started_at is not None,
        ready=instance.ready,
        stopping=instance.stopping,
        started_at=started_at,
        queue_proxy=instance.spec.sidecar is not None,
        sidecars=tuple(c.name for c in instance.spec.containers),
        restarts=restarted[0] if restarted is not None else 0,
        last_exit=restarted[1] if restarted is not None else None,
    )


def exit_reason(instance: Instance) -> tuple[int, str]:
    """The exit code and the kubelet's reason of an instance that ended (``Completed``, ``Error``, ``OOMKilled``)."""
    code = instance.exit_code if instance.exit_code is not None else 128
    return code, "OOMKilled" if instance.oom_killed else ("Completed" if code == 0 else "Error")


def endpoint_of(host: str, instance: Instance) -> Endpoint:
    """Where traffic for ``instance`` goes (its queue-proxy when it has one)."""
    return Endpoint(host, instance.serving_port, instance.admin_port)


def _free_port(host: str, avoid: set[int]) -> int:
    """An ephemeral port on ``host`` the kernel just handed out and no instance of ours holds."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in avoid:
            return port


def _pull_policy(policy: str) -> PullPolicy:
    if policy == "Always":
        return "Always"
    return "Never" if policy == "Never" else "IfNotPresent"


def _open_rootfs(path: Path, working_dirs: list[str]) -> container.Rootfs:
    rootfs = container.Rootfs(path)
    try:
        rootfs.prepare(working_dirs)
    except BaseException:
        rootfs.close()
        raise
    return rootfs


def _unconfined() -> isolation.Machine:
    """The machine as a runtime without an isolation policy sees it: its own user, no sandbox."""
    return isolation.Machine(User(os.geteuid(), os.getegid()), None, None, "env", "no isolation policy")
