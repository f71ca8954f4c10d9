"""``zeroserve kubernetes controller``'s process: zeroserve's control plane and gateway on a cluster.

One process, as ``zeroserve up`` is on one machine, assembled from the same parts over the cluster's
API (:mod:`zeroserve.kubernetes`): the reconcilers (:class:`~zeroserve.controller.runner.Controller`)
on a :class:`~zeroserve.kubernetes.store.KubernetesStore`, Revisions as Deployments
(:class:`~zeroserve.kubernetes.runtime.KubernetesRuntime`), the configuration from the system
namespace's ``config-*`` ConfigMaps; the KPA (:class:`~zeroserve.autoscaler.multiscaler.Multiscaler`)
scraping each Ready pod's queue-proxy by pod IP (``/stats`` on its admin port 8022) and setting the
Deployments' scale, and taking the activators' reports on its stat server (``POST /stats``, the
``autoscaler`` Service); the ServerlessServices' Services and Endpoints
(:mod:`zeroserve.kubernetes.sks`); the gateway, the cluster's ingress, sending a revision's requests
to the addresses of its public Endpoints (:class:`~zeroserve.kubernetes.dataplane.GatewayFeed`):
its pods' queue-proxies (serve mode) or the activators the SKS chose for it (proxy mode; the
``activator`` Deployment, :mod:`zeroserve.cli.kubeactivator`, holds requests while the revision
scales from zero, reports them at once, and balances by free capacity).

The admission webhook (:mod:`zeroserve.kubernetes.webhook`) defaults and validates what users write
through the API server, as Knative's webhook does.

Pods are reached by their IPs, never by cluster DNS (a hand-built cluster has none): this process
must run where pod IPs route (in the cluster, or on a node).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry

from zeroserve.api import labels
from zeroserve.api.kinds import ROUTE
from zeroserve.autoscaler.collector import Collector
from zeroserve.autoscaler.multiscaler import Multiscaler
from zeroserve.autoscaler.prometheus import KnativeScaling
from zeroserve.autoscaler.scraper import HttpStatsClient, Scraper
from zeroserve.autoscaler.statserver import StatServer
from zeroserve.cli.wiring import RuntimeEndpoints
from zeroserve.clock import SystemClock
from zeroserve.controller.recorder import EventRecorder
from zeroserve.controller.runner import Controller
from zeroserve.gateway.server import Gateway
from zeroserve.kubernetes.apiclient import Connection, KubeApi
from zeroserve.kubernetes.controller import WATCHED, ClusterConfig, check_cluster
from zeroserve.kubernetes.dataplane import GatewayFeed
from zeroserve.kubernetes.hpa import ClusterHPAReconciler
from zeroserve.kubernetes.kinds import POD
from zeroserve.kubernetes.leaderelection import LeaderElector, Timing
from zeroserve.kubernetes.manifests import LOCAL_GATEWAY_SERVICE, METRICS_PORT, STATS_PORT, WEBHOOK_PORT
from zeroserve.kubernetes.manifests import NAMESPACE as SYSTEM_NAMESPACE
from zeroserve.kubernetes.runtime import KubernetesRuntime
from zeroserve.kubernetes.sks import ClusterSKSReconciler
from zeroserve.kubernetes.store import KubernetesStore
from zeroserve.kubernetes.webhook import Webhook
from zeroserve.net.proxy import install_uvloop
from zeroserve.observability.listener import MetricsListener
from zeroserve.observability.metrics import AutoscalerMetrics, MeterRegistry
from zeroserve.observability.prometheus import KnativeCollector

log = logging.getLogger(__name__)

ROUTES_LOAD_TIMEOUT = 30.0


@dataclass(frozen=True)
class Settings:
    queue_image: str
    """The image revisions' pods run as their queue-proxy (zeroserve's own)."""
    namespace: str = SYSTEM_NAMESPACE
    gateway: tuple[str, int] = ("0.0.0.0", 8080)
    """The external listener (the ``gateway`` Service's target)."""
    internal: tuple[str, int] = ("0.0.0.0", 8081)
    """The cluster-local listener."""
    webhook: tuple[str, int] | None = ("0.0.0.0", WEBHOOK_PORT)
    """The admission webhook's listener (None: no webhook; the configurations are not touched)."""
    webhook_url: str = ""
    """The URL the API server calls the webhook at ("" for the ``webhook`` Service: in the cluster)."""
    stats: tuple[str, int] | None = ("0.0.0.0", STATS_PORT)
    """Where the stat server listens for the activators' reports (the ``autoscaler`` Service's target)."""
    metrics: tuple[str, int] | None = ("0.0.0.0", METRICS_PORT)
    """Where ``/metrics`` (Prometheus: Knative's ``kn.*`` and zeroserve's autoscaler series) listens."""
    identity: str = ""
    """This replica's name in the leader election's Lease ("": the pod's name, else the host's)."""
    timing: Timing = field(default_factory=Timing)


def cancel_on_signals() -> None:
    """SIGINT and SIGTERM cancel the running task (a pod's PID 1 gets no default SIGTERM action)."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)


def run(conn: Connection, settings: Settings) -> int:
    """Serve until SIGINT or SIGTERM (a pod's PID 1 gets no default SIGTERM action: handled here) or
    until leadership is lost; the exit code."""
    install_uvloop()

    async def main() -> int:
        cancel_on_signals()
        lost = asyncio.Event()
        serving = asyncio.create_task(serve(conn, settings, on_lost=lost.set))
        waiting = asyncio.create_task(lost.wait())
        try:
            await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            log.info("zeroserve: stopping")
        for t in (serving, waiting):
            t.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        return 1 if lost.is_set() else 0

    return asyncio.run(main())


async def serve(
    conn: Connection,
    settings: Settings,
    ready: asyncio.Event | None = None,
    on_lost: Callable[[], None] | None = None,
) -> None:
    """Run until cancelled; ``ready`` is set once the gateway listens with every route loaded.
    Only the leader (:mod:`zeroserve.kubernetes.leaderelection`) reconciles, scales and serves; the
    webhook answers on every replica. ``on_lost``: called when leadership is lost (then stop)."""
    clock = SystemClock()
    async with contextlib.AsyncExitStack() as stack:
        api = await stack.enter_async_context(KubeApi(conn))
        await check_cluster(api)
        store = KubernetesStore(api, selectors={POD: labels.REVISION})
        stack.push_async_callback(store.close)
        config = ClusterConfig(store, settings.namespace)
        await config.start()
        stack.push_async_callback(config.close)
        if settings.webhook is not None:
            webhook = Webhook(config.current, settings.namespace)
            host = urlsplit(settings.webhook_url).hostname if settings.webhook_url else None
            await webhook.start(*settings.webhook, clock.wall(), (host,) if host else ())
            stack.push_async_callback(webhook.stop)
            await webhook.register(api, settings.webhook_url)
        identity = settings.identity or os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
        elector = LeaderElector(api, settings.namespace, identity, clock, settings.timing)
        await elector.acquire()
        stack.push_async_callback(elector.release)
        gateway = Gateway(external=settings.gateway, internal=settings.internal)
        gateway.local_host = f"{LOCAL_GATEWAY_SERVICE}.{settings.namespace}.svc.cluster.local"
        gateway.revision_headers = True  # its endpoints may be activators
        external_port, internal_port = await gateway.start(serving=False)
        stack.push_async_callback(gateway.stop, 5.0)

        runtime = KubernetesRuntime(store, config.current, settings.queue_image)
        await runtime.start()
        stack.push_async_callback(runtime.close)
        http_stats = HttpStatsClient()
        stack.push_async_callback(http_stats.close)
        meters = MeterRegistry()
        registry = CollectorRegistry()
        registry.register(KnativeCollector(meters))
        scaling_metrics = AutoscalerMetrics(meters)
        sources = RuntimeEndpoints(runtime)
        multiscaler = Multiscaler(
            Collector(),
            sources,
            clock,
            on_change=lambda key: controller.on_decider_change(key),
            scraper=Scraper(sources, http_stats),
            registry=registry,
            knative=KnativeScaling(scaling_metrics, lambda key: runtime.owners(key.namespace, key.revision)),
        )
        if settings.stats is not None:  # the activators' reports
            await stack.enter_async_context(StatServer(multiscaler.record, *settings.stats))
        if settings.metrics is not None:
            listener = MetricsListener(registry, settings.metrics[1], settings.metrics[0])
            await listener.start()
            stack.push_async_callback(listener.stop)
        sks = ClusterSKSReconciler(store, settings.namespace)
        controller = Controller(
            store,
            runtime,
            config.current,
            ingress=gateway,
            multiscaler=multiscaler,
            kpa_metrics=scaling_metrics,
            watched=WATCHED,
            collect_garbage=False,
            hpa=ClusterHPAReconciler().reconcile,  # the cluster's HPA controller scales HPA-class revisions
            sks=sks.reconcile,  # writes the revisions' Services and Endpoints
            observers=(sks.observe,),
            recorder=EventRecorder(store, clock, sweeps=False),  # kube-apiserver expires events itself
        )
        config.subscribe(lambda _cfg: controller.config_changed())
        async with multiscaler, controller, asyncio.TaskGroup() as tasks:
            feed = GatewayFeed(gateway)
            background = [
                tasks.create_task(feed.run(store), name="gateway-endpoints"),
                tasks.create_task(elector.keep(on_lost or (lambda: None)), name="leader-election"),
            ]
            try:
                async with asyncio.timeout(ROUTES_LOAD_TIMEOUT):
                    await feed.listed.wait()
                    await controller.synced(ROUTE.kind)
            except TimeoutError:
                log.warning("routes not all loaded after %ss; the gateway listens anyway", ROUTES_LOAD_TIMEOUT)
            await gateway.serve()
            log.info(
                "zeroserve on %s: gateway :%d (cluster-local :%d), system namespace %s",
                conn.server,
                external_port,
                internal_port,
                settings.namespace,
            )
            if ready is not None:
                ready.set()
            try:
                await asyncio.Event().wait()
            finally:
                for task in background:
                    task.cancel()
