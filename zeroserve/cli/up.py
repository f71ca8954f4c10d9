"""``zeroserve up``: the whole platform in one process (the embedded default).

The composition root: it builds the store, API server, gateway, runtime and controller, wires them,
records where it listens (``DATA/endpoints.json``) and runs until SIGINT/SIGTERM, then stops in
reverse order. The gateway listens on 127.0.0.1:8080 (external hosts) and on an ephemeral internal
port for cluster-local names; instances find the latter in ``ZEROSERVE_INTERNAL_URL`` and as their
``http_proxy`` (:mod:`zeroserve.cli.addresses`: every address zeroserve hands out then resolves from
any HTTP client). Eventing: the durable log and the dispatcher (``zeroserve.eventing.plane``) and the
Broker ingress, which the internal listener answers in this process as
``broker-ingress.knative-eventing.svc.cluster.local`` (no port of its own). The API's and the
registry's ports are protected on the gateway: its forward proxy never reaches them. One ``up`` per
data dir: a second one is refused (``DATA/lock``).

``queue_proxy`` chooses how the queue-proxy's per-instance work is done. ``inline`` (the
default): no sidecar; the gateway and the in-process activator admit every request for a local
instance through its :class:`~zeroserve.queue.inline.InlineQueue` entry (breaker shared by both
paths, stats scraped in-process, revision timeouts), one Python hop fewer per request and no
sidecar to start. ``sidecar``: every instance runs with a ``zeroserve queue-proxy`` process, as
in Knative.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import fcntl
import json
import logging
import os
import resource
import signal
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry

from zeroserve.activator.handler import SCOPE as ACTIVATOR_SCOPE
from zeroserve.activator.handler import Activator
from zeroserve.activator.probe import HttpProber
from zeroserve.activator.reporter import ConcurrencyReporter
from zeroserve.activator.revisions import RevisionFeed
from zeroserve.activator.throttler import Throttler
from zeroserve.api import eventing as eventing_api
from zeroserve.api.admission import admit, admit_status
from zeroserve.api.base import Obj
from zeroserve.api.kinds import API_KINDS, DOMAINMAPPING, IN_MEMORY_CHANNEL, ROUTE, Kind
from zeroserve.apiserver import ADMIN_USER, ApiServer, ensure_token
from zeroserve.apiserver.certs import ensure_serving_certs
from zeroserve.apiserver.logs import PodLogs, RevisionLogs
from zeroserve.apiserver.server import JsonSubresource
from zeroserve.autoscaler.collector import Collector, DeciderKey
from zeroserve.autoscaler.explain import explain_document
from zeroserve.autoscaler.history import History
from zeroserve.autoscaler.multiscaler import Multiscaler
from zeroserve.autoscaler.prometheus import KnativeScaling
from zeroserve.autoscaler.scraper import EndpointSource, HttpStatsClient, InProcessStatsClient, Scraper, StatsClient
from zeroserve.build.registry import DEFAULT_ADDRESS as DEFAULT_REGISTRY_ADDRESS
from zeroserve.build.registry import LocalRegistry
from zeroserve.build.source import BuildError
from zeroserve.cli import heap, kubeconfig, upfailures
from zeroserve.cli.addresses import proxy_env
from zeroserve.cli.configwatch import ConfigWatcher
from zeroserve.cli.requestlogs import QUEUE_PROXY_LOGS, RequestLogWiring, observability_fields
from zeroserve.cli.wiring import (
    InlineInstances,
    InlineScrapeEndpoints,
    InProcessStatSink,
    LimitsRecorder,
    NetnsProber,
    NetnsStatsClient,
    RuntimeEndpoints,
    RuntimeUsage,
    ServingModes,
    SidecarMetrics,
    WorkerSeries,
    WorkerStats,
)
from zeroserve.clock import SystemClock
from zeroserve.config.parse import load_config_file
from zeroserve.controller.pods import PodMirror
from zeroserve.controller.reconcilers import k8sservices
from zeroserve.controller.runner import Controller
from zeroserve.dashboard.server import Dashboard, Timeseries
from zeroserve.eventing.apiserversource import ApiServerSourceAdapters
from zeroserve.eventing.channels import ChannelPlane
from zeroserve.eventing.ingress import BrokerSet, Ingress
from zeroserve.eventing.plane import EventingPlane
from zeroserve.gateway.routing import Backend
from zeroserve.gateway.server import SCOPE as GATEWAY_SCOPE
from zeroserve.gateway.server import Gateway
from zeroserve.gateway.workers import Workers, cores
from zeroserve.images.store import SkopeoImageStore
from zeroserve.net.proxy import RequestHead, Response, RouteResult
from zeroserve.observability.listener import MetricsListener
from zeroserve.observability.metrics import ActivatorMetrics, AutoscalerMetrics, MeterRegistry, QueueMetrics
from zeroserve.observability.otlp import OtlpMetrics
from zeroserve.observability.prometheus import KnativeCollector
from zeroserve.observability.settings import OBSERVABILITY_ENV, tracing_json
from zeroserve.queue.inline import InlineQueue
from zeroserve.runtime import isolation, pod
from zeroserve.runtime.base import Endpoint, WorkloadKey
from zeroserve.runtime.local import LocalRuntime
from zeroserve.store.managed import ManagedStore
from zeroserve.store.sqlite import SqliteStore

if TYPE_CHECKING:  # OpenTelemetry is loaded only where tracing is on
    from opentelemetry.sdk.trace import TracerProvider

    from zeroserve.queue.tracing import TracedInlineQueue

log = logging.getLogger("zeroserve")

SHUTDOWN_DEADLINE = 90.0
"""Seconds a stop may take (draining instances included) before `up` exits regardless; a second
Ctrl-C exits at once."""

DRAIN_POLL = 0.01
"""How often a draining instance's in-flight count is looked at (seconds)."""

