"""``zeroserve kubernetes activator``'s process: the activator on a cluster (Knative ``cmd/activator``).

The ``activator`` Deployment runs it, as many replicas as the load needs (its HPA scales it on
CPU); each is a pod behind ``activator-service``. A revision's public Endpoints name some of them
(the SKS's subset, :mod:`zeroserve.kubernetes.sks`) while the revision is in proxy mode: the gateway
sends its requests there, marked with ``Knative-Serving-Namespace`` / ``Knative-Serving-Revision``.

Each replica, from the same parts as ``zeroserve up``'s in-process activator:

* knows the revisions (``containerConcurrency``, timeouts, h2c) and their pods by watching the
  API server: Revisions, and the private Services' Endpoints (ready and not-ready addresses: it
  probes them itself); from the public Endpoints, how many activators share each revision and
  which one it is, to take its own slice of the pods (:class:`~zeroserve.kubernetes.dataplane.ActivatorFeed`);
* holds requests until a pod has room (:class:`~zeroserve.activator.throttler.Throttler`);
* reports its per-revision concurrency every second, and at once for a revision's first request,
  to the autoscaler: ``POST /stats`` to the ``autoscaler`` Service's ready address (the leading
  controller's stat server), found in its Endpoints for each report;
* listens on 8012 (HTTP/1.1, and h2c by its preface) and 8013 (h2c revisions), ``/metrics`` on 9090.

Pods and the autoscaler are reached by their IPs, never through cluster DNS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from zeroserve.activator.handler import Activator
from zeroserve.activator.probe import HttpProber
from zeroserve.activator.reporter import ConcurrencyReporter, HttpStatSink
from zeroserve.activator.revisions import RevisionFeed
from zeroserve.activator.throttler import Throttler
from zeroserve.autoscaler.statserver import STATS_PATH
from zeroserve.cli.kubeserve import cancel_on_signals
from zeroserve.kubernetes.apiclient import Connection, KubeApi
from zeroserve.kubernetes.dataplane import ActivatorFeed, serving_addresses
from zeroserve.kubernetes.kinds import ENDPOINTS
from zeroserve.kubernetes.manifests import AUTOSCALER_SERVICE, METRICS_PORT
from zeroserve.kubernetes.manifests import NAMESPACE as SYSTEM_NAMESPACE
from zeroserve.kubernetes.runtime import revision_owners
from zeroserve.kubernetes.store import KubernetesStore
from zeroserve.net.proxy import ProxyServer, install_uvloop
from zeroserve.observability.listener import MetricsListener
from zeroserve.observability.metrics import ActivatorMetrics, MeterRegistry
from zeroserve.observability.prometheus import KnativeCollector

log = logging.getLogger(__name__)

LISTEN_TIMEOUT = 30.0
"""Seconds to wait for the first lists of revisions and endpoints before listening anyway."""


@dataclass(frozen=True)
class Settings:
    ip: str
    """This activator's pod IP (``POD_IP``): how it finds itself in a revision's public Endpoints."""
    pod_name: str = "activator"
    """The name its stats carry (``POD_NAME``)."""
    namespace: str = SYSTEM_NAMESPACE
    host: str = "0.0.0.0"
    ports: tuple[int, ...] = (8012, 8013)
    """Where it listens: Knative's activator ports for HTTP/1.1 and h2c (both take either)."""
    metrics: int | None = METRICS_PORT


def stat_url(store: KubernetesStore, namespace: str) -> str | None:
    """The stat server's URL: the ``autoscaler`` Service's first ready address (None: none now)."""
    endpoints = store.cached(ENDPOINTS, namespace, AUTOSCALER_SERVICE)
    ready = serving_addresses(endpoints)[0] if endpoints is not None else []
    return f"http://{ready[0][0]}:{ready[0][1]}{STATS_PATH}" if ready else None


def run(conn: Connection, settings: Settings) -> int:
    """Serve until SIGINT or SIGTERM; the exit code."""
    install_uvloop()

    async def main() -> int:
        cancel_on_signals()
        with contextlib.suppress(asyncio.CancelledError):
            await serve(conn, settings)
        log.info("zeroserve activator: stopped")
        return 0

    return asyncio.run(main())


async def serve(conn: Connection, settings: Settings, ready: asyncio.Future[list[int]] | None = None) -> None:
    """Run until cancelled; ``ready`` gets the ports it listens on, once it does."""
    async with contextlib.AsyncExitStack() as stack:
        api = await stack.enter_async_context(KubeApi(conn))
        store = KubernetesStore(api)
        stack.push_async_callback(store.close)
        prober = await stack.enter_async_context(HttpProber())
        throttler = Throttler(prober)
        stack.push_async_callback(throttler.close)
        meters = MeterRegistry()
        registry = CollectorRegistry()
        registry.register(KnativeCollector(meters))
        metrics = ActivatorMetrics(meters, lambda ns, rev: revision_owners(store, ns, rev))
        sink = HttpStatSink(lambda: stat_url(store, settings.namespace))
        reporter = ConcurrencyReporter(sink, settings.pod_name, metrics=metrics)
        activator = Activator(throttler, reporter, metrics=metrics)
        if settings.metrics is not None:
            listener = MetricsListener(registry, settings.metrics, settings.host)
            await listener.start()
            stack.push_async_callback(listener.stop)
        async with asyncio.TaskGroup() as tasks:
            revisions = RevisionFeed(store, throttler)
            endpoints = ActivatorFeed(throttler, settings.ip)
            background = [
                tasks.create_task(revisions.run(), name="revisions"),
                tasks.create_task(endpoints.run(store), name="endpoints"),
                tasks.create_task(reporter.run(), name="stats"),
                tasks.create_task(sink.run(), name="stats-sink"),
            ]
            try:
                async with asyncio.timeout(LISTEN_TIMEOUT):
                    await revisions.listed.wait()
                    await endpoints.listed.wait()
            except TimeoutError:
                log.warning("revisions and endpoints not listed after %ss; listening anyway", LISTEN_TIMEOUT)
            listening = []
            for port in settings.ports:
                proxy = ProxyServer(activator.route)
                listening.append(await proxy.start(settings.host, port))
                stack.push_async_callback(proxy.stop, 5.0)
            log.info("zeroserve activator %s (%s) on %s", settings.pod_name, settings.ip, listening)
            if ready is not None:
                ready.set_result(listening)
            try:
                await asyncio.Event().wait()
            finally:
                for task in background:
                    task.cancel()
