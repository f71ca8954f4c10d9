"""Adapters that join the components inside one ``zeroserve up`` process.

Each component defines the small interface it consumes (Knative's style); these classes implement
them on top of the others, so no component imports another's internals:

* :class:`RuntimeEndpoints` / :class:`RuntimeUsage`: the autoscaler's scrape targets and cgroup
  usage, read from the local runtime;
* :class:`InProcessStatSink`: the activator's stats go straight to the multiscaler (a standalone
  activator posts them to the stat server instead);
* sidecar mode with container instances: :class:`NetnsProber` and :class:`NetnsStatsClient` reach a
  queue-proxy inside an instance's network namespace (its endpoints are reserved ports that lead
  there, :mod:`zeroserve.net.netns`) and hand every other address to the aiohttp clients;
* inline queue-proxy mode (no sidecar): :class:`LimitsRecorder` remembers each revision's
  containerConcurrency and timeouts as the controller ensures its workload, :class:`InlineInstances`
  keeps the inline queues in step with the runtime's endpoints, and :class:`InlineScrapeEndpoints`
  lets the scraper read their stats in-process.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Literal, Protocol

from zeroserve.activator import probe as activator_probe
from zeroserve.api.kinds import REVISION
from zeroserve.autoscaler.collector import DeciderKey
from zeroserve.autoscaler.metrics import Stat, StatMessage, with_workers
from zeroserve.autoscaler.multiscaler import Multiscaler
from zeroserve.autoscaler.scraper import SCRAPE_TIMEOUT, STATS_PATH, ScrapeError, StatsClient
from zeroserve.gateway.server import Gateway
from zeroserve.gateway.workers import SERIES_PERIOD, Workers
from zeroserve.net import netns
from zeroserve.observability.metrics import (
    POD,
    ActivatorMetrics,
    Attrs,
    QueueMetrics,
    RevisionRequests,
    SeriesWire,
    SidecarSeries,
    revision_attrs,
    series_by_revision,
)
from zeroserve.queue.inline import InlineQueue, InstanceLimits
from zeroserve.queue.server import SERIES_PATH
from zeroserve.runtime.base import Endpoint, OnChange, Workload, WorkloadKey, WorkloadStatus
from zeroserve.runtime.cgroups import Usage
from zeroserve.runtime.local import LocalRuntime

log = logging.getLogger(__name__)


class ServingRuntime(Protocol):
    """What :class:`RuntimeEndpoints` reads of a runtime (the local one, or a cluster's)."""

    def status(self, key: WorkloadKey) -> WorkloadStatus | None: ...

    def serving(self) -> list[tuple[str, str]]: ...


class RuntimeEndpoints:
    """``EndpointSource`` for the scraper: the ready instances of a revision (with admin ports)."""

    def __init__(self, runtime: ServingRuntime) -> None:
        self._runtime = runtime

    def endpoints(self, namespace: str, revision: str) -> Sequence[Endpoint]:
        status = self._runtime.status(WorkloadKey(namespace, revision))
        return status.endpoints if status is not None else ()

    def serving(self) -> list[tuple[str, str]]:
        return self._runtime.serving()


class RuntimeUsage:
    """``UsageSource`` for the HPA decider: cgroup usage of each running instance."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self._runtime = runtime

    def usage(self, key: DeciderKey) -> Sequence[Usage]:
        return self._runtime.usage(WorkloadKey(key.namespace, key.revision))


class InProcessStatSink:
    """``StatSink`` for the in-process activator: records into the multiscaler (which pokes)."""

    def __init__(self, multiscaler: Multiscaler) -> None:
        self._multiscaler = multiscaler

    def send(self, messages: list[StatMessage]) -> None:
        for message in messages:
            self._multiscaler.record(message)


class ServingModes:
    """The SKS's ``ServingMode``: which way the gateway sends a revision's requests.

    *Serve*: straight to the instances' queue-proxies (the gateway balances by in-flight count).
    *Proxy*: through the activator, which buffers and balances by free capacity — done by showing the
    gateway no endpoints for the revision, so its ``no_endpoints`` hook (the activator) takes every
    request. A revision the SKS has not spoken of yet is in Proxy, as Knative creates SKSs.
    Requests already in flight keep their path across a switch.
    """

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._modes: dict[tuple[str, str], str] = {}
        self._endpoints: dict[tuple[str, str], tuple[Endpoint, ...]] = {}
        self._h2c: set[tuple[str, str]] = set()

    def mode(self, namespace: str, revision: str) -> str:
        return self._modes.get((namespace, revision), "Proxy")

    def set_mode(self, namespace: str, revision: str, mode: Literal["Serve", "Proxy"]) -> None:
        if self._modes.get((namespace, revision)) != mode:
            log.info("sks %s/%s: %s mode", namespace, revision, mode.lower())
        self._modes[(namespace, revision)] = mode
        self._publish(namespace, revision)

    def set_endpoints(self, namespace: str, revision: str, endpoints: Sequence[Endpoint], h2c: bool = False) -> None:
        """``h2c``: the revision's app speaks HTTP/2 (its port is named ``h2c``)."""
        if endpoints:
            self._endpoints[(namespace, revision)] = tuple(endpoints)
        else:
            self._endpoints.pop((namespace, revision), None)
        if h2c:
            self._h2c.add((namespace, revision))
        else:
            self._h2c.discard((namespace, revision))
        self._publish(namespace, revision)

    def _publish(self, namespace: str, revision: str) -> None:
        serve = self.mode(namespace, revision) == "Serve"
        shown = self._endpoints.get((namespace, revision), ()) if serve else ()
        self._gateway.set_endpoints(namespace, revision, shown, h2c=(namespace, revision) in self._h2c)


def limits_of(workload: Workload) -> InstanceLimits:
    """What a sidecar would read from its environment (``CONTAINER_CONCURRENCY``, ``REVISION_*``)."""
    return InstanceLimits(
        container_concurrency=workload.container_concurrency,
        timeout=float(workload.timeout_seconds),
        response_start_timeout=float(workload.response_start_timeout_seconds),
        idle_timeout=float(workload.idle_timeout_seconds),
        h2c=workload.h2c,
        namespace=workload.key.namespace,
        revision=workload.key.revision,
    )


class LimitsRecorder:
    """The controller's ``Runtime``: the local runtime, remembering each workload's limits."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self._runtime = runtime
        self._limits: dict[WorkloadKey, InstanceLimits] = {}
        self._owners: dict[WorkloadKey, tuple[str, str]] = {}

    def limits(self, key: WorkloadKey) -> InstanceLimits | None:
        return self._limits.get(key)

    def owners(self, key: WorkloadKey) -> tuple[str, str]:
        """The revision's Service and Configuration names ('' when unknown)."""
        return self._owners.get(key, ("", ""))

    async def ensure(self, workload: Workload, replicas: int) -> None:
        self._limits[workload.key] = limits_of(workload)
        self._owners[workload.key] = (workload.service, workload.configuration)
        await self._runtime.ensure(workload, replicas)

    def scale(self, key: WorkloadKey, replicas: int) -> bool:
        return self._runtime.scale(key, replicas)

    async def remove(self, key: WorkloadKey, *, wait: bool = True) -> None:
        await self._runtime.remove(key, wait=wait)

    def status(self, key: WorkloadKey) -> WorkloadStatus | None:
        return self._runtime.status(key)

    def keys(self) -> list[WorkloadKey]:
        return self._runtime.keys()

    def subscribe(self, callback: OnChange) -> None:
        self._runtime.subscribe(callback)

    async def close(self) -> None:
        await self._runtime.close()


class InlineInstances:
    """Keeps the inline queues in step with each revision's ready instances (the gateway workers'
    too, through ``workers``)."""

    def __init__(
        self,
        queue: InlineQueue,
        limits: LimitsRecorder,
        metrics: QueueMetrics | None = None,
        workers: Workers | None = None,
    ) -> None:
        self._queue = queue
        self._workers = workers
        self._limits = limits
        self._seen: dict[WorkloadKey, tuple[tuple[str, int], ...]] = {}
        self._metrics = metrics
        self._requests: dict[WorkloadKey, RevisionRequests] = {}

    def set_endpoints(self, key: WorkloadKey, endpoints: Sequence[Endpoint]) -> None:
        """Call before the tables change: new instances get a queue, gone ones are retired."""
        current = tuple((e.host, e.port) for e in endpoints)
        previous = self._seen.get(key, ())
        if current:
            self._seen[key] = current
        else:
            self._seen.pop(key, None)
        limits = self._limits.limits(key)
        if limits is None and current:
            log.warning("inline queue for %s: no workload limits known; using defaults", key)
        self._queue.sync(previous, current, limits or InstanceLimits(), self._revision_requests(key))
        if self._workers is not None:
            owners = self._limits.owners(key)
            self._workers.set_instances(key.namespace, key.revision, current, (limits or InstanceLimits(), *owners))

    def _revision_requests(self, key: WorkloadKey) -> RevisionRequests | None:
        if self._metrics is None:
            return None
        found = self._requests.get(key)
        if found is None:
            service, configuration = self._limits.owners(key)
            a = revision_attrs(key.namespace, key.revision, service, configuration)
            found = self._requests[key] = self._metrics.revision(a)
        return found


class WorkerStats:
    """The scraper's in-process lookup with gateway workers: an instance's stat is this process's
    inline count plus each worker's (``autoscaler.metrics.with_workers``)."""

    def __init__(self, queue: InlineQueue, workers: Workers) -> None:
        self._queue = queue
        self._workers = workers

    def stat(self, host: str, port: int) -> Stat | None:
        own = self._queue.stat(host, port)
        if own is None:
            return None
        return with_workers(own, self._workers.stats((host, port)))


class WorkerSeries:
    """``kn.serving.*`` with gateway workers: this process's own series (``own``) and each worker's,
    summed per attribute set into ``public`` every :data:`~zeroserve.gateway.workers.SERIES_PERIOD`
    seconds, as the sidecars' are (:class:`~zeroserve.observability.metrics.SidecarSeries`)."""

    def __init__(
        self, own: QueueMetrics, public: QueueMetrics, workers: Workers, activator: ActivatorMetrics | None = None
    ) -> None:
        """``activator``: this process's activator metrics, where each worker activator's gauges are
        published too, each with its pod name (``k8s.pod.name``), as Knative's activator pods' are."""
        self._own = own
        self._sums = SidecarSeries(public)
        self._workers = workers
        self._activator = activator
        self._published: set[tuple[str, Attrs]] = set()

    def publish(self) -> None:
        pods = []
        for revision, series in series_by_revision(self._own).items():
            pod = f"gateway-main/{revision[0]}/{revision[1]}"
            self._sums.update(revision, pod, series)
            pods.append(pod)
        for name, revision, series in self._workers.series():
            pod = f"{name}/{revision[0]}/{revision[1]}"
            self._sums.update(revision, pod, series)
            pods.append(pod)
        self._sums.live(pods)
        self._sums.publish()
        if self._activator is not None:
            self._publish_gauges(self._activator)

    def _publish_gauges(self, activator: ActivatorMetrics) -> None:
        gauges = {g.name: g for g in (activator.concurrency, activator.queued, activator.active)}
        now: set[tuple[str, Attrs]] = set()
        for pod, values in self._workers.gauges():
            for name, series in values.items():
                gauge = gauges.get(name)
                if gauge is None:
                    continue
                for attrs, value in series.items():
                    key = tuple(sorted((*attrs, (POD, pod))))
                    gauge.values[key] = value
                    now.add((name, key))
        for name, key in self._published - now:  # a worker gone (or restarted): its series go
            gauges[name].values.pop(key, None)
        self._published = now

    async def run(self, period: float = SERIES_PERIOD) -> None:
        while True:
            await asyncio.sleep(period)
            self.publish()


class InlineScrapeEndpoints:
    """``EndpointSource`` for the scraper in inline mode: an instance is scraped, in-process, at its own address."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self._runtime = runtime

    def endpoints(self, namespace: str, revision: str) -> Sequence[Endpoint]:
        found = self._runtime.ready_endpoints(WorkloadKey(namespace, revision))
        return tuple(Endpoint(e.host, e.port, admin_port=e.port) for e in found)

    def serving(self) -> list[tuple[str, str]]:
        return self._runtime.serving()


async def get_inside(host: str, port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """``GET path`` on a reserved endpoint, over a socket made in its namespace: (status, body)."""
    reader, writer = await netns.open_connection(host, port)
    try:
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in headers.items())]
        writer.write(("\r\n".join([*lines, "Connection: close", "", ""])).encode("latin-1"))
        data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise OSError(f"not an HTTP response from {host}:{port}")
    return int(parts[1]), body


class NetnsProber:
    """The activator's probe (``activator.probe``) for queue-proxies inside instances' namespaces."""

    def __init__(self, prober: activator_probe.Probe, timeout: float = activator_probe.PROBE_TIMEOUT) -> None:
        self._prober = prober
        self._timeout = timeout

    async def __call__(self, host: str, port: int) -> bool:
        if netns.lookup(host, port) is None:
            return await self._prober(host, port)
        try:
            async with asyncio.timeout(self._timeout):
                status, body = await get_inside(host, port, activator_probe.PROBE_PATH, activator_probe.PROBE_HEADERS)
        except (OSError, TimeoutError):
            return False
        return status == 200 and body == activator_probe.PROBE_BODY


class NetnsStatsClient:
    """``StatsClient`` that scrapes a queue-proxy inside an instance's namespace, others as ``client``."""

    def __init__(self, client: StatsClient, timeout: float = SCRAPE_TIMEOUT) -> None:
        self._client = client
        self._timeout = timeout

    async def fetch(self, host: str, port: int) -> Stat:
        if netns.lookup(host, port) is None:
            return await self._client.fetch(host, port)
        async with asyncio.timeout(self._timeout):
            status, body = await get_inside(host, port, STATS_PATH, {})
        if status != 200:
            raise ScrapeError(f"GET {host}:{port}{STATS_PATH} answered {status}")
        wire = json.loads(body)
        if not isinstance(wire, dict):
            raise ScrapeError(f"GET {host}:{port}{STATS_PATH}: not a stat object")
        return Stat.from_wire(wire)


SERIES_POLL = 2.0
"""Seconds between two polls of the sidecars' Knative request metrics (``GET /series``)."""


class SidecarMetrics:
    """``up --queue-proxy sidecar``: every :data:`SERIES_POLL` seconds, ``GET /series`` from the admin
    port of each ready instance's queue-proxy (inside its namespace too) and their sum per revision
    into up's ``kn.serving.*`` series (:class:`~zeroserve.observability.metrics.SidecarSeries`). Knative's
    Prometheus scrapes each queue-proxy's own port instead; here one ``/metrics`` has them all. An
    instance leaving is polled once more when drained (:meth:`final`), so its last requests count."""

    def __init__(self, runtime: LocalRuntime, metrics: QueueMetrics, timeout: float = SCRAPE_TIMEOUT) -> None:
        self._runtime = runtime
        self._sums = SidecarSeries(metrics)
        self._timeout = timeout

    async def _fetch(self, host: str, port: int) -> tuple[str, list[SeriesWire]]:
        async with asyncio.timeout(self._timeout):
            status, body = await get_inside(host, port, SERIES_PATH, {})
        if status != 200:
            raise OSError(f"GET {host}:{port}{SERIES_PATH} answered {status}")
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("series"), list):
            raise ValueError(f"GET {host}:{port}{SERIES_PATH}: not a series document")
        return str(data.get("pod", f"{host}:{port}")), data["series"]

    async def poll(self) -> None:
        """One round: every ready sidecar's series, then the sums published."""
        held = self._runtime.keys()
        keys = [k for k in held if k.kind == REVISION.kind]
        targets: list[tuple[WorkloadKey, str, int]] = []
        for key in keys:
            status = self._runtime.status(key)
            for e in status.endpoints if status is not None else ():
                if e.admin_port is not None:
                    targets.append((key, e.host, e.admin_port))
        results = await asyncio.gather(*(self._fetch(h, p) for _, h, p in targets), return_exceptions=True)
        live: list[str] = []
        for (key, host, port), result in zip(targets, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, (OSError, TimeoutError, ValueError)):
                    raise result
                log.debug("series of the queue-proxy at %s:%d: %s", host, port, result)
                continue
            pod, series = result
            self._sums.update((key.namespace, key.revision), pod, series)
            live.append(pod)
        self._sums.live(live)
        self._sums.keep((k.namespace, k.revision) for k in keys)
        self._sums.publish()

    async def final(self, endpoint: Endpoint) -> None:
        """An instance drained: its last series (best effort; a pod never polled is not known)."""
        if endpoint.admin_port is None:
            return
        try:
            pod, series = await self._fetch(endpoint.host, endpoint.admin_port)
        except (OSError, TimeoutError, ValueError):
            return
        revision = self._sums.revision_of(pod)
        if revision is not None:
            self._sums.update(revision, pod, series)
            self._sums.publish()

    async def run(self, interval: float = SERIES_POLL) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.poll()