ROUTES_LOAD_TIMEOUT = 10.0
"""How long the gateway waits, at start, for every stored Route to be reconciled (published) once."""

QueueProxyMode = Literal["inline", "sidecar"]
QUEUE_PROXY_MODES: tuple[QueueProxyMode, ...] = ("inline", "sidecar")
DEFAULT_QUEUE_PROXY: QueueProxyMode = "inline"


@dataclass(frozen=True)
class UpSettings:
    data_dir: Path
    api_host: str = "127.0.0.1"
    api_port: int = 8001
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    internal_port: int = 0
    queue_proxy: QueueProxyMode = DEFAULT_QUEUE_PROXY
    """``inline``: the gateway and activator do the queue-proxy's work; ``sidecar``: one process per instance."""
    registry: str = ""
    """Where ``zeroserve build`` and ``--source`` push (``HOST:PORT[/PATH]``), recorded in endpoints.json."""
    serve_registry: bool = False
    """Run Debian's docker-registry on ``registry`` (default 127.0.0.1:5000), blobs in DATA/registry."""
    api_insecure_port: int | None = None
    """Also serve the API over plain http on this port (0: any; kube-apiserver's old ``--insecure-port``,
    the token still required); None: HTTPS only."""
    metrics_port: int | None = None
    """``GET /metrics`` without the token on 127.0.0.1:PORT (0: any free port; None: only the API's)."""
    workers: int = 1
    """Gateway processes accepting on the gateway's ports: this one and ``workers - 1`` worker
    processes (:mod:`zeroserve.gateway.workers`); 0: one per core (the CLI's default)."""


class AlreadyRunning(Exception):
    pass


def _lock(data_dir: Path) -> IO[str]:
    handle = open(data_dir / "lock", "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "pid unknown"
        pid = holder.removeprefix("pid ") if holder.startswith("pid ") else "PID"
        raise AlreadyRunning(
            f"another `zeroserve up` holds {data_dir} ({holder}): stop it (Ctrl-C where it runs, or kill {pid}) "
            "or give this one another --data-dir"
        ) from None
    handle.truncate(0)
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


def _write_endpoints(data_dir: Path, endpoints: dict[str, object]) -> None:
    tmp = data_dir / "endpoints.json.tmp"
    tmp.write_text(json.dumps(endpoints, indent=2) + "\n")
    tmp.replace(data_dir / "endpoints.json")


PRIVATE_FILES = ("token", "zeroserve.db", "zeroserve.db-wal", "zeroserve.db-shm")


def _make_private(data_dir: Path) -> None:
    """DATA 0700 and its secrets 0600: instances run as other users (runtime.isolation). The database
    is created 0600 before SQLite opens it, which gives its -wal and -shm files the same mode."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    os.close(os.open(data_dir / "zeroserve.db", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    for name in PRIVATE_FILES:
        with contextlib.suppress(FileNotFoundError):
            (data_dir / name).chmod(0o600)


async def serve(settings: UpSettings, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:
    """Run the platform until ``stop`` is set (``ready`` is set once everything listens)."""
    data_dir = settings.data_dir
    _make_private(data_dir)
    lock = _lock(data_dir)
    stop = stop or asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(lock.close)
        await _serve(settings, stack, ready, stop)


async def _serve(
    settings: UpSettings, stack: contextlib.AsyncExitStack, ready: asyncio.Event | None, stop: asyncio.Event
) -> None:
    data_dir = settings.data_dir
    clock = SystemClock()
    image_registry = settings.registry
    if settings.serve_registry:  # first: builds can push as soon as the API answers
        local = LocalRegistry(data_dir / "registry", settings.registry or DEFAULT_REGISTRY_ADDRESS)
        image_registry = (await stack.enter_async_context(local)).host
    # The activator: buffers requests for revisions without (enough) capacity, in this process.
    inline = InlineQueue() if settings.queue_proxy == "inline" else None
    prober = await stack.enter_async_context(HttpProber())
    # Inline: an endpoint is in the tables only once the runtime saw the app pass its readiness
    # probe, and there is no queue-proxy to answer a network probe: trust the runtime.
    # inline: the runtime probed the app; sidecar: the queue-proxies, some inside instances' namespaces
    throttler = Throttler(NetnsProber(prober) if inline is None else None)
    stack.push_async_callback(throttler.close)
    # Tracing (config-observability, read at start): None when off, and then nothing is wrapped.
    tracing_config = load_config_file(data_dir / "config.yaml").observability.tracing
    tracer_provider: TracerProvider | None = None
    admission: InlineQueue | TracedInlineQueue | None = inline
    if tracing_config.protocol != "none":  # the SDK is loaded only then
        from zeroserve.observability.tracing import make_provider
        from zeroserve.queue.tracing import TracedInlineQueue

        tracer_provider = make_provider(tracing_config, "zeroserve", {"k8s.namespace.name": "knative-serving"})
        assert tracer_provider is not None
        stack.push_async_callback(asyncio.to_thread, tracer_provider.shutdown)  # last spans out
        if inline is not None:
            admission = TracedInlineQueue(inline, tracer_provider)

    def to_activator(head: RequestHead, backend: Backend) -> RouteResult | Awaitable[RouteResult]:
        info = throttler.revision(backend.namespace, backend.revision)
        if info is None:
            return Response(503, f"revision {backend.namespace}/{backend.revision} is not known yet\n".encode())
        return activator.dispatch(head, backend.namespace, backend.revision, info, backend.headers, backend.drop)

    gateway = Gateway(
        external=(settings.gateway_host, settings.gateway_port),
        internal=("127.0.0.1", settings.internal_port),
        no_endpoints=to_activator,
        admission=admission,
        tracer=tracer_provider.get_tracer(GATEWAY_SCOPE) if tracer_provider is not None else None,
    )
    # The data plane on more cores: worker processes fed every change of the gateway's tables, each
    # with listening sockets of its own (zeroserve.net.reuseport).
    processes = settings.workers or cores()
    worker_count = processes - 1
    # Bound now (URLs need the port), answering only once the routes are loaded (below).
    external_port, internal_port = await gateway.start(serving=False, processes=processes)
    stack.push_async_callback(gateway.stop, 5.0)
    workers: Workers | None = None
    if worker_count > 0:
        relay_to = await gateway.start_relays()
        options: dict[str, object] = {"sidecar": inline is None, "logs": str(data_dir / QUEUE_PROXY_LOGS)}
        if tracer_provider is not None:
            options["tracing"] = tracing_json(tracing_config)
        workers = Workers(worker_count, listeners=gateway, relay_to=relay_to, options=options)
        gateway.mirror = workers
    # URLs carry the port the gateway really listens on (config-network's external port).
    watcher = ConfigWatcher(data_dir / "config.yaml", gateway_port=external_port)

    store = await SqliteStore.open(data_dir / "zeroserve.db")
    stack.push_async_callback(store.close)

    sidecar_metrics: SidecarMetrics | None = None  # sidecar mode: the queue-proxies' kn.serving.* (below)

    async def drain(endpoint: Endpoint) -> None:
        """An instance left the tables: wait for the requests already sent to it (queued ones too)."""
        if inline is not None:
            address = (endpoint.host, endpoint.port)
            await asyncio.gather(inline.drain(address), *([workers.drain(address)] if workers is not None else []))
            return
        while gateway.in_flight((endpoint.host, endpoint.port)) > 0:
            await asyncio.sleep(DRAIN_POLL)
        if sidecar_metrics is not None:  # its last requests' metrics, before it stops
            await sidecar_metrics.final(endpoint)

    internal_url = f"http://127.0.0.1:{internal_port}"
    # A container instance sees only its own loopback: the gateway serves the same proxy inside it.
    contained_url = f"http://127.0.0.1:{pod.PROXY_PORT}"
    images = SkopeoImageStore.for_data_dir(data_dir)  # DATA/images, DATA/registries.conf, DATA/auth.json
    stack.push_async_callback(images.close)
    runtime = LocalRuntime(
        data_dir,
        platform_env={"ZEROSERVE_INTERNAL_URL": internal_url, **proxy_env(internal_url)},
        drain=drain,
        queue_proxy=inline is None,
        isolation=isolation.Policy.from_environ(os.environ),
        images=images,
        contained_proxy=gateway,
        container_env={"ZEROSERVE_INTERNAL_URL": contained_url, **proxy_env(contained_url)},
        queue_proxy_env=_observability_env(
            {"tracing": tracing_json(tracing_config)} if tracer_provider is not None else {},
            observability_fields(watcher.current),  # request logs: a sidecar's settings at up's start
        ),
    )
    stack.push_async_callback(runtime.close)
    recorder = LimitsRecorder(runtime)
    meters = MeterRegistry()  # Knative's kn.* metrics, on /metrics (and --metrics-port), OTLP when configured
    # With workers, this process's own kn.serving.* series are summed with theirs (WorkerSeries).
    own_queue_metrics = QueueMetrics(meters if workers is None else MeterRegistry())
    instances = InlineInstances(inline, recorder, own_queue_metrics, workers) if inline is not None else None
    sidecar_metrics = SidecarMetrics(runtime, QueueMetrics(meters)) if inline is None else None

    modes = ServingModes(gateway)

    def endpoints_changed(key: WorkloadKey) -> None:
        if key.kind != "Revision":  # a ContainerSource's adapter serves nothing
            return
        status = runtime.status(key)
        endpoints = status.endpoints if status else ()
        if instances is not None:  # before the tables: a new instance has its queue when routed to
            instances.set_endpoints(key, endpoints)
        limits = recorder.limits(key)
        modes.set_endpoints(key.namespace, key.revision, endpoints, h2c=limits is not None and limits.h2c)
        throttler.set_endpoints(key.namespace, key.revision, [(e.host, e.port) for e in endpoints])

    runtime.subscribe(endpoints_changed)
    # The dashboard's plots: every revision's autoscaling over the last minutes, in memory.
    history = History()
    runtime.subscribe(
        lambda key: history.set_ready(
            DeciderKey(key.namespace, key.revision), _ready(runtime, key), clock.wall().timestamp()
        )
    )
    pods = PodMirror(store, runtime, clock)  # every instance as a read-only core/v1 Pod

    # The autoscaler: scrapes the queue-proxies, takes the activator's stats, decides every 2 s.
    sources = RuntimeEndpoints(runtime)
    scrape_sources: EndpointSource = sources
    stats_client: StatsClient
    if inline is not None:
        lookup = inline.stat if workers is None else WorkerStats(inline, workers).stat
        scrape_sources, stats_client = InlineScrapeEndpoints(runtime), InProcessStatsClient(lookup)
    else:
        http_stats = HttpStatsClient()
        stats_client = NetnsStatsClient(http_stats)
        stack.push_async_callback(http_stats.close)
    registry = CollectorRegistry()
    registry.register(KnativeCollector(meters))
    scaling_metrics = AutoscalerMetrics(meters)  # the deciders' and the KPA reconciler's kn.revision.*
    multiscaler = Multiscaler(
        Collector(),
        sources,
        clock,
        on_change=lambda key: controller.on_decider_change(key),
        scraper=Scraper(scrape_sources, stats_client),
        usage=RuntimeUsage(runtime),
        registry=registry,
        knative=KnativeScaling(scaling_metrics, lambda key: recorder.owners(WorkloadKey(key.namespace, key.revision))),
        history=history,
    )
    activator_metrics = ActivatorMetrics(meters, lambda ns, rev: recorder.owners(WorkloadKey(ns, rev)))
    stat_sink = InProcessStatSink(multiscaler)
    reporter = ConcurrencyReporter(stat_sink, metrics=activator_metrics)
    if workers is not None:  # their activators' stats, as this one's
        workers.on_stat_messages = stat_sink.send
    activator = Activator(
        throttler,
        reporter,
        admission=admission,
        tracer=tracer_provider.get_tracer(ACTIVATOR_SCOPE) if tracer_provider is not None else None,
        metrics=activator_metrics,
    )

    # Request logs (config-observability, live): inline, the gateway and the activator write each
    # instance's queue-proxy log; a sidecar writes its own (zeroserve/cli/requestlogs.py).
    if inline is not None:
        request_logs = RequestLogWiring(data_dir, runtime, gateway, activator, mirror=workers)
        request_logs.configure(watcher.current)
        runtime.subscribe(request_logs.endpoints_changed)
        watcher.subscribe(request_logs.configure)
        stack.callback(request_logs.close)

    def explain(_request: object, namespace: str, name: str) -> Obj | None:
        doc = explain_document(multiscaler, DeciderKey(namespace, name))
        if doc is not None:
            doc["sksMode"] = modes.mode(namespace, name)
        return doc

    token = ensure_token(data_dir)
    dashboard = Dashboard(token, clock)

    def admit_current(kind: Kind, new: Obj, old: Obj | None) -> Obj:
        return admit(kind, new, old, watcher.current, user=ADMIN_USER)

    api = ApiServer(
        store,
        admit_current,
        token,
        admit_status=admit_status,
        subresources={
            ("revisions", "log"): RevisionLogs(data_dir / "logs"),
            ("pods", "log"): PodLogs(data_dir, store),
            ("revisions", "autoscaler"): JsonSubresource(explain),
            ("revisions", "timeseries"): JsonSubresource(Timeseries(history, clock)),
        },
        metrics=registry,
        frontend=dashboard,
    )
    # HTTPS with a local CA (DATA/ca.crt): kubectl sends no bearer token over plain http.
    certs = ensure_serving_certs(data_dir, clock.wall(), (settings.api_host,))
    await api.start(
        settings.api_host,
        settings.api_port,
        ssl_context=certs.server_context(),
        insecure_port=settings.api_insecure_port,
    )
    stack.push_async_callback(api.stop)
    # The gateways as core/v1 Services (kourier-system/kourier, kourier-internal): how Knative tests find the ingress.
    await k8sservices.ensure_gateway(store, external_port, internal_port)
    gateway.protect(*_ports(api.url, api.insecure_url, image_registry))
    kubeconfig.write(data_dir / kubeconfig.KUBECONFIG_FILE, kubeconfig.render(api.url, certs.ca_pem(), token))
    brokers = BrokerSet()
    controller = Controller(
        ManagedStore(store, "controller"),  # its writes in managedFields, as Knative's controller's
        recorder,
        lambda: watcher.current,
        ingress=gateway,
        multiscaler=multiscaler,
        serving_mode=modes,
        images=images,
        broker_ingress=brokers,  # the Broker reconciler publishes each MT Broker to the ingress
        api_url=api.url,  # the source of ApiServerSources' events
        kpa_metrics=scaling_metrics,
    )
    watcher.subscribe(lambda _cfg: controller.config_changed())
    if workers is not None:
        workers.on_served = controller.on_ingress_ready
        controller.wait_for_ingress()  # a Route is written Ready in the pass that published its table
    # Eventing: the Brokers' durable log (DATA/eventing.db) and the dispatcher to the Triggers' subscribers.
    plane = await stack.enter_async_context(
        EventingPlane(data_dir, store, ("127.0.0.1", internal_port), lambda: watcher.current.eventing, registry)
    )
    # The Broker ingress in front of the log, answered in this process by the internal listener as
    # broker-ingress.knative-eventing.svc.cluster.local (every Broker's address). Stopping: it
    # refuses new events and lets the appends in flight finish before the log closes.
    broker_ingress = Ingress(plane.log, brokers)
    gateway.publish_service(eventing_api.INGRESS_HOST, broker_ingress.local())
    stack.push_async_callback(broker_ingress.drain)
    # InMemoryChannels: their hosts (NAME-kn-channel.NS.svc.cluster.local) answered by the same log,
    # their subscribers delivered by the same dispatcher (zeroserve.eventing.channels).
    channels = ChannelPlane(broker_ingress, plane.dispatcher, gateway.publish_service, gateway.withdraw_service)
    controller.channels.plane = channels
    # ApiServerSources: each source's changes, from its durable cursor, to its sink over the same sender.
    apiserversources = ApiServerSourceAdapters(store, plane.dispatcher.sender, api.url, data_dir, API_KINDS)
    async with multiscaler, controller, asyncio.TaskGroup() as tasks:
        feed = RevisionFeed(store, throttler, on_deleted=workers.remove_revision if workers is not None else None)
        background = [
            tasks.create_task(watcher.run(), name="config-watcher"),
            tasks.create_task(reporter.run(), name="activator-stats"),
            tasks.create_task(feed.run(), name="revision-feed"),
            tasks.create_task(pods.run(), name="pod-mirror"),
            tasks.create_task(channels.run(store, IN_MEMORY_CHANNEL), name="channel-feed"),
            tasks.create_task(apiserversources.run(), name="apiserversources"),
        ]
        if inline is not None:
            background.append(tasks.create_task(inline.run(), name="inline-queue-stats"))
        if sidecar_metrics is not None:
            background.append(tasks.create_task(sidecar_metrics.run(), name="sidecar-metrics"))
        background.append(tasks.create_task(heap.trim_after_bursts(store.resource_version, clock), name="heap-trim"))
        otlp = OtlpMetrics(meters, lambda: watcher.current.observability.metrics)
        background.append(tasks.create_task(otlp.run(), name="otlp-metrics"))
        metrics_url = ""
        if settings.metrics_port is not None:
            listener = MetricsListener(registry, settings.metrics_port)
            metrics_url = await listener.start()
            stack.push_async_callback(listener.stop)
        try:
            async with asyncio.timeout(ROUTES_LOAD_TIMEOUT):
                await feed.listed.wait()  # the activator knows every revision
                await controller.synced(ROUTE.kind)  # the gateway has every route's table
                await controller.synced(DOMAINMAPPING.kind)  # and every domain mapping
        except TimeoutError:
            log.warning("routes not all loaded after %ss; the gateway listens anyway", ROUTES_LOAD_TIMEOUT)
        await gateway.serve()
        if workers is not None:
            await workers.start()
            stack.push_async_callback(workers.stop, 5.0)
            if inline is not None:
                series = WorkerSeries(own_queue_metrics, QueueMetrics(meters), workers, activator_metrics)
                background.append(tasks.create_task(series.run(), name="worker-series"))
        _write_endpoints(
            data_dir,
            {
                "api": api.url,
                "ca": str(certs.ca_file),
                "dashboard": f"{api.url}/dashboard/",
                **({"apiInsecure": api.insecure_url} if api.insecure_url else {}),
                **({"metrics": metrics_url} if metrics_url else {}),
                "gateway": f"http://{settings.gateway_host}:{external_port}",
                "internal": internal_url,
                "pid": os.getpid(),
                "queueProxy": settings.queue_proxy,
                "gatewayProcesses": 1 + (workers.count if workers is not None else 0),
                **({"registry": image_registry} if image_registry else {}),
            },
        )
        log.info(
            "zeroserve up: API %s (kubeconfig %s), gateway http://%s:%d (internal :%d%s), %sdata %s",
            api.url + (f" + {api.insecure_url}" if api.insecure_url else ""),
            data_dir / kubeconfig.KUBECONFIG_FILE,
            settings.gateway_host,
            external_port,
            internal_port,
            f", {1 + workers.count} processes" if workers is not None else "",
            f"registry {image_registry}, " if image_registry else "",
            data_dir,
        )
        log.info(
            "dashboard: %s (opens once; then log in with DATA/token or run `zeroserve dashboard`)",
            dashboard.one_time_url(api.url),
        )
        heap.settle()  # the collector's policy for a long-running process (zeroserve.cli.heap)
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("zeroserve: stopping")
        for task in background:
            task.cancel()
        await api.stop()


def _observability_env(tracing: dict[str, object], request_logs: dict[str, object]) -> dict[str, str] | None:
    """A sidecar's ``OBSERVABILITY_CONFIG`` (Knative's JSON keys), None when it would be empty."""
    data = {**tracing, **request_logs}
    return {OBSERVABILITY_ENV: json.dumps(data)} if data else None


def _ready(runtime: LocalRuntime, key: WorkloadKey) -> int:
    status = runtime.status(key)
    return len(status.endpoints) if status is not None else 0


def _ports(*urls: str) -> list[int]:
    """The ports of listener URLs (``http://h:p``, or ``h:p[/path]`` as a registry is named)."""
    ports = []
    for url in filter(None, urls):
        with contextlib.suppress(ValueError):
            port = urlsplit(url if "://" in url else f"//{url}").port
            if port is not None:
                ports.append(port)
    return ports


def _log_pending_tasks() -> None:
    for task in asyncio.all_tasks():
        frames = "".join(f"\n    {f.f_code.co_filename}:{f.f_lineno} {f.f_code.co_name}" for f in task.get_stack())
        log.error("stop is taking too long; still pending: %s%s", task.get_name(), frames)


def raise_open_files() -> tuple[int, int] | None:
    """Raise the soft limit of open files to the hard one, as a Go program does when it starts (the
    kubelet's, Knative's components'): ``up`` holds a few descriptors per instance (its log pipe, a
    pidfd, a zygote child's socket) and a zygote two per child, where a shell's soft limit is often
    1,024. The gateway workers, the zygotes and the instances inherit it, as containers get their
    runtime's high limit. ``(before, after)`` when it was raised, None when it was at the hard limit
    (or could not be raised)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard
    if hard == resource.RLIM_INFINITY:  # the kernel refuses more than fs.nr_open
        try:
            wanted = int(Path("/proc/sys/fs/nr_open").read_text())
        except (OSError, ValueError):
            return None
    if soft == resource.RLIM_INFINITY or soft >= wanted:  # never lowered
        return None
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (OSError, ValueError):
        return None
    return soft, wanted


def run_up(
    data_dir: Path,
    api_host: str,
    api_port: int,
    gateway_host: str,
    gateway_port: int,
    internal_port: int = 0,
    queue_proxy: QueueProxyMode = DEFAULT_QUEUE_PROXY,
    *,
    registry: str = "",
    serve_registry: bool = False,
    api_insecure_port: int | None = None,
    metrics_port: int | None = None,
    workers: int = 0,
) -> int:
    """Run until SIGINT/SIGTERM; the exit code for the CLI."""
    import uvloop

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if (raised := raise_open_files()) is not None:
        log.info("zeroserve up: the soft limit of open files raised from %d to %d (the hard limit)", *raised)
    settings = UpSettings(
        data_dir,
        api_host,
        api_port,
        gateway_host,
        gateway_port,
        internal_port,
        queue_proxy,
        registry,
        serve_registry,
        api_insecure_port,
        metrics_port,
        workers,
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if stop.is_set():  # a second Ctrl-C: do not wait for draining
                log.warning("zeroserve: second signal, exiting now")
                os._exit(130)
            stop.set()
            # A stop must end: if it has not within SHUTDOWN_DEADLINE, log what every asyncio task
            # still waits on and every thread's stack (to find what hangs), then exit; instances
            # still die with us (their lifeline).
            loop.call_later(SHUTDOWN_DEADLINE - 1, _log_pending_tasks)
            faulthandler.dump_traceback_later(SHUTDOWN_DEADLINE, exit=True)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        await serve(settings, stop=stop)
        faulthandler.cancel_dump_traceback_later()

    try:
        uvloop.run(main())
    except AlreadyRunning as err:
        log.error("%s", err)
        return 1
    except OSError as err:
        flags = upfailures.port_flags(
            api_port, gateway_port, internal_port, api_insecure_port, registry, getattr(settings, "metrics_port", None)
        )
        log.error("zeroserve up: %s", upfailures.address_in_use(err, flags) or err)
        return 1
    except BuildError as err:
        log.error("zeroserve up: %s", err)
        return 1
    return 0
